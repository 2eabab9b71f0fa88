"""The ``recipes`` command: the table ``charlm train`` picks its unset options from.

Options -> one library call (:func:`charlm.training.recipes.table`) -> :func:`charlm.cli.render.recipes_table`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from charlm.cli.options import LEVELS, JsonOpt, friendly
from charlm.cli.values import Choice


@friendly
def recipes(
    device: Annotated[
        str | None, typer.Option(parser=Choice(("cpu", "cuda")), help="Only this kind of device [default: both].")
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(parser=Choice(LEVELS), help="Only the rows this level uses (bpe and unigram use char's)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the training recipes: per device kind, level and budget, the options charlm train takes from them and why.

    charlm train fills every option marked "from the recipe" that you do not give from the row for
    its budget: --time in minutes (10 if no budget), or --steps/--epochs read at the row's nominal
    steps per minute, so one command gives the same model on the same kind of machine.

    Example: charlm recipes --device cpu --level char
    """
    from charlm.cli.render import recipes_table
    from charlm.training.recipes import table

    recipes_table(table(device, level), as_json)
