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

from charlm.cli.boundary import closed_pipe, error_line
from charlm.cli.declared import option
from charlm.cli.paths import ModelDir
from charlm.cli.values import Parser
from charlm.errors import CharlmError, CharlmWarning
from charlm.options import declared

F = TypeVar("F", bound=Callable[..., Any])

ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", "-m", parser=ModelDir(), help="Model directory [default: checkpoints/latest]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
UnkOpt = Annotated[str, option("unk")]
SegmentOpt = Annotated[str, option("segment")]
DeviceOpt = Annotated[str, option("device")]
PrecisionOpt = Annotated[str, option("precision")]
LevelOpt = Annotated[str, option("level")]
MaxVocabOpt = Annotated[int | None, option("max_vocab")]
MinCountOpt = Annotated[int, option("min_count")]
VocabSizeOpt = Annotated[int, option("vocab_size")]
SoftmaxOpt = Annotated[str, option("softmax")]
CutoffsOpt = Annotated[str | None, option("cutoffs")]
EncodingOpt = Annotated[str, option("encoding")]
ErrorsOpt = Annotated[str, option("errors")]
BatchSizeOpt = Annotated[int | None, option("batch_size")]


def validate_argv_text(values: list[str] | None) -> list[str] | None:
    """Check free-text positional arguments (sentences) like every --option's text."""
    return None if values is None else [Parser(declared("prime")).parse(v) for v in values]


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
        except BrokenPipeError:  # stdout's reader went away: a quiet exit (charlm.cli.boundary)
            raise typer.Exit(closed_pipe()) from None
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
