"""The library calls behind the commands that do not load a model: tokenize, recipes, plot, train.

Each command is options -> one of these -> rendered output, so the command line and the service
reach training, tokenizers and plots only through the API.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from charlm.options import check_all, default
from charlm.progress import Progress, silent
from charlm.training.events import Callback
from charlm.training.loop import TrainResult


def tokenize(
    text: str,
    level: str = "char",
    max_vocab: int | None = None,
    min_count: int = 1,
    vocab_size: int = 2000,
    segment: str = "auto",
    top: int = 20,
    save: str | Path | None = None,
    force: bool = False,
    sources: Sequence[str | Path] = (),
) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """Fit a tokenizer on ``text``: its statistics and its ``top`` most frequent tokens (``save``: write it).

    ``save`` is claimed before the fitting (:mod:`charlm.writer`): a model directory, a directory of other
    files, one of ``sources`` (the input files) and, without ``force``, an earlier saved tokenizer are refused.
    """
    from charlm.tokenizers import SAVED, build_tokenizer, describe, save_tokenizer
    from charlm.writer import check_target

    check_all("tokenize", {"level": level, "max_vocab": max_vocab, "min_count": min_count,
                           "vocab_size": vocab_size, "segment": segment, "top": top})  # fmt: skip
    if save is not None:
        check_target(save, SAVED, force, sources)  # a model's tokenizer is never overwritten
    tokenizer = build_tokenizer(level, text, max_vocab, min_count, vocab_size, segment)
    stats, frequent = describe(tokenizer, text, top)
    if save is not None:
        save_tokenizer(tokenizer, save, force, sources)
    return stats, frequent


def tokenize_file(
    path: str | Path,
    level: str = "char",
    max_vocab: int | None = None,
    min_count: int = 1,
    vocab_size: int = 2000,
    segment: str = "auto",
    top: int = 20,
    save: str | Path | None = None,
    force: bool = False,
    sources: Sequence[str | Path] = (),
    encoding: str = "utf-8",
    errors: str = "strict",
    progress: Progress = silent,
) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """:func:`tokenize` of a file of any size, streamed: the same statistics, the corpus never held whole.

    Two passes, one chunk in memory at a time: the vocabulary (as ``charlm train`` fits it with its
    default seed, subwords on a sample of the lines of a file over 64 MB), then the token counts;
    ``progress`` hears both.
    """
    from charlm.tokenizers import SAVED, describe_counts, save_tokenizer
    from charlm.training.corpus_cache import fit_tokenizer, token_counts
    from charlm.writer import check_target

    check_all("tokenize", {"level": level, "max_vocab": max_vocab, "min_count": min_count,
                           "vocab_size": vocab_size, "segment": segment, "top": top})  # fmt: skip
    if save is not None:
        check_target(save, SAVED, force, sources)  # a model's tokenizer is never overwritten
    seed = default("seed")  # train's default: a subword sample of a big file is the one training draws
    tokenizer = fit_tokenizer(path, level, encoding, errors, max_vocab, min_count, vocab_size, seed, segment, progress)
    counts, chars = token_counts(path, tokenizer, encoding, errors, progress)
    stats, frequent = describe_counts(tokenizer, counts, chars, top)
    if save is not None:
        save_tokenizer(tokenizer, save, force, sources)
    return stats, frequent


def recipes(device: str | None = None, level: str | None = None) -> list[dict[str, Any]]:
    """The training recipes (of one device kind and/or level), each with the budgets it serves."""
    from charlm.training.recipes import table

    check_all("recipes", {"device": device, "level": level})
    return table(device, level)


def plot(runs: Sequence[str | Path], out: str | Path, title: str | None = None) -> str:
    """Overlay the loss curves of ``runs`` in one PNG; returns what was written."""
    from charlm.plot import plot_runs

    check_all("plot", {"title": title})
    return str(plot_runs([Path(r) for r in runs], Path(out), title))


def launch(
    options: Mapping[str, Any], typed: Collection[str] = (), resume: bool = False, callback: Callback | None = None
) -> TrainResult:
    """``charlm train``: a new run from ``options`` (recipe applied), or with ``resume`` the run they point at."""
    from charlm.training.launch import launch as start

    return start(options, typed, resume, callback)
