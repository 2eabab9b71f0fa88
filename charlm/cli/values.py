"""Option values on the command line: each option's declared kind of value (:mod:`charlm.options`) as a
Typer ``parser``.

A parser turns the typed string into a value or raises ``typer.BadParameter`` with the declaration's
one line (so a bad value is refused before the command body runs: before any file is written or any
model loaded). :class:`Value` is the command-line flavour of :class:`charlm.options.values.Value`:
the file and directory kinds (:mod:`charlm.cli.paths`) subclass it; :class:`Parser` wraps a declared
option's value. Both keep the ``bad`` examples that the hostile-input suite feeds to every option.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from charlm import values as kinds
from charlm.errors import CharlmError
from charlm.options import Opt
from charlm.values import check_text_arg

__all__ = ["Parser", "Value", "check_text_arg", "stdin_is_piped"]


class Value(kinds.Value):
    """A kind of value that is also a Typer parser (``typer.BadParameter`` on a bad value)."""

    def __call__(self, text: Any) -> Any:
        if not isinstance(text, str):
            return text  # a declared default, not typed by the user
        try:
            return self.parse(text)
        except CharlmError as exc:
            raise typer.BadParameter(str(exc)) from None


class Parser(Value):
    """The parser of a declared option: its kind of value, its bad examples, its declaration."""

    def __init__(self, opt: Opt) -> None:
        self.opt = opt
        self.value = opt.value
        self.bad = opt.value.bad
        self.__name__ = opt.value.__name__

    def parse(self, text: str) -> Any:
        return self.value.parse(text)


def stdin_is_piped() -> bool:
    """Whether stdin is a pipe or file (not a terminal) that sentences can be read from."""
    try:
        return not sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
