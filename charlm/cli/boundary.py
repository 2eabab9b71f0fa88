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
from typer.core import TyperGroup

from charlm import interrupts

# Click's exception classes as the installed typer raises them. Typer 0.2x vendors click under a
# private module, so ``import click`` would catch another copy's classes; the public ``typer.BadParameter``
# is that copy's ``BadParameter``, and its bases are the ``UsageError`` and ``ClickException`` raised.
_BASES = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
UsageError: type[Exception] = _BASES["UsageError"]
ClickException: type[Exception] = _BASES["ClickException"]

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


def _usage_message(exc: Any) -> str:
    """A usage error's message and the command whose --help explains it."""
    text = exc.format_message()
    command = exc.ctx.command_path if exc.ctx is not None else "charlm"
    return f"{text} (see: {command} --help)"


def _exit_code(call: Any) -> int:
    """Run ``call()`` (a command line in non-standalone mode) and map every outcome to the rule above."""
    try:
        code = call()
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare ``charlm``: the help, not an error line
            exc.show()  # type: ignore[attr-defined]
        else:
            print(error_line(_usage_message(exc)), file=sys.stderr)
        return USAGE
    except ClickException as exc:
        print(error_line(exc.format_message()), file=sys.stderr)  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
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
    """The ``charlm`` command group: its ``main`` is the error boundary (the executable and CliRunner share it).

    ``--help`` lists the commands under their ``rich_help_panel`` headings in plain text (typer draws
    panels only in its rich mode, which the app leaves off so help reads the same in a pipe).
    """

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        listed = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, cmd) for name, cmd in listed if cmd is not None and not cmd.hidden]
        if not shown:
            return
        width = max(len(name) for name, _ in shown)
        for name, cmd in shown:
            panel = getattr(cmd, "rich_help_panel", None) or "Commands"
            row = (name.ljust(width), cmd.get_short_help_str(formatter.width - 6 - width))  # one column across panels
            panels.setdefault(panel, []).append(row)
        for panel, rows in panels.items():
            with formatter.section(panel):
                formatter.write_dl(rows)

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
