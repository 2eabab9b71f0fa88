"""The run directory's side of training: choosing it, metrics.jsonl, loss.png and stop signals.

* Choosing, locking and staging the directory is :mod:`charlm.training.claim`.
* ``MetricsLog`` appends one JSON object per line (flushed, so a kill loses at most a half line,
  which readers skip) and refreshes loss.png at evaluations, at most every ``PLOT_EVERY_S`` (without
  matplotlib, the ``plot`` extra, one warning says so and the run goes on without loss.png).
* ``StopSignals`` turns the first Ctrl-C (SIGINT) or SIGTERM into a request the loop honours after
  the current step (save, then exit); a second one interrupts at once. A signal that came during
  start-up and whose KeyboardInterrupt was swallowed on the way (:mod:`charlm.interrupts`) stops the
  run as it enters the loop, before its first checkpoint.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

from charlm import interrupts
from charlm.errors import CharlmError, CharlmWarning, need
from charlm.io import append_line
from charlm.layout import METRICS, PLOT

PLOT_EVERY_S = 10.0
PLOT_FILE = PLOT
SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


class MetricsLog:
    """metrics.jsonl and loss.png of one run."""

    def __init__(self, run: Path) -> None:
        self.path = run / METRICS
        self.run = run
        self.last_plot = -math.inf
        self.plots = True  # False once matplotlib (the plot extra) was found missing: said once, then skipped

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        (self.run / PLOT_FILE).unlink(missing_ok=True)

    def write(self, event: dict[str, Any]) -> None:
        append_line(self.path, json.dumps({k: _finite(v) for k, v in event.items()}, allow_nan=False))

    def plot(self, force: bool = False) -> None:
        """Redraw loss.png from the metrics (throttled unless ``force``)."""
        now = time.perf_counter()
        if not self.plots or (not force and now - self.last_plot < PLOT_EVERY_S):
            return
        from charlm.plot import write_run_plot

        try:
            need("matplotlib", "plot", "loss.png")
        except CharlmError as exc:  # the run goes on without its picture
            self.plots = False
            warnings.warn(f"{exc}; training goes on without it", CharlmWarning, stacklevel=2)
            return

        write_run_plot(self.run, title=f"{self.run.name}: loss (nats/token)")
        self.last_plot = time.perf_counter()


class StopSignals:
    """Context manager: SIGINT/SIGTERM set ``signum``; a second signal raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return SIGNAL_NAMES.get(signal.Signals(self.signum), "a signal") if self.signum else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> StopSignals:
        interrupts.check()  # a start-up signal whose KeyboardInterrupt a library swallowed
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNAL_NAMES:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
