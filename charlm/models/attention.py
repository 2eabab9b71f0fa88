"""Attention over the recent history of hidden states (Daniluk, Rocktäschel, Welbl & Riedel 2017,
"Frustratingly Short Attention Spans in Neural Language Modeling").

Wraps any core: at step t the core's output ``h_t`` attends over a memory of its last K outputs
and itself (scaled dot product with learned query and key maps), and the model reads
``h*_t = tanh(W [h_t; r_t] + b)`` where ``r_t`` is the attention-weighted sum::

    memory (B,K,H) | window outputs (B,T,H)        query t sees positions t .. t+K of the joined axis
    [ y_-K ... y_-1 | y_0 y_1 ... y_T-1 ]            (its K predecessors and itself)

The memory and a validity mask travel in the state ``(inner, memory (B,K,H), valid (B,K))``, so TBPTT
windows see the same history as one long run (the gradient stops at the window edge, as usual).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from charlm.models.config import State
from charlm.models.stack import output_size


class HistoryAttention(nn.Module):
    """``core`` followed by attention over its last ``window`` outputs."""

    def __init__(self, core: nn.Module, window: int) -> None:
        super().__init__()
        self.inner = core
        self.window = window
        hidden = output_size(core)
        self.query = nn.Linear(hidden, hidden, bias=False)
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.output_size = hidden

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        inner_state, memory, valid = state if state is not None else (None, None, None)
        y, inner_state = self.inner(x, inner_state)  # (B,T,H)
        batch, steps, hidden = y.shape
        if memory is None:
            memory = y.new_zeros(batch, self.window, hidden)  # (B,K,H)
            valid = y.new_zeros(batch, self.window)  # (B,K)
        assert valid is not None  # the memory and its mask travel together
        joined = torch.cat([memory, y], dim=1)  # (B,K+T,H)
        joined_valid = torch.cat([valid, y.new_ones(batch, steps)], dim=1)  # (B,K+T)
        scores = self.query(y) @ self.key(joined).transpose(1, 2) / math.sqrt(hidden)  # (B,T,K+T)
        pos = torch.arange(self.window + steps, device=y.device)  # (K+T,)
        t = torch.arange(steps, device=y.device)[:, None]  # (T,1)
        band = (pos[None, :] >= t) & (pos[None, :] <= t + self.window)  # (T,K+T): predecessors and itself
        allowed = band[None] & joined_valid[:, None, :].bool()  # (B,T,K+T)
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)  # (B,T,K+T)
        read = weights @ joined  # (B,T,H)
        out = torch.tanh(self.combine(torch.cat([y, read], dim=-1)))  # (B,T,H)
        return out, (inner_state, joined[:, -self.window :], joined_valid[:, -self.window :])
