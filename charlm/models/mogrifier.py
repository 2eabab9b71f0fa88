"""The Mogrifier LSTM (Melis, Kočiský & Blunsom 2020, "Mogrifier LSTM").

Before each LSTM step the input ``x`` and the previous output ``h`` gate each other for ``r`` rounds::

    round 1, 3, 5, ...:  x <- 2 sigmoid(Q_k h) * x        (Q_k: H -> E)
    round 2, 4, 6, ...:  h <- 2 sigmoid(R_k x) * h        (R_k: E -> H)

then an ordinary LSTM step reads the mogrified ``x`` and ``h``. ``Q_k`` and ``R_k`` are full matrices, or
products of two rank-``k`` factors (``--mogrify-rank k``). With 0 rounds the cell is exactly the
hand-written LSTM (same weights, same outputs). Because ``x`` depends on ``h_{t-1}``, the input
projection cannot be done for the whole window at once: each step does its own, which is why the cell
costs about twice a plain LSTM cell per step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from charlm.models.cells import LSTMCell, cell_stack
from charlm.models.config import ModelConfig, State
from charlm.models.stack import LayerStack


def _modulator(source: int, target: int, rank: int) -> nn.Module:
    """A map ``source -> target`` without bias: one matrix, or two rank-``rank`` factors."""
    if rank <= 0 or rank >= min(source, target):
        return nn.Linear(source, target, bias=False)
    return nn.Sequential(nn.Linear(source, rank, bias=False), nn.Linear(rank, target, bias=False))


class MogrifierLSTMCell(LSTMCell):
    """An LSTM cell whose input and previous output modulate each other for ``rounds`` rounds first."""

    def __init__(self, input_size: int, hidden: int, rounds: int = 5, rank: int = 0) -> None:
        super().__init__(input_size, hidden)
        self.rounds = rounds
        self.q = nn.ModuleList(_modulator(hidden, input_size, rank) for _ in range((rounds + 1) // 2))  # h -> x
        self.r = nn.ModuleList(_modulator(input_size, hidden, rank) for _ in range(rounds // 2))  # x -> h

    def mogrify(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """``x (B,E)`` and ``h (B,H)`` after the alternating rounds of mutual gating."""
        for k in range(self.rounds):
            if k % 2 == 0:
                x = 2.0 * torch.sigmoid(self.q[k // 2](h)) * x  # (B,E)
            else:
                h = 2.0 * torch.sigmoid(self.r[k // 2](x)) * h  # (B,H)
        return x, h

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        if self.rounds == 0:
            return super().forward(x, state)  # the plain cell, window projection and all
        h, c = self.zero_state(x) if state is None else state  # (B,H), (B,H)
        outputs = []
        for t in range(x.size(1)):
            xt, h = self.mogrify(x[:, t], h)  # (B,E), (B,H)
            out, (h, c) = self.step(nn.functional.linear(xt, self.weight_ih, self.bias_ih), (h, c))
            outputs.append(out)
        return torch.stack(outputs, dim=1), (h, c)  # (B,T,H)


def lstm_mogrifier(config: ModelConfig, input_size: int) -> LayerStack:
    """A stack of Mogrifier LSTM cells (``--mogrify-rounds``, ``--mogrify-rank``)."""
    return cell_stack(
        config, input_size, lambda i, h: MogrifierLSTMCell(i, h, config.mogrify_rounds, config.mogrify_rank)
    )
