"""The process-level error boundary of ``charlm``: one ``charlm: error:`` line and one exit-code rule.

Exit codes (docs/reliability-hostile.md):

* 0 success;
* 1 the input, the model or the environment is wrong (a missing or binary file, a damaged model,
  a full disk), or the work failed (diverged, out of memory);
* 2 the command line is wrong: an unknown option, a missing argument, a malformed or out-of-range
  value, options that cannot go together (Typer's usage errors and :class:`charlm.errors.BadOption`);
* 130 interrupted by Ctrl-C or SIGTERM (SIGTERM is turned into the same interrupt from the first
  moment, so temp files are removed and a training run says how to resume or rerun).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

import typer
from typer._click import exceptions as click_errors

USAGE = 2
INTERRUPTED = 130


def error_line(message: str) -> str:
    """``charlm: error: <message>`` on one line (newlines inside a message become spaces)."""
    flat = " ".join(str(message).split())
    return f"charlm: error: {flat}"


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _usage_message(exc: click_errors.UsageError) -> str:
    text = exc.format_message()
    command = exc.ctx.command_path if exc.ctx is not None else "charlm"
    return f"{text} (see: {command} --help)"


def run(app: Any, args: list[str] | None = None) -> None:
    """Run the Typer ``app`` and exit with the rule above; never a traceback for a usage error."""
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        code = app(args, standalone_mode=False, prog_name="charlm")
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()
        code = USAGE
    except click_errors.UsageError as exc:
        print(error_line(_usage_message(exc)), file=sys.stderr)
        code = USAGE
    except click_errors.ClickException as exc:
        print(error_line(exc.format_message()), file=sys.stderr)
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print(error_line("interrupted"), file=sys.stderr)
        code = INTERRUPTED
    sys.exit(code if isinstance(code, int) else 0)
