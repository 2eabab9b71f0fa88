"""The stack unroller shared by every per-layer core: deep stacks, dropout between layers, residuals.

::

    x (B,T,E) --layer 0--> y0 (B,T,H) --drop--> layer 1 --> y1 (+ y0 if --residual) --> ... --> (B,T,H)
                 ^   |                               ^   |
        state[0]-+   +-> new state[0]       state[1]-+   +-> new state[1]

A *layer* is an ``nn.Module`` with ``forward(x (B,T,I), state | None) -> (y (B,T,H), state)``; the
hand-written cells (:mod:`charlm.models.cells`) and single-layer fused torch modules both fit.
A residual connection adds a layer's input to its output wherever the widths agree (He et al. 2016;
Wu et al. 2016 use it between the LSTM layers of GNMT).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from charlm.models.config import State


def output_size(core: nn.Module) -> int:
    """The width of a core's outputs (every core sets an ``output_size`` int attribute)."""
    size = core.output_size
    if not isinstance(size, int):
        raise TypeError(f"{type(core).__name__}.output_size must be an int")
    return size


class LayerStack(nn.Module):
    """``layers`` recurrent layers run one after another; the state is a tuple with one entry per layer."""

    def __init__(self, layers: Sequence[nn.Module], hidden: int, between: nn.Module, residual: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.between = between  # dropout (plain or locked) applied to the input of layers 1..L-1
        self.residual = residual
        self.output_size = hidden

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        states = state if state is not None else (None,) * len(self.layers)
        new_states = []
        for index, (layer, layer_state) in enumerate(zip(self.layers, states, strict=True)):
            inp = self.between(x) if index else x  # (B,T,I)
            y, layer_state = layer(inp, layer_state)  # (B,T,H)
            x = x + y if self.residual and x.shape[-1] == y.shape[-1] else y
            new_states.append(layer_state)
        return x, tuple(new_states)


class FusedLayer(nn.Module):
    """One single-layer fused torch RNN/LSTM/GRU as a stack layer (used for ``--residual`` on fused archs)."""

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        return self.rnn(x, state)  # (B,T,H), state
