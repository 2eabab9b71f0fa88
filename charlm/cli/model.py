"""The ``info`` command: what a model directory holds.

Options -> one :class:`charlm.api.Model` call -> :mod:`charlm.cli.render` output. The commands that use
a model to generate and score text are in :mod:`charlm.cli.sample` and :mod:`charlm.cli.score`.
"""

from __future__ import annotations

from charlm.cli.options import JsonOpt, ModelOpt, friendly


@friendly
def info(model: ModelOpt = None, as_json: JsonOpt = False) -> None:
    """Show what a model directory holds: architecture, size, tokenizer, data, training, best loss.

    Example: charlm info --model checkpoints/latest
    """
    from charlm.api import load
    from charlm.cli.render import info_table

    info_table(load(model, device="cpu").info().to_dict(), as_json)
