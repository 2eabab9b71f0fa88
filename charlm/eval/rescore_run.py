"""One rescoring run, as ``charlm rescore`` does it: read, score, (tune), re-rank, (measure WER).

::

    --tune DEV --refs DEV.refs     dev n-best --featurize--> tune() --> weights
    NBEST [--test-refs REFS]       n-best --featurize--> rerank(weights) --> best per id (+ WER before/after)

Without ``--tune`` the weights are the ones given. WER "before" is each id's first-ranked hypothesis
under the decoder's scores alone; "after" under the rescored ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charlm.errors import BadOption
from charlm.eval.nbest import WordErrors, read_nbest, read_refs, word_errors
from charlm.eval.rescore import (
    FeatureTable,
    Ranked,
    SentenceScorer,
    Tuned,
    Weights,
    check_weights,
    distinct_names,
    featurize,
    rerank,
)
from charlm.eval.rescore_tune import tune

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RescoreResult:
    """Every id's hypotheses re-ranked, the weights used, and what tuning and references showed."""

    names: list[str]
    weights: Weights
    ids: list[str]
    ranked: list[list[Ranked]]
    tuned: Tuned | None = None
    before: WordErrors | None = None  # test WER with the decoder's scores alone
    after: WordErrors | None = None  # test WER after rescoring

    @property
    def best(self) -> list[str]:
        return [hyps[0].hyp.text for hyps in self.ranked]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"weights": self.weights.to_dict(self.names)}
        if self.tuned is not None:
            out["dev_wer_before"], out["dev_wer_after"] = self.tuned.before.wer, self.tuned.after.wer
            out["tuner"], out["held_out_errors"] = self.tuned.method, self.tuned.held_out
        if self.before is not None and self.after is not None:
            out["wer_before"], out["wer_after"] = self.before.wer, self.after.wer
        return out


def _decoder_best(table: FeatureTable) -> list[str]:
    return [hyps[int(f[:, 0].argmax())].text for hyps, f in zip(table.hyps, table.feats, strict=True)]


def rescore_nbest(
    nbest: str | Path | None,
    scorers: Sequence[SentenceScorer],
    weights: Weights | None = None,
    tune_on: str | Path | None = None,
    tune_refs: str | Path | None = None,
    refs: str | Path | None = None,
    tune_oov: bool = True,
    progress: Progress | None = None,
) -> RescoreResult:
    """Rescore ``nbest`` with ``scorers``; with ``tune_on`` and ``tune_refs`` tune the weights first.

    With ``nbest=None`` only tuning runs, and the result re-ranks the development list itself.
    """
    if not scorers:
        raise BadOption("give at least one --model to rescore with")
    if (tune_on is None) != (tune_refs is None):
        raise BadOption("--tune DEV.nbest needs the development references (--refs, or --tune-refs with a test NBEST)")
    if nbest is None and tune_on is None:
        raise BadOption("give an NBEST file to rescore (or --tune DEV.nbest --refs DEV.refs to tune only)")
    if weights is not None:
        check_weights(weights, len(scorers))
    tuned, dev_table = None, None
    if tune_on is not None and tune_refs is not None:
        dev = read_nbest(tune_on)
        dev_table = featurize(dev, scorers, progress)
        tuned = tune(dev_table, read_refs(tune_refs, list(dev)), weights, tune_oov=tune_oov)
        weights = tuned.weights
    weights = weights or Weights((1.0,) * len(scorers), 0.0, (0.0,) * len(scorers))
    table = featurize(read_nbest(nbest), scorers, progress) if nbest is not None else dev_table
    assert table is not None
    ranked = rerank(table, weights)
    names = distinct_names(scorers)
    if refs is None:
        return RescoreResult(names, weights, table.ids, ranked, tuned)
    truth = read_refs(refs, table.ids)
    gold = [truth[i] for i in table.ids]
    best = [hyps[0].hyp.text for hyps in ranked]
    before, after = word_errors(_decoder_best(table), gold), word_errors(best, gold)
    return RescoreResult(names, weights, table.ids, ranked, tuned, before, after)
