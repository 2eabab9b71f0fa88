"""Gradient flow through time (:func:`gradflow`): how far back a loss still reaches, per architecture or model."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from charlm.errors import need
from charlm.eval.gradflow import GradFlow, compare, render
from charlm.io import UTF8_HINT, read_text
from charlm.options import check_all
from charlm.plot import PNG
from charlm.writer import claim_file

GRADFLOW_PNG = replace(PNG, option="--plot")


def gradflow(
    archs: Sequence[str] = (),
    models: Sequence[str | Path] = (),
    text: str | Path | None = None,
    length: int = 100,
    batch: int = 16,
    hidden: int = 128,
    layers: int = 1,
    seed: int = 0,
    plot: str | Path | None = None,
) -> list[GradFlow]:
    """|dLoss_T/ds_t| against the distance T - t for random-weight ``archs`` and trained ``models``.

    ``text`` is a file to read windows from (default: uniformly random tokens); with neither archs
    nor models, rnn, lstm and gru are measured. ``plot``: also write the log-scale PNG there.
    """
    check_all("gradflow", {"length": length, "batch": batch, "hidden": hidden, "layers": layers, "seed": seed})
    if plot is not None:
        need("matplotlib", "plot", "the gradient-flow plot")  # before the work, not after it
    names = list(archs) if archs else ([] if models else ["rnn", "lstm", "gru"])
    sources = [*models, *([text] if text is not None else [])]
    # The plot is claimed before any measuring (charlm.writer): never inside a model, never over a non-PNG.
    with claim_file(plot, GRADFLOW_PNG, sources) if plot is not None else contextlib.nullcontext() as target:
        content = read_text(text, hint=UTF8_HINT) if text is not None else None
        results = compare(names, list(models), content, length, batch, hidden, layers, seed)
        if target is not None:
            data = render(results)
            target.write(lambda fh: fh.write(data))
    return results
