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

import numpy as np

from charlm.ngram.counts import Counts
from charlm.ngram.model import NgramModel

FALLBACK = (0.5, 1.0, 1.5)


def discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """D1, D2, D3+ from the count-of-counts of one order (KenLM's fallback when they do not fit)."""
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


def estimate(counts: Counts) -> NgramModel:
    """The back-off tables (natural-log probabilities and back-off weights) of an interpolated mod-KN model."""
    v = counts.vocab_size
    found = [discounts(c[c > 0]) for c in counts.counts]
    a = counts.counts[0].astype(np.float64)
    cut = _discount_of(counts.counts[0], found[0])
    gamma0 = cut.sum() / a.sum()
    probs = [(a - cut) / a.sum() + gamma0 / v]  # (V,)
    backoffs: list[np.ndarray] = []
    for k in range(2, counts.order + 1):
        a = counts.counts[k - 1].astype(np.float64)
        cut = _discount_of(counts.counts[k - 1], found[k - 1])
        prefix = counts.keys[k - 1] // v  # (n_k,) context ids at order k-1
        contexts = counts.keys[k - 2].size
        total = np.bincount(prefix, weights=a, minlength=contexts)  # (n_{k-1},)
        removed = np.bincount(prefix, weights=cut, minlength=contexts)
        seen = total > 0
        gamma = np.divide(removed, total, out=np.ones(contexts), where=seen)  # 1: a context never continued
        lower = probs[-1][counts.suffix[k - 1]]  # (n_k,) p(w | c') for each type
        probs.append((a - cut) / total[prefix] + gamma[prefix] * lower)
        backoffs.append(gamma)
    with np.errstate(divide="ignore"):
        return NgramModel(
            vocab_size=v,
            keys=counts.keys,
            logprob=[np.log(p).astype(np.float32) for p in probs],
            logbo=[np.log(g).astype(np.float32) for g in backoffs],
            discounts=[list(d) for d in found],
        )
