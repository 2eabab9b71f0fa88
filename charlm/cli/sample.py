"""The ``sample`` command: generate text (sampling or beam search) from a trained model.

Thin like the rest of the CLI: options -> one :class:`charlm.api.Model` call per prime -> the text on
stdout (streamed as it comes on a terminal). Exit codes: 0 success, 1 bad input or model (one
``charlm: error:`` line on stderr), 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from charlm.cli.boundary import error_line
from charlm.cli.declared import default, option
from charlm.cli.ngram import NgramFileOpt, NgramWeightOpt
from charlm.cli.options import DeviceOpt, ModelOpt, UnkOpt, friendly
from charlm.cli.paths import InputFile
from charlm.cli.values import check_text_arg
from charlm.errors import BadOption, CharlmError
from charlm.options import ScoringOptions

if TYPE_CHECKING:
    from charlm.api import Model


@friendly
def sample(
    model: ModelOpt = None,
    temp: Annotated[float, option("temperature")] = default("temperature"),
    length: Annotated[int, option("length")] = default("length"),
    prime: Annotated[str, option("prime")] = default("prime"),
    prime_file: Annotated[
        Path | None, typer.Option(parser=InputFile(), help="Read the prime from this file instead.")
    ] = None,
    seed: Annotated[int | None, option("sample.seed")] = default("sample.seed"),
    num: Annotated[int, option("num")] = default("num"),
    top_k: Annotated[int | None, option("top_k")] = default("top_k"),
    top_p: Annotated[float | None, option("top_p")] = default("top_p"),
    until_eos: Annotated[bool, option("until_eos")] = default("until_eos"),
    stop: Annotated[list[str] | None, option("stop")] = None,
    show_logprob: Annotated[
        bool, typer.Option("--show-logprob", help="Print each sample's log-probability (nats) under the model.")
    ] = False,
    beam: Annotated[int | None, option("beam")] = default("beam"),
    length_norm: Annotated[bool, option("beam.normalize")] = default("beam.normalize"),
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="Prompt loop: each line you type primes a new sample.")
    ] = False,
    stream: Annotated[
        bool | None,
        typer.Option("--stream/--no-stream", help="Print tokens as they come [default: on a terminal, one sample]."),
    ] = None,
    unk: UnkOpt = default("unk"),
    device: DeviceOpt = default("device"),
    precision: Annotated[str, option("sample.precision")] = default("sample.precision"),
    ngram_weight: NgramWeightOpt = default("ngram_weight"),
    ngram: NgramFileOpt = None,
) -> None:
    """Generate text, drawing each token from softmax(logits / temp); never emits <unk>.

    Beam search (--beam N) instead finds the most probable continuation; --interactive reads primes
    from stdin, one per line, until end of input.

    Example: charlm sample --temp 0.8 --prime "ROMEO:" --length 300 --seed 1
    """
    from charlm.api import load
    from charlm.io import SMALL_FILE, UTF8_HINT, read_text

    if prime and prime_file is not None:
        raise BadOption("give either --prime or --prime-file, not both")
    if beam is not None and (top_k is not None or top_p is not None):
        raise BadOption("--beam searches for the most probable text; drop --top-k/--top-p (or drop --beam)")
    scoring = ScoringOptions.of(unk=unk, ngram_weight=ngram_weight, ngram=ngram, precision=precision)
    lm = load(model, device=device, options=scoring)
    start = read_text(prime_file, hint=UTF8_HINT, limit=SMALL_FILE) if prime_file is not None else prime
    live = (num == 1 and beam is None) and (stream if stream is not None else sys.stdout.isatty())
    show = _Shown(num, live, show_logprob)
    options: dict[str, Any] = dict(length=length, temperature=temp, top_k=top_k, top_p=top_p, num=num)
    options.update(seed=seed, until_eos=until_eos, stop=stop or [])
    search = (beam, length, until_eos, length_norm)
    if not interactive:
        _sample_one(lm, show, start, search, options)
        return
    for given in _prompts():
        try:  # in the prompt loop a bad line is refused alone; the session goes on
            _sample_one(lm, show, given, search, options)
        except CharlmError as exc:
            print(error_line(str(exc)), file=sys.stderr)


def _sample_one(
    lm: Model, show: _Shown, given: str, search: tuple[int | None, int, bool, bool], options: dict[str, Any]
) -> None:
    """One prime: beam search (``search[0]`` is the width) or samples, printed."""
    beam, length, until_eos, length_norm = search
    check_text_arg(given)
    if beam is not None:
        found = lm.beam(given, beam, length, until_eos, length_norm)
        show.beams(found, beam)
    else:
        show.samples(lm, given, options)


PROMPT_BYTES = 1 << 20  # one line typed (or piped) at the sample -i prompt


def _prompts() -> Iterator[str]:
    """Lines typed at the prompt (shown on stderr), until end of input."""
    while True:
        print("prime> ", end="", file=sys.stderr, flush=True)
        raw = sys.stdin.buffer.readline(PROMPT_BYTES + 1)
        if len(raw) > PROMPT_BYTES:  # an endless line is not read into memory
            raise CharlmError(f"a prompt line of over {PROMPT_BYTES:,} bytes; give shorter primes (or --prime-file)")
        line = raw.decode("utf-8", "surrogateescape")
        if not line:
            print(file=sys.stderr)
            return
        yield line.rstrip("\r\n")


@dataclass(frozen=True)
class _Shown:
    """How samples and beams are printed: streamed token by token, or whole with a header each."""

    num: int
    live: bool
    show_logprob: bool

    def samples(self, lm: Model, given: str, options: dict[str, Any]) -> None:
        def on_token(row: int, text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        if self.live:  # the prime first, as the model reads it, then the tokens as they come
            sys.stdout.write(lm.prepare(given))
        samples = lm.sample(given, on_token=on_token if self.live else None, **options)
        for n, s in enumerate(samples, 1):
            detail = f"logprob {s.logprob:.3f} nats over {s.tokens} tokens, ppl {s.ppl:.3f}, ended at {s.ended}"
            if self.live:
                print()
            elif len(samples) > 1 or self.show_logprob:
                print(f"--- sample {n} ({detail})")
            if not self.live:
                print(s.prime + s.text)
            elif self.show_logprob:
                print(f"--- {detail}")

    def beams(self, beams: list[Any], width: int) -> None:
        shown = beams[: max(1, min(self.num, width))]
        for n, b in enumerate(shown, 1):
            if len(shown) > 1 or self.show_logprob:
                state = "finished" if b.finished else "unfinished"
                print(f"--- beam {n} (logprob {b.logprob:.3f} nats over {b.tokens} tokens, {state})")
            print(b.prime + b.text)
