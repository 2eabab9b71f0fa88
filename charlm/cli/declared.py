"""Typer options and arguments built from the declarations in :mod:`charlm.options`.

A command declares a declared option as ``seed: Annotated[int | None, option("sample.seed")] =
default("sample.seed")``: name, flags, parser (bounds, choices) and help come from the declaration,
and the default from the same place, so the command line cannot drift from the library and the
service (tests/test_contract.py checks every command).
"""

from __future__ import annotations

from typing import Any

import typer

from charlm.cli.values import Parser
from charlm.options import declared
from charlm.options import default as default
from charlm.values import Flag


def option(key: str, *flags: str, help: str | None = None) -> Any:
    """The Typer option of the declared option ``key`` (``flags`` replace the declared ones)."""
    opt = declared(key)
    names = flags or opt.flags or (opt.flag,)
    text = help or opt.cli_help
    if isinstance(opt.value, Flag):
        return typer.Option(*names, help=text)
    return typer.Option(*names, parser=Parser(opt), help=text)


def argument(key: str, help: str | None = None) -> Any:
    """The Typer argument of the declared option ``key``."""
    opt = declared(key)
    return typer.Argument(parser=Parser(opt), help=help or opt.cli_help)
