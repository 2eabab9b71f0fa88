"""The ``charlm`` command line: the Typer app and the list of its commands.

Every command is options -> one library call -> rendered output, defined in :mod:`charlm.cli.train`,
:mod:`charlm.cli.recipes`, :mod:`charlm.cli.sample`, :mod:`charlm.cli.score`, :mod:`charlm.cli.model`, :mod:`charlm.cli.predict`,
:mod:`charlm.cli.rescore` and :mod:`charlm.cli.diagnostics` and registered here, explicitly, under
the headings and in the order ``charlm --help`` lists them (:data:`PANELS`). Errors are one
``charlm: error:`` line on stderr and a non-zero exit (:mod:`charlm.cli.boundary`): 2 when the command line is wrong (an unknown option, a malformed
or out-of-range value, options that cannot go together), 1 when the input, the model or the
environment is wrong, 130 when interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from charlm.cli import diagnostics, export, model, ngram, predict, recipes, rescore, sample, score, serve, train
from charlm.cli.boundary import CharlmGroup

app = typer.Typer(
    cls=CharlmGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# What people come for: ``charlm --help`` lists the commands under these headings, in this order
# (CharlmGroup.format_commands reads each command's rich_help_panel).
MAKE, USE, SHIP, INSPECT = "Make a model", "Use a model", "Ship a model", "Look inside"
PANELS: dict[str, dict[str, Callable[..., Any]]] = {
    MAKE: {"train": train.train, "tokenize": train.tokenize, "recipes": recipes.recipes, "plot": train.plot},
    USE: {
        "sample": sample.sample,
        "score": score.score,
        "eval": score.eval_,
        "predict": predict.predict,
        "rescore": rescore.rescore,
    },
    SHIP: {"serve": serve.serve, "export": export.export, "ngram": ngram.app},  # ngram: a group (build|export)
    INSPECT: {"info": model.info, "gradflow": diagnostics.gradflow, "neighbors": diagnostics.neighbors},
}
COMMANDS: dict[str, Callable[..., Any]] = {name: fn for panel in PANELS.values() for name, fn in panel.items()}
for _panel, _commands in PANELS.items():
    for _name, _command in _commands.items():
        if isinstance(_command, typer.Typer):
            app.add_typer(_command, name=_name, rich_help_panel=_panel)
        else:
            app.command(_name, rich_help_panel=_panel)(_command)


def _version(value: bool) -> None:
    if value:
        from charlm import __version__

        print(f"charlm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print charlm's version and exit."),
    ] = False,
) -> None:
    """Recurrent language models from a text file: tokenize, train, score, sample."""  # charlm --help's first line


def main() -> None:
    """Console-script entry point (the error boundary is :class:`charlm.cli.boundary.CharlmGroup`)."""
    app()
