"""Interpolated modified Kneser-Ney (Chen & Goodman 1998) from adjusted counts, in back-off form.

For a k-gram ``(c, w)`` with adjusted count ``a`` (``counts``), three discounts per order::

    Y = n1 / (n1 + 2 n2);  D1 = 1 - 2Y n2/n1;  D2 = 2 - 3Y n3/n2;  D3+ = 3 - 4Y n4/n3
    p(w | c) = (a(c w) - D(a)) / sum_v a(c v)  +  gamma(c) p(w | c')      c' = c without its first token
    gamma(c) = (D1 N1(c .) + D2 N2(c .) + D3+ N3+(c .)) / sum_v a(c v)
    p(w)     = (a(w) - D(a)) / sum_v a(v)  +  gamma() / V                 (interpolated with uniform)

``n_i`` counts the types of the order seen exactly ``i`` times, ``N_i(c .)`` the continuations of ``c``
seen ``i`` times. Where the count-of-counts cannot give discounts in ``[0, i]`` (tiny corpora), the
order falls back to KenLM's ``--discount_fallback`` defaults 0.5, 1, 1.5. The result is stored as an
ARPA file is: each type's full interpolated probability and, for contexts, ``gamma`` as the back-off
weight (1 for a context never continued), so ``p(w | c) = prob(c w)`` if ``(c w)`` is a type, else
``backoff(c) p(w | c')``. Probabilities over the vocabulary sum to 1 for every context.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from charlm.ngram.counts import Counts
from charlm.ngram.model import NgramModel

FALLBACK = (0.5, 1.0, 1.5)
BLOCK = 1 << 22  # types per block


def discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """D1, D2, D3+ from the count-of-counts of one order (KenLM's fallback when they do not fit; zeros ignored)."""
    n1, n2, n3, n4 = (int(np.count_nonzero(counts == i)) for i in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return FALLBACK
    y = n1 / (n1 + 2 * n2)
    found = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if any(not 0 <= d <= i for i, d in enumerate(found, 1)):
        return FALLBACK
    return found


def _discount_of(counts: np.ndarray, d: tuple[float, float, float]) -> np.ndarray:
    """D(a) for every adjusted count ``a``: 0 for a = 0, else D1, D2 or D3+."""
    table = np.array([0.0, *d])
    return table[np.minimum(counts, 3)]  # (n,)


def _log32(p: np.ndarray) -> np.ndarray:
    """ln p as float32, a block at a time (no float64 copy of a whole table)."""
    out = np.empty(p.size, dtype=np.float32)
    with np.errstate(divide="ignore"):
        for a in range(0, p.size, BLOCK):
            out[a : a + BLOCK] = np.log(p[a : a + BLOCK])
    return out


def _sums(prefix_of: Any, counts: np.ndarray, d: tuple[float, float, float], contexts: int) -> tuple[np.ndarray, ...]:
    """Per context: the sum of its continuations' adjusted counts, and of their discounts."""
    total, removed = np.zeros(contexts), np.zeros(contexts)
    for a in range(0, counts.size, BLOCK):
        prefix, c = prefix_of(a), counts[a : a + BLOCK]  # prefixes are sorted: add into their span
        lo, span = int(prefix[0]), int(prefix[-1] - prefix[0]) + 1
        total[lo : lo + span] += np.bincount(prefix - lo, weights=c, minlength=span)
        removed[lo : lo + span] += np.bincount(prefix - lo, weights=_discount_of(c, d), minlength=span)
    return total, removed


def _order(counts: Counts, k: int, lower: np.ndarray, d: tuple[float, float, float]) -> tuple[np.ndarray, ...]:
    """(p (n_k,) float64, gamma (n_{k-1},)) of order ``k``, a block of types at a time."""
    v, keys, a = counts.vocab_size, counts.keys[k - 1], counts.counts[k - 1]
    prefix_of = lambda s: keys[s : s + BLOCK] // v  # noqa: E731  context ids at order k-1
    total, removed = _sums(prefix_of, a, d, counts.keys[k - 2].size)
    gamma = np.divide(removed, total, out=np.ones(total.size), where=total > 0)  # 1: a context never continued
    p = np.empty(keys.size)
    for s in range(0, keys.size, BLOCK):
        prefix, c = prefix_of(s), a[s : s + BLOCK]
        lower_p = lower[counts.suffix[k - 1][s : s + BLOCK]]  # p(w | c') for each type
        p[s : s + BLOCK] = (c - _discount_of(c, d)) / total[prefix] + gamma[prefix] * lower_p
    return p, gamma


def estimate(counts: Counts) -> NgramModel:
    """The back-off tables (natural-log probabilities and back-off weights) of an interpolated mod-KN model.

    Works a block of types at a time: beside the tables it keeps two orders' float64 probabilities.
    """
    v = counts.vocab_size
    found = [discounts(c) for c in counts.counts]
    a = counts.counts[0].astype(np.float64)
    cut = _discount_of(counts.counts[0], found[0])
    gamma0 = cut.sum() / a.sum()
    probs = (a - cut) / a.sum() + gamma0 / v  # (V,)
    logprob, logbo = [_log32(probs)], []
    for k in range(2, counts.order + 1):
        probs, gamma = _order(counts, k, probs, found[k - 1])
        logprob.append(_log32(probs))
        logbo.append(_log32(gamma))
    return NgramModel(vocab_size=v, keys=counts.keys, logprob=logprob, logbo=logbo, discounts=[list(d) for d in found])
