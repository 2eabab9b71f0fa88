"""N-best rescoring: language-model features, the weighted sum that re-ranks, and its tuning.

A hypothesis's new score is a weighted sum of its features::

    new = decoder total + sum_m w_m * logprob_m + length_penalty * words + sum_m u_m * oov_m
          + char_penalty * chars

``logprob_m`` is language model m's log-probability of the hypothesis (nats, ``<eos>`` counted) and
``oov_m`` how many of its tokens model m maps to ``<unk>``: a word model prices a misspelled word as
the cheap ``<unk>``, so without ``u_m`` (``--oov-weight``, usually tuned negative) it prefers
misspellings. Any object with a ``name`` and ``logprobs(texts) -> [(logprob, oov), ...]`` is a
language model here (:class:`SentenceScorer`): :func:`load_scorer` opens charlm model directories,
and other kinds of model (an n-gram, say) plug in there. The hypotheses of one id are scored as one
padded batch. ``chars`` counts the hypothesis's characters (spaces not counted): a word model's
log-probability and a per-word penalty cannot tell a long word from a short one, and a dropped or
misspelled word changes both counts differently. :func:`charlm.eval.rescore_tune.tune` learns the
weights on a development set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    """One weight per language model and per model's OOV count, the penalty per word and per character."""

    lm: tuple[float, ...]
    length_penalty: float = 0.0
    oov: tuple[float, ...] = ()
    char_penalty: float = 0.0

    def vector(self) -> np.ndarray:
        """In the order of a :class:`FeatureTable`'s columns (the decoder's weight is 1)."""
        oov = self.oov or (0.0,) * len(self.lm)
        return np.array([1.0, *self.lm, self.length_penalty, *oov, self.char_penalty])

    @classmethod
    def from_vector(cls, v: np.ndarray, models: int) -> Weights:
        values = [float(x) for x in v]
        lm, oov = tuple(values[1 : 1 + models]), tuple(values[2 + models : 2 + 2 * models])
        return cls(lm, values[1 + models], oov, values[2 + 2 * models])

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "lm": dict(zip(names, self.lm, strict=True)),
            "length_penalty": self.length_penalty,
            "char_penalty": self.char_penalty,
            "oov": dict(zip(names, self.oov or (0.0,) * len(names), strict=True)),
        }


@dataclass
class FeatureTable:
    """Features of every hypothesis: columns decoder, lm_1..lm_M, words, oov_1..oov_M, chars."""

    ids: list[str]
    hyps: list[list[Hypothesis]]
    names: list[str]
    feats: list[np.ndarray] = field(default_factory=list)  # per id (n_i, 3 + 2M)

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
        cols += [[len("".join(t.split())) for t in texts]]
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
    chars: int = 0

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "text": self.hyp.text,
            "decoder": self.hyp.score,
            "lm": dict(zip(names, self.lm, strict=True)),
            "oov": dict(zip(names, self.oov, strict=True)),
            "words": self.words,
            "chars": self.chars,
            "score": self.score,
            "rank": self.rank,
        }


def rerank(table: FeatureTable, weights: Weights) -> list[list[Ranked]]:
    """Every id's hypotheses, best first under ``weights``."""
    check_weights(weights, len(table.names))
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
                    tuple(int(x) for x in f[i, 2 + models : 2 + 2 * models]),
                    int(f[i, 1 + models]),
                    float(scores[i]),
                    place,
                    int(f[i, 2 + 2 * models]),
                )
                for place, i in enumerate(order, 1)
            ]
        )
    return out


def check_weights(weights: Weights, models: int) -> None:
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
    return int(errors_many(feats, mask, errors, w[None, :])[0])


def errors_many(feats: np.ndarray, mask: np.ndarray, errors: np.ndarray, ws: np.ndarray) -> np.ndarray:
    """:func:`chosen_errors` for every row of ``ws (K, F)`` at once: (K,) error totals."""
    scores = np.where(mask[..., None], feats @ ws.T, -np.inf)  # (ids, most, K)
    best = scores.argmax(1)  # (ids, K)
    return np.take_along_axis(errors, best, 1).sum(0)  # (K,)


@dataclass(frozen=True)
class Tuned:
    """What tuning found: the weights, the development WER before (decoder alone) and after, and how.

    ``method`` is the tuner cross-validation chose; ``held_out`` each tuner's word errors on the
    held-out folds of the development list.
    """

    weights: Weights
    before: WordErrors
    after: WordErrors
    method: str = ""
    held_out: dict[str, int] = field(default_factory=dict)
