"""Loss curves from metrics.jsonl: one run's loss.png, or several runs overlaid for comparison.

matplotlib (the ``plot`` extra; Agg backend, no display needed) is imported only when a plot is drawn.
A run's own loss.png is written atomically like every other file of its run directory; ``charlm plot``
claims its ``--out`` first (:mod:`charlm.writer`): never inside a model, never over a file that is not a PNG.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

from charlm.errors import CharlmError, need
from charlm.io import write_atomic
from charlm.layout import METRICS, PLOT
from charlm.writer import Kind, claim_file

Curve = tuple[list[int], list[float]]
PNG = Kind("a PNG image", "--out", magic=(b"\x89PNG\r\n\x1a\n",))


def read_curves(run: Path) -> tuple[Curve, Curve]:
    """(train steps, train losses), (eval steps, validation losses) of a run; skips damaged lines."""
    path = Path(run) / METRICS
    if not path.is_file():
        raise CharlmError(f"{run} has no metrics.jsonl; give a run directory written by charlm train")
    train: Curve = ([], [])
    val: Curve = ([], [])
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        if not isinstance(event.get("step"), int) or isinstance(event.get("step"), bool):
            continue  # a line without a step cannot be placed on the curve
        if event.get("event") == "step" and isinstance(event.get("train_loss"), (int, float)):
            train[0].append(event["step"])
            train[1].append(event["train_loss"])
        elif event.get("event") == "eval" and isinstance(event.get("val_loss"), (int, float)):
            val[0].append(event["step"])
            val[1].append(event["val_loss"])
    return train, val


def render_runs(runs: Sequence[Path], title: str | None = None) -> bytes:
    """The PNG of train (thin) and validation (bold) loss curves of ``runs``."""
    need("matplotlib", "plot", "drawing loss curves")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [(Path(run), *read_curves(run)) for run in runs]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    try:
        for n, (run, train, val) in enumerate(curves):
            color = f"C{n % 10}"
            label = run.resolve().name if len(curves) > 1 else ""
            ax.plot(*train, color=color, alpha=0.5, linewidth=1, label=f"{label} train".strip())
            ax.plot(*val, color=color, marker="o", markersize=3, linewidth=2, label=f"{label} val".strip())
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/token)")
        ax.set_title(title or ", ".join(run.resolve().name for run, _, _ in curves))
        ax.grid(alpha=0.3)
        ax.legend()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def write_run_plot(run: Path, title: str) -> None:
    """A run's own loss.png, inside its run directory (the training loop's; never claimed like a command's output)."""
    data = render_runs([run], title)
    write_atomic(Path(run) / PLOT, lambda fh: fh.write(data))


def plot_runs(runs: Sequence[Path], out: Path, title: str | None = None) -> Path:
    """Draw the loss curves of ``runs`` into the PNG file ``out``, claimed first (:mod:`charlm.writer`).

    A path inside a model directory or a run, or an existing file that is not a PNG, is refused before drawing.
    """
    with claim_file(out, PNG, sources=list(runs)) as target:
        data = render_runs(runs, title)
        target.write(lambda fh: fh.write(data))
    return out
