"""The commands that score text with a trained model: ``score`` (sentences, or a file) and ``eval`` (a file).

Thin like the rest of the CLI: options -> one :class:`charlm.api.Model` call -> :mod:`charlm.cli.render`
output. ``score --file`` is :meth:`Model.score_file`, which is ``eval`` for a forward model (same
options, same numbers) and forward/backward/mean for a ``--direction both`` model. Exit codes: 0
success, 1 bad input or model (one ``charlm: error:`` line on stderr), 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from charlm.cli.declared import argument, default, option
from charlm.cli.ngram import NgramFileOpt, NgramWeightOpt
from charlm.cli.options import (
    BatchSizeOpt,
    DeviceOpt,
    EncodingOpt,
    ErrorsOpt,
    JsonOpt,
    ModelOpt,
    PrecisionOpt,
    UnkOpt,
    friendly,
)
from charlm.cli.paths import InputFile
from charlm.cli.values import stdin_is_piped
from charlm.errors import BadOption, CharlmError
from charlm.options import ScoringOptions

if TYPE_CHECKING:
    from charlm.api import Model

PROGRESS_BYTES = 2 << 20


def _sentences(sentences: list[str] | None, lines: Path | None, encoding: str, errors: str) -> list[str]:
    """Arguments, then the lines of --lines, else stdin when it is not a terminal; blank lines skipped."""
    from charlm.io import read_text
    from charlm.streams import read_stream

    texts = list(sentences or [])
    if lines is not None:
        texts += read_text(lines, encoding, errors).split("\n")
    elif not texts and stdin_is_piped():
        texts = read_stream(sys.stdin.buffer).split("\n")  # read once, with the file reader's checks
    return [t for t in texts if t.strip()]


@friendly
def score(
    sentences: Annotated[list[str] | None, argument("sentence")] = None,
    model: ModelOpt = None,
    lines: Annotated[
        Path | None,
        typer.Option("--lines", "-l", parser=InputFile(), help="Score each line of this file as a sentence."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            parser=InputFile(),
            help="Score a whole file as one text (state carried): charlm eval FILE; both ways for --direction both.",
        ),
    ] = None,
    per_token: Annotated[bool, option("per_token")] = default("per_token"),
    alternatives: Annotated[int, option("alternatives")] = default("alternatives"),
    normalize: Annotated[str, option("normalize")] = default("normalize"),
    as_json: JsonOpt = False,
    batch_size: BatchSizeOpt = default("batch_size"),
    precision: PrecisionOpt = default("precision"),
    encoding: EncodingOpt = default("encoding"),
    errors: ErrorsOpt = default("errors"),
    unk: UnkOpt = default("unk"),
    device: DeviceOpt = default("device"),
    ngram_weight: NgramWeightOpt = default("ngram_weight"),
    ngram: NgramFileOpt = None,
) -> None:
    """Score sentences (ranked, best first, with the margin between the best two) or a whole file.

    Each sentence is scored from a fresh state and includes its end-of-sentence token <eos>;
    the start symbol is not counted (KenLM's convention). log-probabilities are natural logs
    (log10 and bits also shown); ppl_no_oov leaves out <unk> tokens; bits/char divides by the
    characters plus one for the end of line. Blank lines are skipped.
    A model trained with --direction both reports forward, backward and mean log-probabilities.

    --alternatives K (with --per-token) adds the network's K most likely tokens at each position.

    Example: charlm score "the apple and pear salad" "the apple and pair salad"
    """
    from charlm.api import load
    from charlm.cli.render import bidirectional_table, json_lines, scores_table

    opts = ScoringOptions.of(
        unk=unk, ngram_weight=ngram_weight, ngram=ngram, precision=precision, batch_size=batch_size
    )
    if file is not None:
        if sentences or lines is not None:
            raise BadOption("--file scores a whole file; give sentences or --lines separately")
        _score_file(load(model, device=device, options=opts), file, encoding, errors, as_json)
        return
    texts = _sentences(sentences, lines, encoding, errors)
    if not texts:
        raise CharlmError("nothing to score: give sentences as arguments, on stdin, with --lines, or a --file")
    lm = load(model, device=device, options=opts)
    if lm.bidirectional:  # --direction both: forward, backward, mean
        bidirectional_table(lm.score_both(texts), as_json)
    elif as_json:  # in input order
        json_lines(lm.score(texts, normalize, per_token, alternatives=alternatives))
    else:
        scores_table(lm.rank(texts, normalize, per_token, alternatives=alternatives), per_token)


def _score_file(lm: Model, file: Path, encoding: str, errors: str, as_json: bool) -> None:
    """``score --file``: :meth:`Model.score_file` (eval, or both ways) with a progress bar on big files."""
    from charlm.cli.progress import PassProgress
    from charlm.cli.render import file_score
    from charlm.progress import silent

    with PassProgress() as bar:
        result = lm.score_file(file, encoding, errors, progress=bar if _big(file) and not lm.bidirectional else silent)
    file_score(result, as_json)


@friendly
def eval_(
    file: Annotated[
        list[Path],
        typer.Argument(
            parser=InputFile(dir_ok=True, stdin_ok=True),
            help="Text file to evaluate (may be larger than memory); several files, a directory (its *.txt) or - for stdin are joined.",
        ),
    ],
    model: ModelOpt = None,
    independent: Annotated[bool, option("independent")] = default("independent"),
    as_json: JsonOpt = False,
    batch_size: BatchSizeOpt = default("batch_size"),
    precision: PrecisionOpt = default("precision"),
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Progress on stderr: a bar with rate and ETA on a terminal, a plain line every 10 s in a pipe [default: files over 2 MiB].",
        ),
    ] = None,
    encoding: EncodingOpt = default("encoding"),
    errors: ErrorsOpt = default("errors"),
    cache: Annotated[int | None, option("cache")] = default("cache"),
    cache_theta: Annotated[float | None, option("cache_theta")] = default("cache_theta"),
    cache_lambda: Annotated[float | None, option("cache_lambda")] = default("cache_lambda"),
    dynamic: Annotated[
        bool,
        typer.Option(
            "--dynamic", help="Dynamic evaluation (Krause et al. 2018): adapt the weights after each segment."
        ),
    ] = False,
    dynamic_lr: Annotated[float | None, option("dynamic_lr")] = default("dynamic_lr"),
    dynamic_lambda: Annotated[float | None, option("dynamic_lambda")] = default("dynamic_lambda"),
    dynamic_segment: Annotated[int | None, option("dynamic_segment")] = default("dynamic_segment"),
    dynamic_stats: Annotated[
        Path | None,
        typer.Option(
            parser=InputFile(),
            help="Training text to measure gradient statistics on [default: those stored by training].",
        ),
    ] = None,
    device: DeviceOpt = default("device"),
    ngram_weight: NgramWeightOpt = default("ngram_weight"),
    ngram: NgramFileOpt = None,
    unk: UnkOpt = default("unk"),
) -> None:
    """Perplexity (with and without OOV), bits per char and OOV rate of a whole file.

    Streamed by default: the file is one text with the state carried across lines (cut at line
    starts into up to --batch-size parallel rows); --independent scores each line as a sentence.
    --cache N adds the continuous cache: each row remembers its last N (hidden state, next token)
    pairs and the model's distribution is mixed with a pointer over them. --dynamic adapts the
    weights to the text as it is read (one stream, --batch-size ignored); the model directory is not
    changed.

    Example: charlm eval test.txt --model checkpoints/latest --json --cache 2000
    """
    from charlm.api import load
    from charlm.cli.progress import PassProgress
    from charlm.cli.render import file_score
    from charlm.inputs import resolve_inputs
    from charlm.progress import silent

    opts = ScoringOptions.of(
        unk=unk, ngram_weight=ngram_weight, ngram=ngram, precision=precision, batch_size=batch_size
    )
    lm = load(model, device=device, options=opts)
    label = " ".join(str(f) for f in file)
    with (
        resolve_inputs(file, encoding, errors) as (path, codec, on_error),
        PassProgress() as bar,
    ):
        shown = bar if (progress if progress is not None else _big(path)) else silent
        result = lm.eval(
            path, independent=independent, encoding=codec, errors=on_error, progress=shown, cache=cache,
            cache_theta=cache_theta, cache_lambda=cache_lambda, dynamic=dynamic, dynamic_stats=dynamic_stats,
            dynamic_lr=dynamic_lr, dynamic_lambda=dynamic_lambda, dynamic_segment=dynamic_segment,
        )  # fmt: skip
    file_score(replace(result, path=label), as_json)  # the inputs as given, not a joined temporary file


def _big(file: Path) -> bool:
    """Whether a file is large enough for progress by default (a bar on a terminal, a line every 10 s in a pipe)."""
    return file.is_file() and file.stat().st_size >= PROGRESS_BYTES
