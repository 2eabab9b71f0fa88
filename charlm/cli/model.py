"""The ``info`` command: what a model directory holds.

Options -> one :class:`charlm.api.Model` call -> :mod:`charlm.cli.render` output. The commands that use
a model to generate and score text are in :mod:`charlm.cli.sample` and :mod:`charlm.cli.score`.
"""

from __future__ import annotations

from typing import Annotated

from charlm.cli.declared import default, option
from charlm.cli.options import JsonOpt, ModelOpt, friendly


@friendly
def info(
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    curve: Annotated[bool, option("curve")] = default("curve"),
    points: Annotated[int, option("points")] = default("points"),
) -> None:
    """Show what a model directory holds: architecture, size, tokenizer, data, training, best loss.

    --curve adds the training curve from metrics.jsonl ({"train": [[step, loss], ...], "val": [...]},
    at most --points points each), as GET /metrics of charlm serve answers.

    Example: charlm info --model checkpoints/latest
    """
    from charlm.api import load
    from charlm.cli.render import info_table

    lm = load(model, device="cpu")
    found = lm.info().to_dict()
    if curve:
        found["curve"] = lm.curve(points)
    info_table(found, as_json)
