"""The commands that use a trained model: ``sample``, ``score``, ``eval`` and ``info``.

Registered on :data:`charlm.cli.app` (imported at the end of :mod:`charlm.cli.app`). Thin, like the
rest of the CLI: options -> one :class:`charlm.api.Model` call -> :mod:`charlm.cli.render` output.
Exit codes: 0 success, 1 bad input or model (one ``charlm: error:`` line on stderr), 2 bad usage
(unknown option or value), 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from charlm.cli.boundary import error_line
from charlm.cli.options import (
    SEED_MAX,
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
from charlm.cli.values import Choice, Float, Int, Temperature, Text, check_text_arg, stdin_is_piped
from charlm.errors import BadOption, CharlmError
from charlm.io import json_text

if TYPE_CHECKING:
    from charlm.api import Model

PROGRESS_BYTES = 2 << 20
NORMALIZE = ("total", "token", "char")  # charlm.eval.score.NORMALIZE, without importing torch


@friendly
def sample(
    model: ModelOpt = None,
    temp: Annotated[
        float, typer.Option("--temp", "-t", parser=Temperature(), help="Softmax temperature; 0 = greedy.")
    ] = 1.0,
    length: Annotated[
        int,
        typer.Option(
            "--length", "-n", parser=Int(1, 1_000_000), help="Tokens to generate (the cap with --until-eos/--stop)."
        ),
    ] = 500,
    prime: Annotated[str, typer.Option(parser=Text(), help="Text the sample continues.")] = "",
    prime_file: Annotated[
        Path | None, typer.Option(parser=InputFile(), help="Read the prime from this file instead.")
    ] = None,
    seed: Annotated[int | None, typer.Option(parser=Int(0, SEED_MAX), help="Random seed for an exact repeat.")] = None,
    num: Annotated[
        int,
        typer.Option(
            parser=Int(1, 10_000), help="Number of samples (drawn as one batch); with --beam, hypotheses shown."
        ),
    ] = 1,
    top_k: Annotated[int | None, typer.Option(parser=Int(1), help="Sample from the k most likely tokens only.")] = None,
    top_p: Annotated[
        float | None,
        typer.Option(parser=Float(0.0, 1.0, low_open=True), help="Nucleus sampling: smallest set with this mass."),
    ] = None,
    until_eos: Annotated[
        bool, typer.Option("--until-eos", help="Stop each sample at the end of its line/sentence.")
    ] = False,
    stop: Annotated[
        list[str] | None, typer.Option(parser=Text(nonempty=True), help="Stop just before this string (repeatable).")
    ] = None,
    show_logprob: Annotated[
        bool, typer.Option("--show-logprob", help="Print each sample's log-probability (nats) under the model.")
    ] = False,
    beam: Annotated[
        int | None,
        typer.Option(parser=Int(1, 1000), help="Beam search of this width for the most probable continuation."),
    ] = None,
    length_norm: Annotated[
        bool, typer.Option("--length-norm", help="Beam with --until-eos: rank by log-prob per token.")
    ] = False,
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="Prompt loop: each line you type primes a new sample.")
    ] = False,
    stream: Annotated[
        bool | None,
        typer.Option("--stream/--no-stream", help="Print tokens as they come [default: on a terminal, one sample]."),
    ] = None,
    unk: UnkOpt = "replace",
    device: DeviceOpt = "auto",
    precision: Annotated[
        str,
        typer.Option(
            parser=Choice(("fp32", "bf16")),
            help="fp32 (exact, default) or bf16 (bf16 weight matrices: faster at large --num on CPUs with bf16, approximate; a --seed repeats only within one precision).",
        ),
    ] = "fp32",
) -> None:
    """Generate text, drawing each token from softmax(logits / temp); never emits <unk>.

    Beam search (--beam N) instead finds the most probable continuation; --interactive reads primes
    from stdin, one per line, until end of input.

    Example: charlm sample --temp 0.8 --prime "ROMEO:" --length 300 --seed 1
    """
    from charlm.api import load
    from charlm.io import UTF8_HINT, read_text

    if prime and prime_file is not None:
        raise BadOption("give either --prime or --prime-file, not both")
    if beam is not None and (top_k is not None or top_p is not None):
        raise BadOption("--beam searches for the most probable text; drop --top-k/--top-p (or drop --beam)")
    lm = load(model, device=device)
    from charlm.eval.bidirectional import refuse_sampling

    refuse_sampling(lm.module)  # a --direction both model cannot generate left to right
    start = read_text(prime_file, hint=UTF8_HINT) if prime_file is not None else prime
    live = (num == 1 and beam is None) and (stream if stream is not None else sys.stdout.isatty())
    options = dict(
        length=length,
        temperature=temp,
        top_k=top_k,
        top_p=top_p,
        num=num,
        seed=seed,
        until_eos=until_eos,
        stop=stop or [],
        precision=precision,
    )
    if not interactive:
        _sample_one(lm, start, unk, beam, length, until_eos, length_norm, num, show_logprob, options, live)
        return
    for given in _prompts():
        try:  # in the prompt loop a bad line is refused alone; the session goes on
            _sample_one(lm, given, unk, beam, length, until_eos, length_norm, num, show_logprob, options, live)
        except CharlmError as exc:
            print(error_line(str(exc)), file=sys.stderr)


def _sample_one(
    lm: Model,
    given: str,
    unk: str,
    beam: int | None,
    length: int,
    until_eos: bool,
    length_norm: bool,
    num: int,
    show_logprob: bool,
    options: dict[str, Any],
    live: bool,
) -> None:
    from charlm.tokenizers.unk import apply_unk_policy

    text = apply_unk_policy(lm.tokenizer, check_text_arg(given), unk)
    if beam is not None:
        _print_beams(lm, text, beam, length, until_eos, length_norm, num, show_logprob)
    else:
        _print_samples(lm, text, options, live, show_logprob)


def _prompts() -> Iterator[str]:
    """Lines typed at the prompt (shown on stderr), until end of input."""
    while True:
        print("prime> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.buffer.readline().decode("utf-8", "surrogateescape")
        if not line:
            print(file=sys.stderr)
            return
        yield line.rstrip("\r\n")


def _print_samples(lm: Model, prime: str, options: dict[str, Any], live: bool, show_logprob: bool) -> None:
    def on_token(row: int, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    if live:
        sys.stdout.write(prime)
    samples = lm.sample(prime, on_token=on_token if live else None, **options)
    for n, s in enumerate(samples, 1):
        detail = f"logprob {s.logprob:.3f} nats over {s.tokens} tokens, ppl {s.ppl:.3f}, ended at {s.ended}"
        if live:
            print()
        elif len(samples) > 1 or show_logprob:
            print(f"--- sample {n} ({detail})")
        if not live:
            print(prime + s.text)
        elif show_logprob:
            print(f"--- {detail}")


def _print_beams(
    lm: Model, prime: str, width: int, length: int, until_eos: bool, length_norm: bool, num: int, show_logprob: bool
) -> None:
    beams = lm.beam(prime, width=width, length=length, until_eos=until_eos, normalize=length_norm)
    shown = beams[: max(1, min(num, width))]
    for n, b in enumerate(shown, 1):
        if len(shown) > 1 or show_logprob:
            state = "finished" if b.finished else "unfinished"
            print(f"--- beam {n} (logprob {b.logprob:.3f} nats over {b.tokens} tokens, {state})")
        print(prime + b.text)


def _sentences(sentences: list[str] | None, lines: Path | None) -> list[str]:
    """Arguments, then the lines of --lines, else stdin when it is not a terminal; blank lines skipped."""
    from charlm.io import UTF8_HINT, read_stream, read_text

    texts = list(sentences or [])
    if lines is not None:
        texts += read_text(lines, hint=UTF8_HINT).split("\n")
    elif not texts and stdin_is_piped():
        texts = read_stream(sys.stdin.buffer).split("\n")  # read once, with the file reader's checks
    return [t for t in texts if t.strip()]


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
            help="Score a whole file as one text (state carried): same as charlm eval FILE.",
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
    batch_size: BatchSizeOpt = 64,
    precision: PrecisionOpt = "fp32",
    unk: UnkOpt = "replace",
    device: DeviceOpt = "auto",
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
    from charlm.cli.render import bidirectional_table

    if file is not None:
        if sentences or lines is not None:
            raise BadOption("--file scores a whole file; give sentences or --lines separately")
        if unk != "replace":
            raise BadOption(
                "--unk skip/error apply to sentences; --file scores the text as it is "
                "(unknown tokens count as <unk>; see ppl_no_oov)"
            )
        from charlm.io import UTF8_HINT, iter_chunks

        for _ in iter_chunks(file, hint=UTF8_HINT):  # score has no --encoding: say so if the file is not UTF-8
            pass
        lm = load(model, device=device)
        if lm.bidirectional:  # --direction both: forward, backward, mean
            bidirectional_table(lm.score_both(file=file), as_json)
        else:
            _eval(lm, file, False, as_json, batch_size, precision, None, "utf-8", "strict")
        return
    texts = _sentences(sentences, lines)
    if not texts:
        raise CharlmError("nothing to score: give sentences as arguments, on stdin, with --lines, or a --file")
    lm = load(model, device=device)
    texts = _apply_unk(lm, texts, unk)
    if lm.bidirectional:  # --direction both: forward, backward, mean
        bidirectional_table(lm.score_both(texts), as_json)
        return
    scores = lm.score(texts, normalize=normalize, per_token=per_token, batch_size=batch_size, precision=precision)
    if as_json:
        for s in scores:
            print(json_text(s.to_dict()))
        return
    from charlm.cli.render import scores_table
    from charlm.eval.score import ranking

    scores_table(ranking(scores, normalize), per_token)


@friendly
def eval_(
    file: Annotated[
        Path, typer.Argument(parser=InputFile(), help="Text file to evaluate (may be larger than memory).")
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
        typer.Option("--progress/--no-progress", help="Progress bar on stderr [default: files over 2 MiB]."),
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
    device: DeviceOpt = "auto",
) -> None:
    """Perplexity (with and without OOV), bits per char and OOV rate of a whole file.

    Streamed by default: the file is one text with the state carried across lines (cut at line
    starts into up to --batch-size parallel rows); --independent scores each line as a sentence.
    --cache N adds the continuous cache: each row remembers its last N (hidden state, next token)
    pairs and the model's distribution is mixed with a pointer over them.

    Example: charlm eval test.txt --model checkpoints/latest --json --cache 2000
    """
    from charlm.api import load

    settings = _cache_settings(cache, cache_theta, cache_lambda)
    _eval(
        load(model, device=device),
        file,
        independent,
        as_json,
        batch_size,
        precision,
        progress,
        encoding,
        errors,
        settings,
    )


def _apply_unk(lm: Model, texts: list[str], unk: str) -> list[str]:
    """The sentences under the --unk policy; one that --unk skip empties is refused like an empty one."""
    from charlm.tokenizers.unk import apply_unk_policy

    kept = [apply_unk_policy(lm.tokenizer, t, unk) for t in texts]
    for n, (before, after) in enumerate(zip(texts, kept, strict=True), 1):
        if not after.strip():
            raise CharlmError(
                f"sentence {n} ({before[:40]!r}) is empty once --unk skip drops what the model does not know"
            )
    return kept


def _cache_settings(size: int | None, theta: float | None, lam: float | None) -> dict[str, Any]:
    """The keyword arguments of :meth:`Model.eval` for the cache options (refused without --cache)."""
    from charlm.eval.cache import CACHE_LAMBDA, CACHE_THETA, CacheConfig

    if size is None:
        if theta is not None or lam is not None:
            raise BadOption("--cache-theta and --cache-lambda tune the cache; add --cache N")
        return {}
    config = CacheConfig(size, CACHE_THETA if theta is None else theta, CACHE_LAMBDA if lam is None else lam)
    return {"cache": config.size, "cache_theta": config.theta, "cache_lambda": config.lam}


def _eval(
    lm: Model,
    file: Path,
    independent: bool,
    as_json: bool,
    batch_size: int,
    precision: str,
    progress: bool | None,
    encoding: str,
    errors: str,
    cache: dict[str, Any] | None = None,
) -> None:
    from charlm.cli.render import EvalProgress, corpus_table

    show = progress if progress is not None else file.is_file() and file.stat().st_size >= PROGRESS_BYTES
    with EvalProgress(str(file), enabled=show) as bar:
        result = lm.eval(
            file,
            independent=independent,
            batch_size=batch_size,
            precision=precision,
            encoding=encoding,
            errors=errors,
            progress=bar,
            **(cache or {}),
        )
    if as_json:
        print(json_text(result.to_dict()))
    else:
        corpus_table(result)


@friendly
def info(model: ModelOpt = None, as_json: JsonOpt = False) -> None:
    """Show what a model directory holds: architecture, size, tokenizer, data, training, best loss.

    Example: charlm info --model checkpoints/latest
    """
    from charlm.api import load

    details = load(model, device="cpu").info()
    if as_json:
        print(json_text(details))
        return
    from charlm.cli.render import info_table

    info_table(details)
