"""The options several commands share, declared once, and the error boundary of every command.

Each shared option is an ``Annotated`` type used by every command that takes it, so its name, help
and default live in one place. :func:`friendly` turns a library error into one ``charlm: error:``
line on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from charlm.cli.boundary import error_line
from charlm.cli.paths import ModelDir
from charlm.cli.values import Choice, Cutoffs, Device, Encoding, Int, Text
from charlm.errors import CharlmError, CharlmWarning
from charlm.io import ERRORS
from charlm.models.softmax import ADAPTIVE_MIN_VOCAB, SOFTMAXES

# The library's charlm.tokenizers.LEVELS, charlm.tokenizers.unk.UNK_POLICIES and
# charlm.tokenizers.segment.SEGMENTS, spelled here so that parsing a command line does not import
# numpy (tests/test_option_values.py checks they agree).
LEVELS = ("char", "word", "bpe", "unigram")
UNK_POLICIES = ("replace", "skip", "error", "spell")
SEGMENTS = ("auto", "none", "zh")

F = TypeVar("F", bound=Callable[..., Any])
SEED_MAX = 2**32 - 1

ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", "-m", parser=ModelDir(), help="Model directory [default: checkpoints/latest]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
UnkOpt = Annotated[
    str,
    typer.Option(
        "--unk",
        parser=Choice(UNK_POLICIES),
        help="Characters/words the model does not know: replace (<unk>), skip (drop them), error, or spell (word models: <unk> times the probability of the word's spelling, so misspellings cost more).",
    ),
]
SegmentOpt = Annotated[
    str,
    typer.Option(
        "--segment",
        parser=Choice(SEGMENTS),
        help="Word level: auto (cut Chinese text into words, refuse other text with few spaces), none (split on whitespace only) or zh (Chinese words with jieba).",
    ),
]

DeviceOpt = Annotated[str, typer.Option(parser=Device(), help="auto, cpu or cuda.")]
PrecisionOpt = Annotated[
    str,
    typer.Option(
        parser=Choice(("fp32", "bf16")),
        help="fp32 (exact, default) or bf16 (autocast: faster on CPUs with bf16, approximate).",
    ),
]
LevelOpt = Annotated[str, typer.Option(parser=Choice(LEVELS), help="Tokenizer: char, word, bpe or unigram.")]
MaxVocabOpt = Annotated[
    int | None, typer.Option(parser=Int(3), help="Char/word: keep at most this many tokens (at least 3).")
]
MinCountOpt = Annotated[int, typer.Option(parser=Int(1), help="Char/word: drop tokens seen fewer times.")]
VocabSizeOpt = Annotated[int, typer.Option(parser=Int(3, 1_000_000), help="bpe/unigram: number of pieces.")]
SoftmaxOpt = Annotated[
    str,
    typer.Option(
        parser=Choice(SOFTMAXES),
        help=f"Output layer: full, or adaptive (clustered softmax for word vocabularies of {ADAPTIVE_MIN_VOCAB:,}+ words: trains faster, every probability stays exact).",
    ),
]
CutoffsOpt = Annotated[
    str | None,
    typer.Option(
        parser=Cutoffs(),
        help="--softmax adaptive: where the frequent-word shortlist and each rarer cluster end, e.g. 2000,10000 [default: at 75% and 90% of the training tokens].",
    ),
]
EncodingOpt = Annotated[str, typer.Option(parser=Encoding(), help="Text encoding of the input file.")]
ErrorsOpt = Annotated[str, typer.Option(parser=Choice(ERRORS), help="On undecodable bytes: strict, replace or ignore.")]
SeedOpt = Annotated[int, typer.Option(parser=Int(0, SEED_MAX), help="Random seed.")]
BatchSizeOpt = Annotated[int, typer.Option(parser=Int(1, 1_000_000), help="Sentences per padded batch.")]


def validate_argv_text(values: list[str] | None) -> list[str] | None:
    """Check free-text positional arguments (sentences) like every --option's text."""
    return None if values is None else [Text().parse(v) for v in values]


def _fail(message: str, code: int = 1) -> typer.Exit:
    print(error_line(message), file=sys.stderr)
    return typer.Exit(code)


def _show_warning(
    default: Callable[..., None], message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any
) -> None:
    """A CharlmWarning is one ``charlm: warning:`` line on stderr; other warnings print as Python prints them."""
    if issubclass(category, CharlmWarning):
        print(f"charlm: warning: {message}", file=sys.stderr)
    else:
        default(message, category, *args, **kwargs)


def _out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and ("can't allocate memory" in str(exc) or "out of memory" in str(exc))
    )


def friendly(fn: F) -> F:
    """Turn library errors into one stderr line and an exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = functools.partial(_show_warning, warnings.showwarning)
                return fn(*args, **kwargs)
        except CharlmError as exc:
            raise _fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", 130) from None
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise _fail(f"{exc.strerror or exc}{where}") from None
        except (MemoryError, RuntimeError) as exc:
            if not _out_of_memory(exc):
                raise
            raise _fail(
                "not enough memory for this model or batch; use smaller --hidden/--embed/--batch-size"
            ) from None

    return wrapper  # type: ignore[return-value]
