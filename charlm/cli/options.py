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

from charlm.errors import CharlmError, CharlmWarning

F = TypeVar("F", bound=Callable[..., Any])
ModelOpt = Annotated[Path | None, typer.Option("--model", "-m", help="Model directory [default: checkpoints/latest].")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
UnkOpt = Annotated[
    str,
    typer.Option("--unk", help="Characters/words the model does not know: replace (<unk>), skip (drop them) or error."),
]
SegmentOpt = Annotated[
    str,
    typer.Option(
        "--segment",
        help="Word level: auto (cut Chinese text into words, refuse other text with few spaces), none (split on whitespace only) or zh (Chinese words with jieba).",
    ),
]

DeviceOpt = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
EncodingOpt = Annotated[str, typer.Option(help="Text encoding of the file.")]
ErrorsOpt = Annotated[str, typer.Option(help="On undecodable bytes: strict or replace.")]
PrecisionOpt = Annotated[
    str, typer.Option(help="fp32 (exact, default) or bf16 (autocast: faster on CPUs with bf16, approximate).")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    print(f"charlm: error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _show_warning(
    default: Callable[..., None], message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any
) -> None:
    """A CharlmWarning is one ``charlm: warning:`` line on stderr; other warnings print as Python prints them."""
    if issubclass(category, CharlmWarning):
        print(f"charlm: warning: {message}", file=sys.stderr)
    else:
        default(message, category, *args, **kwargs)


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

    return wrapper  # type: ignore[return-value]
