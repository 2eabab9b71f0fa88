"""What ``charlm train`` does with its options: start a run, or decide what a ``--resume`` continues and changes.

The command line hands its options over as they were parsed (named like the TrainConfig fields they
set, :func:`charlm.training.config.option_values`) with the names the user typed; the library picks
the run, refuses changes a resumed run cannot take, and trains. A new run takes the options the user
left unset (``None``) from the recipe for its budget and device (:mod:`charlm.training.recipes`); a
resumed run never picks one again: its config.json already holds every value. The result says whether this
process reports (only rank 0 of a distributed run does).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from charlm.errors import BadOption
from charlm.training.config import TrainConfig, option_values
from charlm.training.loop import Callback, TrainResult, resume, train
from charlm.training.resume import find_run


def launch(
    options: Mapping[str, Any], typed: Collection[str] = (), resume_run: bool = False, callback: Callback | None = None
) -> TrainResult:
    """A new run from ``options``, or with ``resume_run`` the run they point at, changing what was ``typed``."""
    values = option_values(options)
    if resume_run:
        run, changes = resume_request(values, typed)
        return resume(run, changes, callback)
    if values.get("corpus") is None:
        raise BadOption("give a CORPUS file to train on (or --resume to continue a run)")
    return train(TrainConfig.from_dict(values), callback)  # train() applies the recipe, as charlm.train does


def resume_request(values: Mapping[str, Any], typed: Collection[str]) -> tuple[Path, dict[str, Any]]:
    """The run a resume continues and the TrainConfig fields it is asked to change.

    The run is the CORPUS argument when that is a directory, else ``out``, else checkpoints/latest.
    Only options typed now count as changes (a resumed run keeps its saved values); ``--save-every``
    sets two fields. A CORPUS file given again is checked against the run's (:func:`resumed_config`).
    """
    corpus = values.get("corpus")
    target = corpus if corpus is not None and not Path(corpus).is_file() else None
    named = set(typed) | ({"save_every_s"} if "save_every" in typed else set())
    changes = {k: v for k, v in values.items() if k in named and k != "corpus"}
    if corpus is not None and target is None:
        changes["corpus"] = corpus
    return find_run(target, values.get("out"), values.get("checkpoints", "checkpoints")), changes
