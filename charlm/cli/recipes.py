"""The ``recipes`` command: the table ``charlm train`` picks its unset options from.

Options -> one library call (:func:`charlm.training.recipes.table`) -> :func:`charlm.cli.render.recipes_table`.
"""

from __future__ import annotations

from typing import Annotated

from charlm.cli.declared import default, option
from charlm.cli.options import JsonOpt, friendly


@friendly
def recipes(
    device: Annotated[str | None, option("recipes.device")] = default("recipes.device"),
    level: Annotated[str | None, option("recipes.level")] = default("recipes.level"),
    as_json: JsonOpt = False,
) -> None:
    """List the training recipes: per device kind, level and budget, the options charlm train takes from them and why.

    charlm train fills every option marked "from the recipe" that you do not give from the row for
    its budget: --time in minutes (10 if no budget), or --steps/--epochs read at the row's nominal
    steps per minute, so one command gives the same model on the same kind of machine.

    Example: charlm recipes --device cpu --level char
    """
    from charlm.api import recipes as rows
    from charlm.cli.render import recipes_table

    recipes_table(rows(device, level), as_json)
