"""N-best rescoring: language-model features, the weighted sum that re-ranks, and its tuning.

A hypothesis's new score is a weighted sum of its features::

    new = decoder total + sum_m w_m * logprob_m + length_penalty * words + sum_m u_m * oov_m

``logprob_m`` is language model m's log-probability of the hypothesis (nats, ``<eos>`` counted) and
``oov_m`` how many of its tokens model m maps to ``<unk>``: a word model prices a misspelled word as
the cheap ``<unk>``, so without ``u_m`` (``--oov-weight``, usually tuned negative) it prefers
misspellings. Any object with a ``name`` and ``logprobs(texts) -> [(logprob, oov), ...]`` is a
language model here (:class:`SentenceScorer`): :func:`load_scorer` opens charlm model directories,
and other kinds of model (an n-gram, say) plug in there. The hypotheses of one id are scored as one
padded batch. :func:`tune` searches the weights by coordinate descent over grids to minimise the
corpus word error rate on a development set, each weight set to the middle of its best plateau.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from charlm.errors import BadOption, CharlmError
from charlm.eval.mix import NgramMix, resolve
from charlm.eval.nbest import Hypothesis, WordErrors, edit_distance
from charlm.eval.score import score_sentences
from charlm.models.base import BidirectionalLM, LanguageModel
from charlm.ngram.spelling import Spelling, open_vocabulary
from charlm.tokenizers import Tokenizer

LM_GRID = tuple(np.round(np.arange(0.0, 3.0001, 0.05), 4))
LENGTH_GRID = tuple(np.round(np.arange(-5.0, 5.0001, 0.1), 4))
OOV_GRID = tuple(np.round(np.arange(-20.0, 0.0001, 0.5), 4))


Data = tuple[np.ndarray, np.ndarray, np.ndarray]  # features (ids, most, F), real-row mask, word errors


class SentenceScorer(Protocol):
    """A language model as the rescorer sees it."""

    name: str

    def logprobs(self, texts: Sequence[str]) -> list[tuple[float, int]]: ...


class CharlmScorer:
    """A charlm model: each text scored from a fresh state, ``<eos>`` counted, all texts in one batch.

    With ``ngram`` (:class:`~charlm.eval.mix.NgramMix`) a text's log-probability is the mixture's,
    exactly as ``score`` computes it per line; without, the network's. A word model prices each
    unknown word by its spelling (``spelling``; ``score --unk spell``): hypotheses differ by exactly
    such words, a misspelling or a rare word, and ``<unk>`` alone would make every misspelling cheap.
    """

    def __init__(
        self,
        module: LanguageModel,
        tokenizer: Tokenizer,
        name: str,
        ngram: NgramMix | None = None,
        spelling: Spelling | None = None,
    ) -> None:
        self.module, self.tokenizer, self.name, self.ngram, self.spelling = module, tokenizer, name, ngram, spelling

    def logprobs(self, texts: Sequence[str]) -> list[tuple[float, int]]:
        scores = score_sentences(
            self.module, self.tokenizer, texts, batch_size=max(len(texts), 1), ngram=self.ngram, spelling=self.spelling
        )
        return [(s.logprob, s.oov) for s in scores]


def load_scorer(
    path: str | Path, device: Any = None, ngram_weight: str | float = "auto", ngram: str | Path | None = None
) -> SentenceScorer:
    """The language model at ``path``: a charlm model directory (another kind of model plugs in here).

    ``ngram_weight``/``ngram`` mix in its n-gram as ``score`` does (:func:`charlm.eval.mix.resolve`).
    """
    from charlm.checkpoint import load_model
    from charlm.runtime import pick_device

    path = Path(path)
    if path.is_dir() and (path / "config.json").exists():
        module, tokenizer, _ = load_model(path, device if device is not None else pick_device("auto"))
        forward = module.forward_lm if isinstance(module, BidirectionalLM) else module  # --direction both: forward half
        mix = resolve(path, ngram_weight, tokenizer, forward.config.vocab_size, ngram)
        return CharlmScorer(forward, tokenizer, path.name, mix, open_vocabulary(tokenizer))
    raise CharlmError(f"{path}: not a charlm model directory (no config.json)")


@dataclass(frozen=True)
class Weights:
    """One weight per language model and per model's OOV count, and the length penalty per word."""

    lm: tuple[float, ...]
    length_penalty: float = 0.0
    oov: tuple[float, ...] = ()

    def vector(self) -> np.ndarray:
        oov = self.oov or (0.0,) * len(self.lm)
        return np.array([1.0, *self.lm, self.length_penalty, *oov])

    @classmethod
    def from_vector(cls, v: np.ndarray, models: int) -> Weights:
        values = [float(x) for x in v]
        return cls(tuple(values[1 : 1 + models]), values[1 + models], tuple(values[2 + models :]))

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "lm": dict(zip(names, self.lm, strict=True)),
            "length_penalty": self.length_penalty,
            "oov": dict(zip(names, self.oov or (0.0,) * len(names), strict=True)),
        }


@dataclass
class FeatureTable:
    """Features of every hypothesis: columns decoder, lm_1..lm_M, words, oov_1..oov_M."""

    ids: list[str]
    hyps: list[list[Hypothesis]]
    names: list[str]
    feats: list[np.ndarray] = field(default_factory=list)  # per id (n_i, 2 + 2M)

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, most hypotheses, features) padded with zeros, and the (ids, most) mask of real rows."""
        most = max(len(h) for h in self.hyps)
        table = np.zeros((len(self.ids), most, self.feats[0].shape[1]))
        mask = np.zeros((len(self.ids), most), dtype=bool)
        for n, f in enumerate(self.feats):
            table[n, : len(f)] = f
            mask[n, : len(f)] = True
        return table, mask


def distinct_names(scorers: Sequence[SentenceScorer]) -> list[str]:
    """The scorers' names, each once: a repeated name gets ``#2``, ``#3`` ... (one JSON column per model)."""
    names: list[str] = []
    for scorer in scorers:
        name, n = scorer.name, 1
        while name in names:
            n += 1
            name = f"{scorer.name}#{n}"
        names.append(name)
    return names


def featurize(
    groups: dict[str, list[Hypothesis]],
    scorers: Sequence[SentenceScorer],
    progress: Callable[[int, int], None] | None = None,
) -> FeatureTable:
    """Score every hypothesis with every model (one padded batch per id and model)."""
    table = FeatureTable(list(groups), list(groups.values()), distinct_names(scorers))
    for n, hyps in enumerate(table.hyps):
        texts = [h.text for h in hyps]
        scored = [s.logprobs(texts) for s in scorers]
        cols = [[h.score for h in hyps]]
        cols += [[lp for lp, _ in rows] for rows in scored]
        cols += [[len(t.split()) for t in texts]]
        cols += [[oov for _, oov in rows] for rows in scored]
        table.feats.append(np.array(cols, dtype=np.float64).T)
        if progress is not None:
            progress(n + 1, len(table.hyps))
    return table


@dataclass(frozen=True)
class Ranked:
    """One hypothesis after rescoring."""

    hyp: Hypothesis
    lm: tuple[float, ...]
    oov: tuple[int, ...]
    words: int
    score: float
    rank: int

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "text": self.hyp.text,
            "decoder": self.hyp.score,
            "lm": dict(zip(names, self.lm, strict=True)),
            "oov": dict(zip(names, self.oov, strict=True)),
            "words": self.words,
            "score": self.score,
            "rank": self.rank,
        }


def rerank(table: FeatureTable, weights: Weights) -> list[list[Ranked]]:
    """Every id's hypotheses, best first under ``weights``."""
    _check(weights, len(table.names))
    models = len(table.names)
    out = []
    for hyps, f in zip(table.hyps, table.feats, strict=True):
        scores = f @ weights.vector()
        order = sorted(range(len(hyps)), key=lambda i: -scores[i])
        out.append(
            [
                Ranked(
                    hyps[i],
                    tuple(float(x) for x in f[i, 1 : 1 + models]),
                    tuple(int(x) for x in f[i, 2 + models :]),
                    int(f[i, 1 + models]),
                    float(scores[i]),
                    place,
                )
                for place, i in enumerate(order, 1)
            ]
        )
    return out


def _check(weights: Weights, models: int) -> None:
    if len(weights.lm) != models or (weights.oov and len(weights.oov) != models):
        raise BadOption(f"give one --weight per --model ({models} models, {len(weights.lm)} weights)")


def error_table(table: FeatureTable, refs: dict[str, str]) -> np.ndarray:
    """Word errors of every hypothesis against its id's reference, padded like :meth:`FeatureTable.padded`."""
    errors = np.zeros((len(table.ids), max(len(h) for h in table.hyps)))
    for n, (i, hyps) in enumerate(zip(table.ids, table.hyps, strict=True)):
        ref = refs[i].split()
        errors[n, : len(hyps)] = [edit_distance(h.text.split(), ref) for h in hyps]
    return errors


def chosen_errors(feats: np.ndarray, mask: np.ndarray, errors: np.ndarray, w: np.ndarray) -> int:
    """Summed errors of each id's best hypothesis under weight vector ``w`` (first one on ties)."""
    return int(_errors_many(feats, mask, errors, w[None, :])[0])


def _errors_many(feats: np.ndarray, mask: np.ndarray, errors: np.ndarray, ws: np.ndarray) -> np.ndarray:
    """:func:`chosen_errors` for every row of ``ws (K, F)`` at once: (K,) error totals."""
    scores = np.where(mask[..., None], feats @ ws.T, -np.inf)  # (ids, most, K)
    best = scores.argmax(1)  # (ids, K)
    return np.take_along_axis(errors, best, 1).sum(0)  # (K,)


@dataclass(frozen=True)
class Tuned:
    """What tuning found: the weights, and the development WER before (decoder alone) and after."""

    weights: Weights
    before: WordErrors
    after: WordErrors


def _plateau_middle(values: Sequence[float], errs: Sequence[int], current: float | None = None) -> float:
    """The middle of the longest run of grid values with the fewest errors (``current`` if it is one of them)."""
    best = min(errs)
    if current is not None and any(v == current and e == best for v, e in zip(values, errs, strict=True)):
        return current
    runs: list[list[float]] = [[]]
    for v, e in zip(values, errs, strict=True):
        if e == best:
            runs[-1].append(v)
        elif runs[-1]:
            runs.append([])
    longest = max(runs, key=len)
    return float(longest[(len(longest) - 1) // 2])


def _line(data: Data, w: np.ndarray, index: int, grid: Sequence[float]) -> np.ndarray:
    """Errors for each value of coordinate ``index`` on ``grid``, the others held at ``w``."""
    trials = np.repeat(w[None, :], len(grid), 0)  # (K,F)
    trials[:, index] = grid
    return _errors_many(*data, trials)


def _with_length(data: Data, w: np.ndarray, index: int, grid: Sequence[float], length: int) -> Iterator[int]:
    """Coordinate ``index`` over ``grid``, with the length penalty re-chosen for each of its values.

    A language model's log-probability falls with every word, and an OOV penalty falls with every
    unknown word dropped, so alone each prefers hypotheses that dropped a word; only together with
    a length penalty do they pay off (one coordinate at a time from zero never moves).
    """
    for value in grid:
        trial = w.copy()
        trial[index] = value
        yield int(_line(data, trial, length, LENGTH_GRID).min())


def tune(table: FeatureTable, refs: dict[str, str], passes: int = 4, tune_oov: bool = True) -> Tuned:
    """Coordinate descent over the weight grids, minimising corpus WER on ``table`` against ``refs``.

    Each LM weight and each OOV weight is searched jointly with the length penalty, which is then
    re-set alone; each value is the middle of its best plateau (or stays where it is if it is on it).
    """
    feats, mask = table.padded()
    data = (feats, mask, error_table(table, refs))
    words = sum(len(refs[i].split()) for i in table.ids)
    models = len(table.names)
    length = 1 + models
    coords = [(1 + m, LM_GRID) for m in range(models)]
    coords += [(2 + models + m, OOV_GRID) for m in range(models if tune_oov else 0)]
    w = Weights((0.0,) * models, 0.0, (0.0,) * models).vector()
    before = chosen_errors(*data, w)
    for _ in range(passes):
        start = w.copy()
        for index, grid in coords:
            w[index] = _plateau_middle(grid, list(_with_length(data, w, index, grid, length)), w[index])
            w[length] = _plateau_middle(LENGTH_GRID, list(_line(data, w, length, LENGTH_GRID)), w[length])
        if np.allclose(start, w):
            break
    after = chosen_errors(*data, w)
    return Tuned(Weights.from_vector(w, models), WordErrors(before, words), WordErrors(after, words))
