"""The ``charlm`` command line: the Typer app and the list of its commands.

Every command is options -> one library call -> rendered output, defined in :mod:`charlm.cli.train`,
:mod:`charlm.cli.recipes`, :mod:`charlm.cli.sample`, :mod:`charlm.cli.score`, :mod:`charlm.cli.model`, :mod:`charlm.cli.predict`,
:mod:`charlm.cli.rescore` and :mod:`charlm.cli.diagnostics` and registered here, explicitly, in the
order ``charlm --help`` lists them. Errors are one ``charlm: error:`` line on stderr and a non-zero
exit (:mod:`charlm.cli.boundary`): 2 when the command line is wrong (an unknown option, a malformed
or out-of-range value, options that cannot go together), 1 when the input, the model or the
environment is wrong, 130 when interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from charlm.cli import diagnostics, export, model, ngram, predict, recipes, rescore, sample, score, serve, train
from charlm.cli.boundary import CharlmGroup

app = typer.Typer(
    cls=CharlmGroup,
    help="Recurrent language models from a text file: tokenize, train, score, sample.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

COMMANDS: dict[str, Callable[..., Any]] = {
    "train": train.train,
    "plot": train.plot,
    "tokenize": train.tokenize,
    "recipes": recipes.recipes,
    "info": model.info,
    "sample": sample.sample,
    "score": score.score,
    "eval": score.eval_,
    "predict": predict.predict,
    "rescore": rescore.rescore,
    "gradflow": diagnostics.gradflow,
    "neighbors": diagnostics.neighbors,
    "serve": serve.serve,
    "export": export.export,
    "ngram": ngram.app,  # a group: charlm ngram build|export
}
for _name, _command in COMMANDS.items():
    if isinstance(_command, typer.Typer):
        app.add_typer(_command, name=_name)
    else:
        app.command(_name)(_command)


def main() -> None:
    """Console-script entry point (the error boundary is :class:`charlm.cli.boundary.CharlmGroup`)."""
    app()
