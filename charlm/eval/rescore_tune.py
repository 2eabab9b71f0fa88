"""Tuning the rescoring weights on a development n-best list: two tuners, cross-validation picks.

* **ranking** (Hopkins and May 2011, "Tuning as Ranking"): in each id's list every pair of
  hypotheses with different word errors is a training example whose label is which one has fewer,
  weighted by the difference. The weights are a logistic regression on the pairs' feature
  differences, each feature first scaled to unit spread so one L2 penalty treats every model alike
  (the per-model normalisation: a char model's and a word model's log-probabilities differ in
  range). Convex, so Newton's method finds its one optimum; the penalty is chosen by 5-fold
  cross-validation over the development ids. It tunes every weight, the per-character penalty
  included.
* **grid**: coordinate descent on the corpus WER itself (MERT's way) over grids of the LM and OOV
  weights, each searched jointly with the per-word penalty, each value the middle of its best
  plateau; the per-character penalty stays 0.

With one model the grid's three weights generalise well; with two or three, coordinate descent
fits a few hundred development utterances too closely (the WER surface is flat with cliffs) and
ranking does better. So both are run on 5 folds of the development ids, the one with fewer
held-out word errors (ranking on ties) is fitted on the whole list, and :class:`Tuned` says which
and why. The decoder's weight stays 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from charlm.eval.nbest import WordErrors
from charlm.eval.rescore import FeatureTable, Tuned, Weights, chosen_errors, error_table, errors_many

LM_GRID = tuple(np.round(np.arange(0.0, 3.0001, 0.05), 4))
LENGTH_GRID = tuple(np.round(np.arange(-5.0, 5.0001, 0.1), 4))
OOV_GRID = tuple(np.round(np.arange(-20.0, 0.0001, 0.5), 4))
GRID_PASSES = 4
PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1)  # L2 penalties on the scaled weights, tried by cross-validation
FOLDS = 5
PAIRS_PER_ID = 64  # longer lists are sampled (seeded) down to this many pairs per id
NEWTON_STEPS = 50

Data = tuple[np.ndarray, np.ndarray, np.ndarray]  # features (ids, most, F), real-row mask, word errors


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


def _folds(ids: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kept, held) index arrays of :data:`FOLDS` seeded folds of ``ids`` ids (none when too few)."""
    order = np.random.default_rng(0).permutation(ids)
    folds = min(FOLDS, ids)
    return [(np.setdiff1d(order, order[k::folds]), order[k::folds]) for k in range(folds)] if folds >= 2 else []


def _held_out(fit: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], data: Data) -> int:
    """Word errors on each fold's held-out ids of the weights ``fit`` finds on the rest."""
    feats, mask, errors = data
    return sum(
        chosen_errors(feats[h], mask[h], errors[h], fit(feats[k], mask[k], errors[k])) for k, h in _folds(len(feats))
    )


def _ranking(feats: np.ndarray, mask: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """The ranking tuner: its penalty cross-validated (the largest on ties), then fitted on all of ``feats``."""
    data = (feats, mask, errors)
    scores = [_held_out(functools.partial(_fit, penalty=penalty), data) for penalty in PENALTIES]
    best = min(scores)
    penalty = max(p for p, s in zip(PENALTIES, scores, strict=True) if s == best)
    return _fit(feats, mask, errors, penalty)


def _plateau_middle(values: Sequence[float], errs: Sequence[int], current: float) -> float:
    """The middle of the longest run of grid values with the fewest errors (``current`` if it is one of them)."""
    best = min(errs)
    if any(v == current and e == best for v, e in zip(values, errs, strict=True)):
        return current
    runs: list[list[float]] = [[]]
    for v, e in zip(values, errs, strict=True):
        if e == best:
            runs[-1].append(v)
        elif runs[-1]:
            runs.append([])
    longest = max(runs, key=len)
    return float(longest[(len(longest) - 1) // 2])


def _line(data: Data, w: np.ndarray, index: int, grid: Sequence[float]) -> list[int]:
    """Errors for each value of coordinate ``index`` on ``grid``, the others held at ``w``."""
    trials = np.repeat(w[None, :], len(grid), 0)  # (K,F)
    trials[:, index] = grid
    return [int(x) for x in errors_many(*data, trials)]


def _with_length(data: Data, w: np.ndarray, index: int, grid: Sequence[float], length: int) -> Iterator[int]:
    """Coordinate ``index`` over ``grid``, the per-word penalty re-chosen for each value.

    A language model's log-probability falls with every word, so alone it prefers hypotheses that
    dropped a word; only together with a length penalty does it pay off.
    """
    for value in grid:
        trial = w.copy()
        trial[index] = value
        yield min(_line(data, trial, length, LENGTH_GRID))


def _grid(models: int, oov_cols: Sequence[int]) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The grid tuner over the columns of a table with ``models`` models (``oov_cols``: the OOV weights it tunes)."""

    def fit(feats: np.ndarray, mask: np.ndarray, errors: np.ndarray) -> np.ndarray:
        data, length = (feats, mask, errors), 1 + models
        coords = [(1 + m, LM_GRID) for m in range(models)] + [(c, OOV_GRID) for c in oov_cols]
        w = np.zeros(feats.shape[-1])
        w[0] = 1.0
        for _ in range(GRID_PASSES):
            start = w.copy()
            for index, grid in coords:
                w[index] = _plateau_middle(grid, list(_with_length(data, w, index, grid, length)), w[index])
                w[length] = _plateau_middle(LENGTH_GRID, _line(data, w, length, LENGTH_GRID), w[length])
            if np.allclose(start, w):
                break
        return w

    return fit


def tune(table: FeatureTable, refs: dict[str, str], fixed: Weights | None = None, tune_oov: bool = True) -> Tuned:
    """Tune every weight with the tuner that cross-validates better on ``table`` (see the module's text).

    With ``tune_oov=False`` the OOV weights stay at ``fixed``'s (default 0) and only the rest is
    tuned around them.
    """
    feats, mask = table.padded()
    errors = error_table(table, refs)
    words = sum(len(refs[i].split()) for i in table.ids)
    models = len(table.names)
    start = Weights((0.0,) * models, 0.0, (0.0,) * models)
    before = chosen_errors(feats, mask, errors, start.vector())
    oov_cols = list(range(2 + models, 2 + 2 * models))
    given = np.array(fixed.oov if fixed is not None and fixed.oov else (0.0,) * models)
    used = feats
    if not tune_oov:
        used = feats.copy()
        used[..., 0] += feats[..., oov_cols] @ given  # the fixed OOV prices ride on the decoder's column
        used = np.delete(used, oov_cols, axis=-1)
    tuners = {"ranking": _ranking, "grid": _grid(models, oov_cols if tune_oov else [])}
    data = (used, mask, errors)
    held = {name: _held_out(fit, data) for name, fit in tuners.items()}
    method = min(tuners, key=lambda name: held[name])  # ranking first: it wins ties
    w = tuners[method](*data)
    if not tune_oov:
        w = np.insert(w, 2 + models, given)
    after = chosen_errors(feats, mask, errors, w)
    weights = Weights.from_vector(w, models)
    return Tuned(weights, WordErrors(before, words), WordErrors(after, words), method, held)
