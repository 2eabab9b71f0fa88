"""The continuous (neural) cache at evaluation time (Grave, Joulin & Usunier 2017, "Improving
neural language models with a continuous cache"), the one AWD-LSTM's pointer.py made famous.

Not to be confused with :mod:`charlm.training.corpus_cache` (token ids kept on disk). Each stream keeps its
last ``size`` pairs ``(h_i, x_{i+1})``: the vector the head read at step i and the token that
followed. At step t the cache's distribution and the final one are::

    p_cache(w | h_t) = sum_{i in cache, x_{i+1} = w} exp(theta h_t . h_i) / sum_{i in cache} exp(theta h_t . h_i)
    p(w) = (1 - lambda) p_model(w) + lambda p_cache(w)          (p_model alone while the cache is empty)

``h`` is :meth:`LanguageModel.features`: the top layer's output after dropout and, with tied
weights and ``hidden != embed``, after the projection -- the vector the softmax reads (as in
pointer.py, whose last layer has the embedding width). Only the target's probability is needed, so
p_cache(target) is a masked sum of attention weights; nothing of vocabulary size is built::

    memory (R,N,D) | window (R,W,D)          query t sees joined positions t .. N+t-1
    [ h_-N ... h_-1 | h_0 h_1 ... h_W-1 ]     (its N predecessors; the current step is not in the cache)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from charlm.errors import BadOption
from charlm.models.base import LanguageModel
from charlm.models.scoring import target_logprobs
from charlm.options import check_all
from charlm.runtime import autocast

CACHE_SIZE, CACHE_THETA, CACHE_LAMBDA = 2000, 0.3, 0.1  # defaults: see the README's measurements
QUERY_BLOCK_FLOATS = 1 << 24  # score entries computed at once (64 MiB of float32)


@dataclass(frozen=True)
class CacheConfig:
    """The cache's settings: ``size`` pairs per stream, ``theta`` (sharpness), ``lam`` (mixing weight)."""

    size: int = CACHE_SIZE
    theta: float = CACHE_THETA
    lam: float = CACHE_LAMBDA

    def __post_init__(self) -> None:
        # lambda stays below 1: at 1 every token missing from the cache would get probability 0
        check_all("eval", {"cache": self.size, "cache_theta": self.theta, "cache_lambda": self.lam})

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "theta": self.theta, "lambda": self.lam}


def cache_config(size: int | None, theta: float | None, lam: float | None) -> CacheConfig | None:
    """The settings ``--cache``/``--cache-theta``/``--cache-lambda`` ask for (``None``: no cache); tuning
    the cache without a size is refused."""
    if size is None:
        if theta is not None or lam is not None:
            raise BadOption("--cache-theta and --cache-lambda tune the cache; add --cache N")
        return None
    return CacheConfig(size, CACHE_THETA if theta is None else theta, CACHE_LAMBDA if lam is None else lam)


def cache_probs(
    queries: Tensor, keys: Tensor, values: Tensor, allowed: Tensor, targets: Tensor, theta: float
) -> tuple[Tensor, Tensor]:
    """(p_cache(target) (R,T), any entry allowed (R,T)) for ``queries (R,T,D)`` over ``keys (R,M,D)``.

    ``values (R,M)`` are the tokens that followed each key, ``allowed (R,T,M)`` which keys a query
    may read and ``targets (R,T)`` the tokens whose probability is wanted.
    """
    scores = theta * (queries @ keys.transpose(1, 2))  # (R,T,M)
    scores = scores.masked_fill(~allowed, float("-inf"))
    some = allowed.any(dim=-1)  # (R,T)
    weights = torch.where(some[..., None], scores.softmax(dim=-1), 0.0)  # (R,T,M); an empty cache reads nothing
    hits = values[:, None, :] == targets[:, :, None]  # (R,T,M)
    return (weights * hits).sum(dim=-1), some  # (R,T)


class NeuralCache:
    """The per-row cache of a streamed evaluation: call :meth:`logprobs` window after window."""

    def __init__(self, config: CacheConfig) -> None:
        self.config = config
        self.keys: Tensor | None = None  # (R,N,D)
        self.values: Tensor | None = None  # (R,N)
        self.valid: Tensor | None = None  # (R,N)

    def _memory(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self.keys is None:
            rows, n = h.shape[0], self.config.size
            self.keys = h.new_zeros(rows, n, h.shape[-1])  # (R,N,D)
            self.values = torch.zeros(rows, n, dtype=torch.long, device=h.device)  # (R,N)
            self.valid = torch.zeros(rows, n, dtype=torch.bool, device=h.device)  # (R,N)
        assert self.values is not None and self.valid is not None  # created together with the keys
        return self.keys, self.values, self.valid

    def mix(self, h: Tensor, model_logp: Tensor, targets: Tensor) -> Tensor:
        """log p of ``targets (R,W)`` under the mixture, given ``h (R,W,D)`` and log p_model ``(R,W)``.

        Then the window's pairs join the cache. Padding after a row's end sits after all of that
        row's real positions, so it only ever reaches padded queries (which the caller masks out).
        """
        keys, values, valid = self._memory(h)
        n, steps = self.config.size, h.shape[1]
        joined = torch.cat([keys, h], dim=1)  # (R,N+W,D)
        joined_values = torch.cat([values, targets], dim=1)  # (R,N+W)
        joined_valid = torch.cat([valid, torch.ones_like(targets, dtype=torch.bool)], dim=1)  # (R,N+W)
        pos = torch.arange(n + steps, device=h.device)  # (N+W,)
        t = torch.arange(steps, device=h.device)[:, None]  # (W,1)
        band = (pos[None, :] >= t) & (pos[None, :] < n + t)  # (W,N+W): the N steps before t
        block = max(1, QUERY_BLOCK_FLOATS // max(h.shape[0] * (n + steps), 1))
        p_cache, some = [], []
        for a in range(0, steps, block):
            allowed = band[None, a : a + block] & joined_valid[:, None, :]  # (R,b,N+W)
            p, s = cache_probs(
                h[:, a : a + block], joined, joined_values, allowed, targets[:, a : a + block], self.config.theta
            )
            p_cache.append(p)
            some.append(s)
        self.keys, self.values, self.valid = joined[:, -n:], joined_values[:, -n:], joined_valid[:, -n:]
        return mixture(model_logp, torch.cat(p_cache, dim=1), torch.cat(some, dim=1), self.config.lam)


def mixture(model_logp: Tensor, p_cache: Tensor, some: Tensor, lam: float) -> Tensor:
    """log((1 - lam) p_model + lam p_cache) where the cache had entries, else log p_model (all (R,W)).

    In log space, so ``lam = 0`` gives log p_model bit for bit: logaddexp(x + 0, -inf) = x.
    """
    mixed = torch.logaddexp(model_logp + _log(1 - lam), torch.log(p_cache) + _log(lam))  # (R,W)
    return torch.where(some, mixed, model_logp)


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def cached_logprobs(
    model: LanguageModel,
    inputs: Tensor,
    targets: Tensor,
    precision: str,
    state: Any,
    cache: NeuralCache,
    adjust: Callable[[Tensor], Tensor] | None = None,
) -> tuple[Tensor, Any]:
    """:func:`charlm.score.token_logprobs` with the cache mixed in: (R,W) float32 on the CPU, new state.

    ``adjust`` maps the model's log-probabilities before the cache mixes in (an n-gram mixture).
    """
    device = model.device
    targets = targets.to(device)
    with autocast(device, precision):
        h, state = model.features(inputs.to(device), state)  # (R,W,D)
        logits = model.logits_from(h)  # (R,W,V)
    model_logp = target_logprobs(logits, targets)  # (R,W)
    if adjust is not None:
        model_logp = adjust(model_logp.cpu()).to(device=h.device, dtype=torch.float32)  # (R,W)
    return cache.mix(h.float(), model_logp, targets).cpu(), state
