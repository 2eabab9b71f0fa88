"""Tuning the rescoring weights on a development n-best list: ranking as pairwise logistic regression.

Coordinate descent on the corpus WER (MERT's way) fits a development set of a few hundred
utterances too closely: the WER surface is flat with cliffs, and the weights land wherever a
handful of utterances flip. Here tuning is Hopkins and May's "tuning as ranking" (PRO, 2011): in
each id's list every pair of hypotheses with different word errors is a training example whose
label is which one has fewer, weighted by the difference. The weights are a logistic regression on
the pairs' feature differences, with each feature first scaled to unit spread so one L2 penalty
treats every model alike (this is the per-model normalisation: a char model's and a word model's
log-probabilities differ in range). The problem is convex, so Newton's method finds its one
optimum and the same data always give the same weights. The penalty is chosen by 5-fold
cross-validation over the development ids (the WER of held-out folds), the largest penalty on ties.
The decoder's weight is then divided out, so it stays 1.
"""

from __future__ import annotations

import numpy as np

from charlm.eval.nbest import WordErrors
from charlm.eval.rescore import FeatureTable, Tuned, Weights, chosen_errors, error_table

PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1)  # L2 penalties on the scaled weights, tried by cross-validation
FOLDS = 5
PAIRS_PER_ID = 64  # longer lists are sampled (seeded) down to this many pairs per id
NEWTON_STEPS = 50


def _pairs(feats: np.ndarray, mask: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feature differences better-minus-worse of every pair with different errors, and each pair's weight."""
    rng = np.random.default_rng(0)
    diffs, weights = [], []
    for f, m, e in zip(feats, mask, errors, strict=True):
        f, e = f[m], e[m]
        a, b = np.nonzero(e[:, None] < e[None, :])
        if len(a) > PAIRS_PER_ID:
            keep = rng.choice(len(a), PAIRS_PER_ID, replace=False)
            a, b = a[keep], b[keep]
        diffs.append(f[a] - f[b])
        weights.append(e[b] - e[a])
    return np.concatenate(diffs), np.concatenate(weights)


def _logistic(x: np.ndarray, weight: np.ndarray, ridge: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The weights minimising mean weighted log-loss of ``offset + x @ theta > 0`` plus ``ridge @ theta^2``."""
    total = weight.sum()
    theta = np.zeros(x.shape[1])

    def loss(t: np.ndarray) -> float:
        return float(weight @ np.logaddexp(0.0, -(offset + x @ t)) / total + ridge @ t**2)

    for _ in range(NEWTON_STEPS):
        z = offset + x @ theta
        p = 1.0 / (1.0 + np.exp(np.clip(z, -50, 50)))  # sigmoid(-z): how wrong each pair is
        grad = -(x.T @ (weight * p)) / total + 2 * ridge * theta
        hess = (x.T * (weight * p * (1 - p))) @ x / total + np.diag(2 * ridge)
        step = np.linalg.solve(hess, grad)
        size, before = 1.0, loss(theta)
        while loss(theta - size * step) > before and size > 1e-6:
            size /= 2
        theta = theta - size * step
        if np.abs(size * step).max() < 1e-9:
            break
    return theta


def _fit(feats: np.ndarray, mask: np.ndarray, errors: np.ndarray, penalty: float) -> np.ndarray:
    """Weights in the features' own units, the decoder's divided out to 1.

    The decoder's weight is learned too (it sets how sharp the ranking is) and penalised a million
    times less than the others. Where the fit would turn it down (a decoder that is wrong more often
    than right), it is fixed at 1 on the scaled features instead and the rest is fitted around it.
    """
    diffs, weight = _pairs(feats, mask, errors)
    w = np.zeros(feats.shape[-1])
    w[0] = 1.0
    if not len(diffs):
        return w
    spread = diffs.std(0)
    spread[spread == 0] = 1.0
    scaled = diffs / spread
    ridge = np.full(len(spread), penalty)
    ridge[0] *= 1e-6
    theta = _logistic(scaled, weight, ridge, np.zeros(len(scaled))) / spread
    if theta[0] > 0:
        return theta / theta[0]
    rest = _logistic(scaled[:, 1:], weight, ridge[1:], scaled[:, 0]) / spread[1:]
    return np.concatenate([[1.0], rest * spread[0]])


def _cross_validated(feats: np.ndarray, mask: np.ndarray, errors: np.ndarray) -> float:
    """The penalty whose weights make the fewest errors on held-out folds of ids (the largest on ties)."""
    order = np.random.default_rng(0).permutation(len(feats))
    folds = min(FOLDS, len(feats))
    if folds < 2:
        return PENALTIES[-1]
    scores = []
    for penalty in PENALTIES:
        wrong = 0
        for k in range(folds):
            held = order[k::folds]
            kept = np.setdiff1d(order, held)
            w = _fit(feats[kept], mask[kept], errors[kept], penalty)
            wrong += chosen_errors(feats[held], mask[held], errors[held], w)
        scores.append(wrong)
    best = min(scores)
    return max(p for p, s in zip(PENALTIES, scores, strict=True) if s == best)


def tune(table: FeatureTable, refs: dict[str, str], fixed: Weights | None = None, tune_oov: bool = True) -> Tuned:
    """Tune every weight (each model's, its OOV count's, the per-word and per-character penalties).

    With ``tune_oov=False`` the OOV weights stay at ``fixed``'s (default 0) and only the rest is
    tuned around them.
    """
    feats, mask = table.padded()
    errors = error_table(table, refs)
    words = sum(len(refs[i].split()) for i in table.ids)
    models = len(table.names)
    start = Weights((0.0,) * models, 0.0, (0.0,) * models)
    before = chosen_errors(feats, mask, errors, start.vector())
    oov_cols = np.arange(2 + models, 2 + 2 * models)
    used = feats
    if not tune_oov:
        given = np.array(fixed.oov if fixed is not None and fixed.oov else (0.0,) * models)
        used = feats.copy()
        used[..., 0] += feats[..., oov_cols] @ given  # the fixed OOV prices ride on the decoder's column
        used = np.delete(used, oov_cols, axis=-1)
    w = _fit(used, mask, errors, _cross_validated(used, mask, errors))
    if not tune_oov:
        w = np.insert(w, 2 + models, given)
    after = chosen_errors(feats, mask, errors, w)
    return Tuned(Weights.from_vector(w, models), WordErrors(before, words), WordErrors(after, words))
