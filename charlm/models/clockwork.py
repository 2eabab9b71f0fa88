"""The Clockwork RNN (Koutník, Greff, Gomez & Schmidhuber 2014, "A Clockwork RNN").

The hidden layer is split into ``g`` modules with periods ``T_k = 2^k`` (1, 2, 4, 8, ...). At step
``t`` only the modules with ``t mod T_k == 0`` update; the others keep their value. Module ``k`` reads
from itself and the slower modules only (a block upper-triangular ``W_hh``), so slow modules carry
long-range context and fast ones follow the input::

    h_t^k = tanh(W_ih^k x_t + b_ih^k + sum_{j >= k} W_hh^{kj} h_{t-1}^j + b_hh^k)   if t mod T_k == 0
    h_t^k = h_{t-1}^k                                                         otherwise

The step counter ``t`` travels in the state ``(h (B,H), t (B,))`` so that a text cut into TBPTT
windows sees the same clock as one run over the whole text. This implementation computes every
module at every step and masks the update (simple and batch-friendly; it does not get the paper's
speed-up from skipping idle modules).
"""

from __future__ import annotations

import torch
from torch import Tensor

from charlm.models.cells import Cell, cell_stack
from charlm.models.config import ModelConfig, State
from charlm.models.stack import LayerStack


class ClockworkCell(Cell):
    """Clockwork RNN cell with ``modules`` modules of (nearly) equal size and periods 1, 2, 4, ..."""

    period: Tensor  # (H,) buffer
    mask: Tensor  # (H,H) buffer

    def __init__(self, input_size: int, hidden: int, modules: int = 4) -> None:
        super().__init__(input_size, hidden)
        modules = max(1, min(modules, hidden))
        module_of = torch.arange(hidden) * modules // hidden  # (H,) which module each unit belongs to
        self.register_buffer("period", (2**module_of).long(), persistent=False)  # (H,)
        # unit u (row) may read unit v (column) when v's module is at least as slow as u's
        self.register_buffer("mask", (module_of[None, :] >= module_of[:, None]).float(), persistent=False)  # (H,H)

    def zero_state(self, x: Tensor) -> State:
        return x.new_zeros(x.size(0), self.hidden), torch.zeros(x.size(0), dtype=torch.long, device=x.device)

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        self._w_hh = self.weight_hh * self.mask  # (H,H), masked once per window, not per step
        return super().forward(x, state)

    def step(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        h, t = state  # (B,H), (B,)
        candidate = torch.tanh(xp + torch.nn.functional.linear(h, self._w_hh, self.bias_hh))  # (B,H)
        active = (t[:, None] % self.period[None, :]) == 0  # (B,H)
        h = torch.where(active, candidate, h)
        return h, (h, t + 1)


def clockwork(config: ModelConfig, input_size: int) -> LayerStack:
    """Clockwork RNN stack; ``config.clock_modules`` modules per layer."""
    return cell_stack(config, input_size, lambda i, h: ClockworkCell(i, h, config.clock_modules))
