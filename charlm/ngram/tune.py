"""Tuning the mixing weight of a network and an n-gram on held-out token ids.

``p = (1 - lam) p_network + lam p_ngram`` per token. The weight maximising held-out likelihood is
found by EM (the mixture's posterior of the n-gram, averaged, is the next ``lam``; each step cannot
lower the likelihood). Three shapes: one fixed ``lam``; one ``lam`` per matched context length
(0..N-1: how much history the n-gram recognised); and the gate, one ``lam`` per context *class*
(:func:`charlm.ngram.model.context_class`: the matched length and how sure the n-gram is of that
context, from its back-off weight, i.e. its counts). Each is a function of the context only, so
the mixture still sums to 1 over the vocabulary.

The held-out text is scored the two ways it will be used: *lines* (each line from a fresh state,
conditioned on ``<eos>``, its ``<eos>`` counted: ``charlm score``) and *stream* (``rows`` parallel
rows, state carried: ``charlm eval``). The network's log-probabilities are computed here with the
bare module (this package sits below :mod:`charlm.eval`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from charlm.models.base import LanguageModel
from charlm.models.scoring import padded_lines, token_logprobs
from charlm.ngram.model import CLASSES, NgramModel

MAX_TUNE_TOKENS = 50_000  # held-out tokens scored for tuning, each way
EM_STEPS = 200


@dataclass(frozen=True)
class Held:
    """Aligned per-token values of one held-out scoring: ln p_network, ln p_ngram, context class."""

    net: np.ndarray
    ngram: np.ndarray
    context: np.ndarray  # the context's class (matched length * CLASSES + confidence)

    def lengths(self) -> Held:
        """The same tokens with the matched context length in place of the class."""
        return replace(self, context=self.context // CLASSES)


def _net_logprobs(model: LanguageModel, inputs: torch.Tensor, targets: torch.Tensor, state: object = None) -> tuple:
    logp, state = token_logprobs(model, inputs, targets, "fp32", state)  # (B,T) the one scoring kernel
    return logp.double().numpy(), state


@torch.inference_mode()
def held_lines(model: LanguageModel, ngram: NgramModel, ids: np.ndarray, eos: int, batch: int = 64) -> Held:
    """Each line of ``ids`` (cut at ``<eos>``) scored as a sentence by both models."""
    ids = np.asarray(ids[:MAX_TUNE_TOKENS], dtype=np.int64)
    cuts = np.flatnonzero(ids == eos) + 1
    lines = [line for line in np.split(ids, cuts) if line.size]  # each ends with its <eos> (the last maybe not)
    lines = sorted((line if line[-1] == eos else np.append(line, eos) for line in lines), key=len)  # less padding
    model.eval()
    nets, grams, contexts = [], [], []
    for start in range(0, len(lines), batch):
        group = lines[start : start + batch]
        inputs, targets, _ = padded_lines(group, eos)  # (B,T)
        logp, _ = _net_logprobs(model, inputs, targets)
        for r, line in enumerate(group):
            seq = np.concatenate([[eos], line])
            lp, ctx = ngram.logprobs(seq, np.zeros(seq.size, dtype=np.int64), CLASSES)
            nets.append(logp[r, : line.size])
            grams.append(lp[1:])
            contexts.append(ctx[1:])
    return Held(np.concatenate(nets), np.concatenate(grams), np.concatenate(contexts))


@torch.inference_mode()
def held_stream(
    model: LanguageModel, ngram: NgramModel, ids: np.ndarray, eos: int, rows: int = 16, window: int = 256
) -> Held:
    """``ids`` cut into ``rows`` rows, each scored as a stream from ``<eos>`` (state carried) by both models."""
    ids = np.asarray(ids[:MAX_TUNE_TOKENS], dtype=np.int64)
    rows = max(1, min(rows, ids.size // max(window, 1)))
    length = ids.size // rows
    data = ids[: rows * length].reshape(rows, length)  # (R,L)
    model.eval()
    state, nets = None, []
    for a in range(0, length, window):
        targets = torch.from_numpy(data[:, a : a + window].copy())  # (R,W)
        before = data[:, a - 1 : a] if a else np.full((rows, 1), eos)
        inputs = torch.cat([torch.from_numpy(before.copy()), targets[:, :-1]], 1)  # (R,W)
        logp, state = _net_logprobs(model, inputs, targets, state)
        nets.append(logp)
    grams, contexts = [], []
    for r in range(rows):
        seq = np.concatenate([[eos], data[r]])
        lp, ctx = ngram.logprobs(seq, np.zeros(seq.size, dtype=np.int64), CLASSES)
        grams.append(lp[1:])
        contexts.append(ctx[1:])
    return Held(np.concatenate(nets, 1).reshape(-1), np.concatenate(grams), np.concatenate(contexts))


def weights(held: Held, lam: np.ndarray | float) -> np.ndarray:
    """The weight of every token: ``lam`` a number, or one per matched context length."""
    w = np.asarray(lam, dtype=np.float64)
    return w[np.minimum(held.context, w.size - 1)] if w.ndim else np.full(held.net.shape, float(w))


def mix_logprobs(net: np.ndarray, ngram: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ln((1 - w) p_net + w p_ngram), elementwise from log-probabilities (``w = 0`` gives ``net`` exactly)."""
    with np.errstate(divide="ignore"):
        return np.where(w > 0, np.logaddexp(net + np.log1p(-w), ngram + np.log(w)), net)


def mixed(held: Held, lam: np.ndarray | float) -> np.ndarray:
    """ln p of every held-out token under the mixture with weight ``lam``."""
    return mix_logprobs(held.net, held.ngram, weights(held, lam))


def fit(held: Held, buckets: int | None = None, start: float | np.ndarray = 0.5) -> np.ndarray:
    """EM for the weight: one value (``buckets`` None) or one per context group 0..buckets-1.

    A group no held-out token has keeps its ``start`` (a number, or one per group).
    """
    groups = np.minimum(held.context, buckets - 1) if buckets else np.zeros(held.net.shape, dtype=np.int64)
    size = buckets or 1
    lam = np.full(size, 0.5)
    seen = np.bincount(groups, minlength=size)
    for _ in range(EM_STEPS):
        w = lam[groups]
        post = np.exp(held.ngram + np.log(w) - mix_logprobs(held.net, held.ngram, w))
        new = np.bincount(groups, weights=post, minlength=size) / np.maximum(seen, 1)
        new = np.where(seen > 0, np.clip(new, 1e-4, 1 - 1e-4), lam)
        done = np.max(np.abs(new - lam)) < 1e-6
        lam = new
        if done:
            break
    return np.where(seen > 0, _best_of(held, groups, lam), start)


def _best_of(held: Held, groups: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Per group, the EM weight or an end (0: network alone, 1: n-gram alone), whichever scores higher.

    EM creeps towards an end it cannot reach in finitely many steps; the likelihood is separable by group.
    """
    best, score = lam.copy(), np.full(lam.size, -np.inf)
    for value in (lam, np.zeros_like(lam), np.ones_like(lam)):
        total = np.bincount(groups, weights=mix_logprobs(held.net, held.ngram, value[groups]), minlength=lam.size)
        better = total > score
        best, score = np.where(better, value, best), np.where(better, total, score)
    return best


def report(held: Held, lam: float, by_context: np.ndarray, by_class: np.ndarray) -> dict[str, float]:
    """Held-out nats per token of the network, the n-gram and the three mixtures."""
    n = max(held.net.size, 1)
    return {
        "tokens": int(held.net.size),
        "network": -float(held.net.sum()) / n,
        "ngram": -float(held.ngram.sum()) / n,
        "mixed": -float(mixed(held, lam).sum()) / n,
        "mixed_by_context": -float(mixed(held.lengths(), by_context).sum()) / n,
        "mixed_by_class": -float(mixed(held, by_class).sum()) / n,
    }
