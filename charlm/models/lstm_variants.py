"""LSTM variants as hand-written cells: peephole connections, coupled input-forget gate, layer norm.

Each is a :class:`charlm.models.cells.LSTMCell` with a different ``step``; the window's input
projections are still one matmul, and the shared stack gives them ``--layers`` and ``--residual``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from charlm.models.cells import LSTMCell, cell_stack
from charlm.models.config import ModelConfig, State
from charlm.models.stack import LayerStack


class PeepholeLSTMCell(LSTMCell):
    """LSTM with peephole connections (Gers & Schmidhuber 2000, "Recurrent nets that time and count").

    The gates also see the cell state through diagonal weights ``p_i, p_f, p_o``:
    ``i = sigmoid(a_i + p_i * c_{t-1})``, ``f = sigmoid(a_f + p_f * c_{t-1})``,
    ``c_t = f * c_{t-1} + i * tanh(a_g)``, ``o = sigmoid(a_o + p_o * c_t)``, ``h_t = o * tanh(c_t)``,
    where ``a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh``.
    """

    def __init__(self, input_size: int, hidden: int) -> None:
        self.peep_init = 1.0 / math.sqrt(hidden)
        super().__init__(input_size, hidden)
        self.peephole = nn.Parameter(torch.empty(3, hidden).uniform_(-self.peep_init, self.peep_init))  # p_i,p_f,p_o

    def step(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state
        a_i, a_f, a_g, a_o = (xp + nn.functional.linear(h, self.weight_hh, self.bias_hh)).chunk(4, dim=-1)
        p_i, p_f, p_o = self.peephole  # 3 x (H,)
        c = torch.sigmoid(a_f + p_f * c) * c + torch.sigmoid(a_i + p_i * c) * torch.tanh(a_g)  # (B,H)
        h = torch.sigmoid(a_o + p_o * c) * torch.tanh(c)
        return h, (h, c)


class CIFGLSTMCell(LSTMCell):
    """LSTM with coupled input and forget gates (CIFG; Greff et al. 2017, "LSTM: A Search Space Odyssey").

    Three gate blocks instead of four; the input gate is ``i = 1 - f``:
    ``f, g, o = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh``; ``c_t = f' * c_{t-1} + (1 - f') * tanh(g)``
    with ``f' = sigmoid(f)``; ``h_t = sigmoid(o) * tanh(c_t)``.
    """

    gates = 3

    def step(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state
        f, g, o = (xp + nn.functional.linear(h, self.weight_hh, self.bias_hh)).chunk(3, dim=-1)  # 3 x (B,H)
        forget = torch.sigmoid(f)
        c = forget * c + (1.0 - forget) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class LayerNormLSTMCell(LSTMCell):
    """LSTM with layer normalisation (Ba, Kiros & Hinton 2016, "Layer Normalization", section 3.1).

    ``a = LN(W_ih x_t) + LN(W_hh h_{t-1}) + b``; ``c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)``;
    ``h_t = sigmoid(o) * tanh(LN(c_t))``. The input branch is normalised for the whole window at once.
    """

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__(input_size, hidden)
        del self.bias_hh  # unused: the recurrent branch's bias is ln_hh's own (and b is bias_ih)
        self.ln_ih = nn.LayerNorm(4 * hidden)
        self.ln_hh = nn.LayerNorm(4 * hidden)
        self.ln_c = nn.LayerNorm(hidden)

    def project(self, x: Tensor) -> Tensor:
        return self.ln_ih(nn.functional.linear(x, self.weight_ih)) + self.bias_ih  # (B,T,4H)

    def step(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state
        i, f, g, o = (xp + self.ln_hh(nn.functional.linear(h, self.weight_hh))).chunk(4, dim=-1)  # 4 x (B,H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(self.ln_c(c))
        return h, (h, c)


def lstm_peephole(config: ModelConfig, input_size: int) -> LayerStack:
    """Peephole LSTM stack."""
    return cell_stack(config, input_size, PeepholeLSTMCell)


def lstm_cifg(config: ModelConfig, input_size: int) -> LayerStack:
    """Coupled input-forget gate LSTM stack."""
    return cell_stack(config, input_size, CIFGLSTMCell)


def lstm_layernorm(config: ModelConfig, input_size: int) -> LayerStack:
    """Layer-normalised LSTM stack."""
    return cell_stack(config, input_size, LayerNormLSTMCell)
