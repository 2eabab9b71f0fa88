"""The process-level error boundary of ``charlm``: one ``charlm: error:`` line and one exit-code rule.

Exit codes (docs/reliability-hostile.md):

* 0 success;
* 1 the input, the model or the environment is wrong (a missing or binary file, a damaged model,
  a full disk), or the work failed (diverged, out of memory);
* 2 the command line is wrong: an unknown option, a missing argument, a malformed or out-of-range
  value, options that cannot go together (Typer's usage errors and :class:`charlm.errors.BadOption`);
* 141 the reader of stdout went away (``charlm score --json | head -c 10``): quiet, no message, the
  code a Unix tool killed by SIGPIPE gets (so ``set -o pipefail`` still sees the output was cut);
* 130 interrupted by Ctrl-C or SIGTERM (SIGTERM is turned into the same interrupt from the first
  moment, so temp files are removed and a training run says how to resume or rerun). The signal is
  also remembered (:mod:`charlm.interrupts`): one whose exception a library swallowed still ends the
  command, at the next point that begins or commits work, or here, with 130.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click import exceptions as click_errors
from typer.core import TyperGroup

from charlm import interrupts

USAGE = 2
INTERRUPTED = 130
PIPE_CLOSED = 141  # 128 + SIGPIPE


def closed_pipe() -> int:
    """stdout's reader has gone: point stdout at /dev/null (so the exit's flush is silent); 141."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return PIPE_CLOSED


def error_line(message: str) -> str:
    """``charlm: error: <message>`` on one line (newlines inside a message become spaces)."""
    flat = " ".join(str(message).split())
    return f"charlm: error: {flat}"


def _usage_message(exc: click_errors.UsageError) -> str:
    text = exc.format_message()
    command = exc.ctx.command_path if exc.ctx is not None else "charlm"
    return f"{text} (see: {command} --help)"


def _exit_code(call: Any) -> int:
    """Run ``call()`` (a command line in non-standalone mode) and map every outcome to the rule above."""
    try:
        code = call()
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()
        return USAGE
    except click_errors.UsageError as exc:
        print(error_line(_usage_message(exc)), file=sys.stderr)
        return USAGE
    except click_errors.ClickException as exc:
        print(error_line(exc.format_message()), file=sys.stderr)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print(error_line("interrupted"), file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return closed_pipe()
    try:
        sys.stdout.flush()  # what the command printed last, while a closed pipe can still be told apart
    except BrokenPipeError:
        return closed_pipe()
    code = code if isinstance(code, int) else 0
    if code == 0 and interrupts.pending() is not None:  # a signal whose KeyboardInterrupt a library swallowed
        print(error_line("interrupted"), file=sys.stderr)
        return INTERRUPTED
    return code


class CharlmGroup(TyperGroup):
    """The ``charlm`` command group: its ``main`` is the error boundary (the executable and CliRunner share it)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        def call() -> Any:
            return super(CharlmGroup, self).main(args, "charlm", complete_var, False, **extra)

        if not standalone_mode:
            return call()
        with interrupts.caught():  # from the first moment, SIGTERM stops like Ctrl-C, and neither is lost
            code = _exit_code(call)
        sys.exit(code)
