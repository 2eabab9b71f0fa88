"""Rich output for ``charlm predict`` and ``charlm rescore`` (tables on stdout, chatter on stderr).

Kept beside :mod:`charlm.cli.render`, whose consoles and number format it uses.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from charlm.api import Prediction, RescoreResult
from charlm.cli.render import err, fmt, out
from charlm.io import json_text


def _shown(text: str) -> str:
    return text.replace("\n", "\\n") if text != " " else "' '"


def predictions_table(predictions: Sequence[Prediction], title: str, as_json: bool) -> None:
    """The proposals best first: text, probability, log-probability (and the sentence's, for a gap)."""
    if as_json:
        print(json_text([p.to_dict() for p in predictions]))
        return
    gap = any(p.sentence_logprob is not None for p in predictions)
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("text")
    table.add_column("share" if gap else "prob", justify="right")
    table.add_column("logprob", justify="right")
    if gap:
        table.add_column("sentence logprob", justify="right")
    for n, p in enumerate(predictions, 1):
        row = [str(n), _shown(p.text), fmt(p.prob, 4), fmt(p.logprob, 3)]
        if gap:
            row.append(fmt(p.sentence_logprob, 3))
        table.add_row(*row)
    out.print(table)


def rescore_output(result: RescoreResult, as_json: bool) -> None:
    """Best hypothesis per id on stdout (or every id re-ranked as JSON lines); weights and WER on stderr."""
    if as_json:
        for i, hyps in zip(result.ids, result.ranked, strict=True):
            ranked = [h.to_dict(result.names) for h in hyps]
            print(json_text({"id": i, "hypotheses": ranked}))
        print(json_text({"summary": result.summary()}))
        return
    for i, best in zip(result.ids, result.best, strict=True):
        print(f"{i}\t{best}")
    rescore_summary(result)


def rescore_summary(result: RescoreResult) -> None:
    """Weights and WER before/after on stderr."""
    w = result.weights
    oov = w.oov or (0.0,) * len(w.lm)
    parts = [
        f"{name}: weight {fmt(lm, 2)} oov {fmt(o, 2)}" for name, lm, o in zip(result.names, w.lm, oov, strict=True)
    ]
    penalties = f"length penalty {fmt(w.length_penalty, 2)}, char penalty {fmt(w.char_penalty, 2)}"
    err.print(f"weights: {'; '.join(parts)}; {penalties}")
    if result.tuned is not None:
        t = result.tuned
        err.print(
            f"dev WER: {100 * t.before.wer:.2f}% (decoder alone) -> {100 * t.after.wer:.2f}% (tuned), "
            f"{t.before.words} reference words"
        )
        if t.held_out:
            folds = ", ".join(f"{name} {errors}" for name, errors in t.held_out.items())
            err.print(f"tuner: {t.method} (word errors on held-out folds of the dev list: {folds})")
    if result.before is not None and result.after is not None:
        err.print(
            f"WER: {100 * result.before.wer:.2f}% (decoder alone) -> {100 * result.after.wer:.2f}% (rescored), "
            f"{result.before.words} reference words"
        )
