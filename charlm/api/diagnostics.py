"""Gradient flow through time (:func:`gradflow`): how far back a loss still reaches, per architecture or model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from charlm.errors import need
from charlm.eval.gradflow import GradFlow, compare
from charlm.eval.gradflow import plot as plot_gradflow
from charlm.io import UTF8_HINT, read_text
from charlm.options import check_all


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
    content = read_text(text, hint=UTF8_HINT) if text is not None else None
    results = compare(names, list(models), content, length, batch, hidden, layers, seed)
    if plot is not None:
        plot_gradflow(results, Path(plot))
    return results
