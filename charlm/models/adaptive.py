"""The adaptive softmax head (Grave et al. 2017, "Efficient softmax approximation for GPUs").

Cheap to train, exact to read. The vocabulary is cut into a frequent shortlist and rarer tails
(:mod:`charlm.models.softmax`); the head's softmax runs over the shortlist plus one entry per tail,
and a tail's own softmax gives the word within it::

    log p(w) = log p_head(w)                          w in the shortlist
    log p(w) = log p_head(tail i) + log p_i(w)        w in tail i

:meth:`AdaptiveHead.loss` (training) computes a tail only for the tokens that fall in it, so a step
costs the shortlist's matmul plus small pieces. :meth:`AdaptiveHead.log_prob` assembles the whole
``(.., V)`` log-distribution from the clusters: it sums to 1 and is what every reader of the model
(scores, eval, cache, dynamic evaluation, sampling, beam, export) gets as its logits. Nothing is
approximated: the factorised distribution *is* the model.

Tied weights (``--tie-weights``): every word's output vector is its input embedding row. The
shortlist reads ``embed[:c0]`` directly; tail ``i`` reads ``embed[c_i:c_i+1]`` through its own
``D x D`` projection (initialised to the identity). Untied, tail ``i`` projects to ``D / 4^(i+1)``
dimensions first (the paper's capacity reduction for rare words).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DIV = 4  # untied tails: tail i works in D / DIV**(i+1) dimensions


class _Tail(nn.Module):
    """One tail cluster: ``D -> d`` projection, then ``d -> size`` logits (tied: the embedding's rows)."""

    def __init__(self, dim: int, reduced: int, size: int, tied: bool) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, reduced, bias=False)
        self.weight = (
            None if tied else nn.Parameter(torch.empty(size, reduced).uniform_(-(reduced**-0.5), reduced**-0.5))
        )
        self.bias = nn.Parameter(torch.zeros(size))
        if tied:
            with torch.no_grad():
                self.proj.weight.copy_(torch.eye(dim))

    def logits(self, y: Tensor, rows: Tensor | None) -> Tensor:
        """``y (N,D)`` -> ``(N, size)``; ``rows (size, D)``: the tied embedding rows of this tail."""
        weight = self.weight if self.weight is not None else rows
        assert weight is not None
        return F.linear(self.proj(y), weight, self.bias)


class AdaptiveHead(nn.Module):
    """``(N.., D)`` features -> the exact log-distribution over ``vocab`` words, or the training loss."""

    edges: Tensor  # (tails,) the cutoffs, for bucketize (a buffer, not saved: the config holds them)

    def __init__(self, dim: int, vocab: int, cutoffs: Sequence[int], tied: bool = False) -> None:
        super().__init__()
        self.bounds = (*cutoffs, vocab)  # tail i holds ids [bounds[i], bounds[i+1])
        self.shortlist, self.vocab, self.tied = cutoffs[0], vocab, tied
        tails = len(cutoffs)
        scale = dim**-0.5
        self.short = None if tied else nn.Parameter(torch.empty(self.shortlist, dim).uniform_(-scale, scale))
        self.cluster = nn.Parameter(torch.empty(tails, dim).uniform_(-scale, scale))  # one row per tail
        self.bias = nn.Parameter(torch.zeros(self.shortlist + tails))
        self.tails = nn.ModuleList(
            _Tail(dim, dim if tied else max(1, dim // DIV ** (i + 1)), self.bounds[i + 1] - self.bounds[i], tied)
            for i in range(tails)
        )
        self.register_buffer("edges", torch.tensor(list(cutoffs)), persistent=False)

    def _tails(self) -> list[_Tail]:
        return [cast(_Tail, tail) for tail in self.tails]

    def _rows(self, shared: Tensor | None, i: int) -> Tensor | None:
        """Tail ``i``'s tied embedding rows, or None (untied)."""
        return None if shared is None else shared[self.bounds[i] : self.bounds[i + 1]]

    def _head(self, y: Tensor, shared: Tensor | None) -> Tensor:
        """Head log-probabilities ``(N, c0 + tails)``: the shortlist words, then one entry per tail."""
        short = self.short if self.short is not None else shared
        assert short is not None, "a tied adaptive head needs the embedding"
        weight = torch.cat([short[: self.shortlist], self.cluster])  # (c0 + tails, D)
        return F.log_softmax(F.linear(y, weight, self.bias).float(), -1)

    def log_prob(self, y: Tensor, shared: Tensor | None = None) -> Tensor:
        """``y (.., D)`` -> ``(.., V)`` float32 log-probabilities over the whole vocabulary (each row sums to 1)."""
        flat = y.reshape(-1, y.size(-1))  # (N,D)
        head = self._head(flat, shared)  # (N, c0 + tails)
        parts = [head[:, : self.shortlist]]
        for i, tail in enumerate(self._tails()):
            gate = head[:, self.shortlist + i, None]  # (N,1) log p(tail i)
            parts.append(F.log_softmax(tail.logits(flat, self._rows(shared, i)).float(), -1) + gate)
        return torch.cat(parts, -1).reshape(*y.shape[:-1], self.vocab)  # (.., V)

    def loss(self, y: Tensor, targets: Tensor, shared: Tensor | None = None) -> Tensor:
        """Mean nats of ``targets (..)`` under ``y (.., D)``, each tail computed only for its own tokens."""
        flat, t = y.reshape(-1, y.size(-1)), targets.reshape(-1)  # (N,D), (N,)
        head = self._head(flat, shared)  # (N, c0 + tails)
        cluster = torch.bucketize(t, self.edges, right=True)  # (N,) 0 = shortlist, i + 1 = tail i
        logp = head.gather(1, torch.where(cluster == 0, t, self.shortlist + cluster - 1)[:, None])[:, 0]  # (N,)
        for i, tail in enumerate(self._tails()):
            rows = (cluster == i + 1).nonzero()[:, 0]  # (n_i,)
            if rows.numel() == 0:
                continue
            inner = F.log_softmax(tail.logits(flat[rows], self._rows(shared, i)).float(), -1)  # (n_i, size_i)
            logp = logp.index_add(0, rows, inner.gather(1, (t[rows] - self.bounds[i])[:, None])[:, 0])
        return -logp.mean()
