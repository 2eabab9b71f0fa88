"""minGRU and minLSTM (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We Needed?").

Their gates read only the input, so a layer is a linear recurrence ``h_t = a_t * h_{t-1} + b_t`` with
``a_t, b_t`` computed for the whole window at once, and the window is solved by a parallel scan in
log space (Heinsen 2023) instead of a loop over time::

    minGRU:  z = sigmoid(k_z),  a = 1 - z,            b = z * g(k_h)
    minLSTM: f, i = sigmoid(k_f), sigmoid(k_i);  a = f / (f + i),  b = i / (f + i) * g(k_h)
    g(v) = v + 0.5 for v >= 0, sigmoid(v) below (positive, so log h is defined)

    log h_t = A_t + logcumsumexp_t([log h_0, log b_1 - A_1, ..., log b_t - A_t]),  A_t = sum_{s<=t} log a_s

A window of one token (sampling, streaming) takes the step ``h = a * h + b`` directly; the two agree
to float precision, and a window continued from the carried ``h`` equals one long window.
Layers are stacked in pre-norm residual blocks, as in the paper's language models::

    x (B,T,E) -> [E->H] -> { x + minRNN(LN(x));  x + MLP(LN(x)) } x layers -> LN -> (B,T,H)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from charlm.models.config import ModelConfig, State


def _g(v: Tensor) -> Tensor:
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def _log_g(v: Tensor) -> Tensor:
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None) -> Tensor:
    """``h_t = a_t h_{t-1} + b_t`` for every t from logs ``(B,T,H)``; ``h0 (B,H) >= 0`` or None (zeros)."""
    a_star = torch.cumsum(log_a, dim=1)  # (B,T,H)
    terms = log_b - a_star  # (B,T,H)
    if h0 is not None:
        terms = torch.cat([torch.log(h0).unsqueeze(1), terms], dim=1)  # (B,T+1,H)
        return torch.exp(a_star + torch.logcumsumexp(terms, dim=1)[:, 1:])
    return torch.exp(a_star + torch.logcumsumexp(terms, dim=1))  # (B,T,H)


class MinRNN(nn.Module):
    """One minGRU (``kind="gru"``) or minLSTM (``kind="lstm"``) layer of ``hidden`` units; state ``h (B,H)``."""

    def __init__(self, input_size: int, hidden: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.gates = nn.Linear(input_size, (2 if kind == "gru" else 3) * hidden)

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``log a, log b`` of the recurrence for every step of ``x (B,T,I)``: 2 x (B,T,H), at least float32.

        Never in bf16/fp16, also under autocast: the scan sums ``log a`` over the window and exponentiates
        differences of large sums, and bf16's 8-bit mantissa turns those into noise (training stalls).
        """
        k = self.gates(x)  # (B,T,G*H)
        k = k.float() if k.dtype in (torch.bfloat16, torch.float16) else k
        if self.kind == "gru":
            k_z, k_h = k.chunk(2, dim=-1)
            return -F.softplus(k_z), -F.softplus(-k_z) + _log_g(k_h)
        k_f, k_i, k_h = k.chunk(3, dim=-1)
        diff = F.softplus(-k_f) - F.softplus(-k_i)  # log(i / f)
        return -F.softplus(diff), -F.softplus(-diff) + _log_g(k_h)

    def step(self, x: Tensor, h: Tensor | None) -> Tensor:
        """One token ``x (B,I)`` in linear space: ``a * h + b`` (B,H)."""
        log_a, log_b = self.coefficients(x)
        b = torch.exp(log_b)
        return b if h is None else torch.exp(log_a) * h + b

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        if x.size(1) == 1:
            h = self.step(x[:, 0], state)  # (B,H)
            return h.unsqueeze(1), h
        log_a, log_b = self.coefficients(x)  # (B,T,H)
        y = scan(log_a, log_b, state)  # (B,T,H)
        return y, y[:, -1]


class MinBlock(nn.Module):
    """Pre-norm residual block: ``x + minRNN(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, hidden: int, kind: str, dropout: float) -> None:
        super().__init__()
        self.norm_rnn, self.norm_mlp = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.rnn = MinRNN(hidden, hidden, kind)
        self.mlp = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        y, state = self.rnn(self.norm_rnn(x), state)  # (B,T,H)
        x = x + self.drop(y)
        return x + self.drop(self.mlp(self.norm_mlp(x))), state


class MinCore(nn.Module):
    """``layers`` blocks over an input projection; the state is one ``h (B,H)`` per layer."""

    def __init__(self, config: ModelConfig, input_size: int, kind: str) -> None:
        super().__init__()
        self.proj = nn.Linear(input_size, config.hidden) if input_size != config.hidden else nn.Identity()
        self.blocks = nn.ModuleList(MinBlock(config.hidden, kind, config.dropout) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.hidden)
        self.output_size = config.hidden

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        states = state if state is not None else (None,) * len(self.blocks)
        x = self.proj(x)  # (B,T,H)
        new_states = []
        for block, block_state in zip(self.blocks, states, strict=True):
            x, block_state = block(x, block_state)
            new_states.append(block_state)
        return self.norm(x), tuple(new_states)


def mingru(config: ModelConfig, input_size: int) -> MinCore:
    """minGRU blocks trained with a parallel scan."""
    return MinCore(config, input_size, "gru")


def minlstm(config: ModelConfig, input_size: int) -> MinCore:
    """minLSTM blocks trained with a parallel scan."""
    return MinCore(config, input_size, "lstm")
