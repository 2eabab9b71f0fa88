"""Hand-written recurrent cells (Elman RNN, LSTM, GRU) and the cell machinery the variants share.

A cell splits its work in two, which is what makes a Python time loop fast enough to be useful:

::

    x (B,T,I) --project: one matmul for the whole window--> xp (B,T,G*H)
    xp[:, t], state --step (recurrent part only)--> h_t (B,H), state     for t = 0..T-1

The weights are named and laid out like torch's (``weight_ih (G*H,I)``, ``weight_hh (G*H,H)``,
``bias_ih``, ``bias_hh``, gate order i,f,g,o for LSTM and r,z,n for GRU), so copying weights from
``nn.RNN/LSTM/GRU`` gives the same outputs (tests check 1e-5). TorchScript was tried on the time
loop and was slower than eager mode on CPU in torch 2.13 (README, "Architectures"), so the loop is plain.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from charlm.models.config import ModelConfig, State
from charlm.models.dropout import between_layers
from charlm.models.stack import LayerStack


class Cell(nn.Module, abc.ABC):
    """Base cell: ``G`` gate blocks of ``hidden`` units; subclasses define ``step`` and the state."""

    gates = 1

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.weight_ih = nn.Parameter(torch.empty(self.gates * hidden, input_size))
        self.weight_hh = nn.Parameter(torch.empty(self.gates * hidden, hidden))
        self.bias_ih = nn.Parameter(torch.empty(self.gates * hidden))
        self.bias_hh = nn.Parameter(torch.empty(self.gates * hidden))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's initialisation: every weight uniform in +-1/sqrt(hidden)."""
        bound = 1.0 / math.sqrt(self.hidden)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def project(self, x: Tensor) -> Tensor:
        """Input-to-hidden pre-activations for the whole window in one matmul."""
        return torch.nn.functional.linear(x, self.weight_ih, self.bias_ih)  # (B,T,G*H)

    def zero_state(self, x: Tensor) -> State:
        return x.new_zeros(x.size(0), self.hidden)  # (B,H)

    @abc.abstractmethod
    def step(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step from the projected input ``xp (B,G*H)``: ``(output (B,H), new state)``."""

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        xp = self.project(x)  # (B,T,G*H)
        state = self.zero_state(x) if state is None else state
        outputs = []
        for t in range(xp.size(1)):
            h, state = self.step(xp[:, t], state)  # (B,H)
            outputs.append(h)
        return torch.stack(outputs, dim=1), state  # (B,T,H)


class RNNCell(Cell):
    """Elman RNN (Elman 1990): ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, act = tanh or relu."""

    def __init__(self, input_size: int, hidden: int, nonlinearity: str = "tanh") -> None:
        super().__init__(input_size, hidden)
        self.act = torch.tanh if nonlinearity == "tanh" else torch.relu

    def step(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        h = self.act(xp + nn.functional.linear(state, self.weight_hh, self.bias_hh))  # (B,H)
        return h, h


class LSTMCell(Cell):
    """LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    ``i,f,g,o = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`` (split in four);
    ``c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)``; ``h_t = sigmoid(o) * tanh(c_t)``. State ``(h, c)``.
    """

    gates = 4

    def zero_state(self, x: Tensor) -> State:
        zeros = x.new_zeros(x.size(0), self.hidden)  # (B,H)
        return zeros, zeros

    def step(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state
        i, f, g, o = (xp + nn.functional.linear(h, self.weight_hh, self.bias_hh)).chunk(4, dim=-1)  # 4 x (B,H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class GRUCell(Cell):
    """GRU (Cho et al. 2014), torch's formulation (the reset gate scales ``W_hn h + b_hn``).

    ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``, ``z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h_t = (1 - z) * n + z * h_{t-1}``.
    """

    gates = 3

    def step(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        xr, xz, xn = xp.chunk(3, dim=-1)  # 3 x (B,H)
        hr, hz, hn = nn.functional.linear(state, self.weight_hh, self.bias_hh).chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = (1.0 - z) * n + z * state
        return h, h


def cell_stack(config: ModelConfig, input_size: int, make_cell: Callable[[int, int], Cell]) -> LayerStack:
    """``config.layers`` cells made by ``make_cell(input_size, hidden)``, unrolled by the shared stack."""
    sizes = [input_size] + [config.hidden] * (config.layers - 1)
    cells = [make_cell(size, config.hidden) for size in sizes]
    return LayerStack(cells, config.hidden, between_layers(config), config.residual)


def rnn_cell(config: ModelConfig, input_size: int) -> LayerStack:
    """Hand-written Elman RNN with tanh."""
    return cell_stack(config, input_size, lambda i, h: RNNCell(i, h, "tanh"))


def rnn_relu_cell(config: ModelConfig, input_size: int) -> LayerStack:
    """Hand-written Elman RNN with ReLU."""
    return cell_stack(config, input_size, lambda i, h: RNNCell(i, h, "relu"))


def lstm_cell(config: ModelConfig, input_size: int) -> LayerStack:
    """Hand-written LSTM."""
    return cell_stack(config, input_size, LSTMCell)


def gru_cell(config: ModelConfig, input_size: int) -> LayerStack:
    """Hand-written GRU."""
    return cell_stack(config, input_size, GRUCell)
