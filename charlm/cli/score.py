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

from charlm.cli.ngram import NgramFileOpt, NgramWeightOpt
from charlm.cli.options import DeviceOpt, EncodingOpt, ErrorsOpt, JsonOpt, ModelOpt, PrecisionOpt, UnkOpt, friendly
from charlm.cli.paths import InputFile
from charlm.cli.values import Choice, Float, Int, Text, stdin_is_piped
from charlm.errors import BadOption, CharlmError

if TYPE_CHECKING:
    from charlm.api import Model

PROGRESS_BYTES = 2 << 20
NORMALIZE = ("total", "token", "char")  # charlm.eval.score.NORMALIZE, without importing torch


def _sentences(sentences: list[str] | None, lines: Path | None, encoding: str, errors: str) -> list[str]:
    """Arguments, then the lines of --lines, else stdin when it is not a terminal; blank lines skipped."""
    from charlm.io import read_stream, read_text

    texts = list(sentences or [])
    if lines is not None:
        texts += read_text(lines, encoding, errors).split("\n")
    elif not texts and stdin_is_piped():
        texts = read_stream(sys.stdin.buffer).split("\n")  # read once, with the file reader's checks
    return [t for t in texts if t.strip()]


def _refuse_emptied(lm: Model, texts: list[str], unk: str) -> None:
    """A sentence that --unk skip empties is refused like an empty one."""
    if unk != "skip":
        return
    from charlm.tokenizers.unk import apply_unk_policy

    for n, text in enumerate(texts, 1):
        if not apply_unk_policy(lm.tokenizer, text, unk).strip():
            raise CharlmError(
                f"sentence {n} ({text[:40]!r}) is empty once --unk skip drops what the model does not know"
            )


@friendly
def score(
    sentences: Annotated[
        list[str] | None, typer.Argument(parser=Text(), help="Sentences to score (or one per line on stdin).")
    ] = None,
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
    per_token: Annotated[bool, typer.Option("--per-token", help="Also show each token's log-probability.")] = False,
    normalize: Annotated[
        str,
        typer.Option(
            parser=Choice(NORMALIZE), help="Rank by total log-prob, per token, or per char: total|token|char."
        ),
    ] = "total",
    as_json: JsonOpt = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            parser=Int(1, 1_000_000),
            help="Sentences per padded batch [default: 64]; with --file, parallel rows [32].",
        ),
    ] = None,
    precision: PrecisionOpt = "fp32",
    encoding: EncodingOpt = "utf-8",
    errors: ErrorsOpt = "strict",
    unk: UnkOpt = "replace",
    device: DeviceOpt = "auto",
    ngram_weight: NgramWeightOpt = "auto",
    ngram: NgramFileOpt = None,
) -> None:
    """Score sentences (ranked, best first, with the margin between the best two) or a whole file.

    Each sentence is scored from a fresh state and includes its end-of-sentence token <eos>;
    the start symbol is not counted (KenLM's convention). log-probabilities are natural logs
    (log10 and bits also shown); ppl_no_oov leaves out <unk> tokens; bits/char divides by the
    characters plus one for the end of line. Blank lines are skipped.
    A model trained with --direction both reports forward, backward and mean log-probabilities.

    Example: charlm score "the apple and pear salad" "the apple and pair salad"
    """
    from charlm.api import load
    from charlm.cli.render import bidirectional_table, json_lines, scores_table

    if file is not None:
        if sentences or lines is not None:
            raise BadOption("--file scores a whole file; give sentences or --lines separately")
        if unk != "replace":
            raise BadOption(
                "--unk skip/error apply to sentences; --file scores the text as it is "
                "(unknown tokens count as <unk>; see ppl_no_oov)"
            )
        lm = load(model, device=device)
        _score_file(lm, file, batch_size or 32, precision, encoding, errors, as_json, ngram_weight, ngram)
        return
    texts = _sentences(sentences, lines, encoding, errors)
    if not texts:
        raise CharlmError("nothing to score: give sentences as arguments, on stdin, with --lines, or a --file")
    lm = load(model, device=device)
    _refuse_emptied(lm, texts, unk)
    if lm.bidirectional:  # --direction both: forward, backward, mean
        bidirectional_table(lm.score_both(texts, unk=unk), as_json)
    elif as_json:  # in input order
        json_lines(lm.score(texts, normalize, per_token, batch_size or 64, precision, unk, ngram_weight, ngram))
    else:
        ranked = lm.rank(texts, normalize, per_token, batch_size or 64, precision, unk, ngram_weight, ngram)
        scores_table(ranked, per_token)


def _score_file(
    lm: Model,
    file: Path,
    batch_size: int,
    precision: str,
    encoding: str,
    errors: str,
    as_json: bool,
    ngram_weight: str = "auto",
    ngram: Path | None = None,
) -> None:
    """``score --file``: :meth:`Model.score_file` (eval, or both ways) with a progress bar on big files."""
    from charlm.cli.progress import EvalProgress
    from charlm.cli.render import file_score

    with EvalProgress(str(file), enabled=_big(file) and not lm.bidirectional) as bar:
        result = lm.score_file(
            file, batch_size, precision, encoding, errors, progress=bar, ngram_weight=ngram_weight, ngram=ngram
        )
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
    independent: Annotated[
        bool, typer.Option("--independent", help="Score each line from a fresh state (else state carried).")
    ] = False,
    as_json: JsonOpt = False,
    batch_size: Annotated[
        int, typer.Option(parser=Int(1, 1_000_000), help="Parallel rows (streamed) or lines per batch (--independent).")
    ] = 32,
    precision: PrecisionOpt = "fp32",
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Progress bar on stderr [default: files over 2 MiB, when stderr is a terminal].",
        ),
    ] = None,
    encoding: EncodingOpt = "utf-8",
    errors: ErrorsOpt = "strict",
    cache: Annotated[
        int | None,
        typer.Option(
            parser=Int(1, 1_000_000),
            help="Neural cache (Grave et al. 2017): mix in a pointer over each row's last N tokens (streamed only).",
        ),
    ] = None,
    cache_theta: Annotated[
        float | None,
        typer.Option(
            parser=Float(0.0, 1e4),
            help="Cache sharpness: p_cache ~ exp(theta h_t . h_i); best value depends on the model (README) [default: 0.3].",
        ),
    ] = None,
    cache_lambda: Annotated[
        float | None,
        typer.Option(
            parser=Float(0.0, 1.0, high_open=True),
            help="Cache weight: p = (1 - lambda) p_model + lambda p_cache, 0 <= lambda < 1 [default: 0.1].",
        ),
    ] = None,
    dynamic: Annotated[
        bool,
        typer.Option(
            "--dynamic", help="Dynamic evaluation (Krause et al. 2018): adapt the weights after each segment."
        ),
    ] = False,
    dynamic_lr: Annotated[
        float | None,
        typer.Option(parser=Float(0.0, 1e3), help="Dynamic evaluation step size [default: 5e-5]."),
    ] = None,
    dynamic_lambda: Annotated[
        float | None,
        typer.Option(
            parser=Float(0.0, 1.0, high_open=True),
            help="Dynamic evaluation decay back to the trained weights [default: 0.002].",
        ),
    ] = None,
    dynamic_segment: Annotated[
        int | None,
        typer.Option(parser=Int(1, 1_000_000), help="Dynamic evaluation: tokens scored between updates [default: 5]."),
    ] = None,
    dynamic_stats: Annotated[
        Path | None,
        typer.Option(
            parser=InputFile(),
            help="Training text to measure gradient statistics on [default: those stored by training].",
        ),
    ] = None,
    device: DeviceOpt = "auto",
    ngram_weight: NgramWeightOpt = "auto",
    ngram: NgramFileOpt = None,
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
    from charlm.cli.progress import EvalProgress
    from charlm.cli.render import file_score
    from charlm.eval.dynamic import dynamic_config
    from charlm.inputs import resolve_inputs

    lm = load(model, device=device)
    label = " ".join(str(f) for f in file)
    with (
        resolve_inputs(file, encoding, errors) as (path, codec, on_error),
        EvalProgress(label, enabled=progress if progress is not None else _big(path)) as bar,
    ):
        result = lm.eval(
            path,
            independent=independent,
            batch_size=batch_size,
            precision=precision,
            encoding=codec,
            errors=on_error,
            progress=bar,
            cache=cache,
            cache_theta=cache_theta,
            cache_lambda=cache_lambda,
            dynamic=dynamic_config(dynamic, dynamic_lr, dynamic_lambda, dynamic_segment),
            dynamic_stats=dynamic_stats,
            ngram_weight=ngram_weight,
            ngram=ngram,
        )
    file_score(replace(result, path=label), as_json)  # the inputs as given, not a joined temporary file


def _big(file: Path) -> bool:
    """Whether a file is large enough for a progress bar by default (on a terminal: elsewhere a bar is noise,
    and its last refresh left a blank line before an error)."""
    from charlm.cli.render import err

    return err.is_terminal and file.is_file() and file.stat().st_size >= PROGRESS_BYTES
