"""Progress on stderr: the training bar fed by the run's (typed) events, the corpus passes' bars, the run summary.

The library never prints; it reports through callbacks, and these draw what they report. On a
terminal, training draws a live bar; when stderr is a pipe or a file (a log, CI, nohup) it writes
one plain line per update instead, which a person or grep can read::

    step 1442 (72%) loss 1.503 val 1.509 bpc 2.177 24,597 tok/s eta 0:31
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from charlm.cli.render import err, fmt

if TYPE_CHECKING:
    from charlm.api import Event


LINE_EVERY_S = 10.0  # off a terminal: a line at every evaluation, and between them at most this often
QUICK = 2 << 20  # a pass over fewer bytes (tokens, n-grams) is not drawn: over in a blink (eval's bar starts there too)


def eta(elapsed_s: float, progress: float) -> str:
    """Time left at the pace so far, as ``m:ss`` or ``h:mm:ss``; ``-`` before there is a pace."""
    if not 0 < progress <= 1:
        return "-"
    minutes, seconds = divmod(round(elapsed_s * (1 - progress) / progress), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class TrainProgress:
    """Training events on stderr: step, loss, val loss, bits/char, tokens/s, ETA.

    ``live``: a rich bar redrawn in place (default: when stderr is a terminal); otherwise one plain
    line at each evaluation and at most every ``every_s`` seconds between them.
    """

    def __init__(self, live: bool | None = None, every_s: float = LINE_EVERY_S) -> None:
        self.live = err.is_terminal if live is None else live
        self.every_s, self.last_line = every_s, -float("inf")
        self.step: dict[str, Any] | None = None  # the last step event
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(bar_width=20),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        self.task = self.progress.add_task("train", total=1.0, info="")
        self.val = "-"
        self.bpc = "-"
        self.lines = "-"
        self.passes = PassProgress(self.live, every_s)

    def __enter__(self) -> TrainProgress:
        return self  # the bar starts with the run's "start" event, so set-up errors print alone

    def __exit__(self, *exc: object) -> None:
        self.passes.__exit__(*exc)
        if self.progress.live.is_started:  # a bar never started prints nothing (no blank line before an error)
            self.progress.stop()

    def __call__(self, event: Event) -> None:
        if event["event"] == "pass":  # the corpus passes (and the n-gram at the end): their own bar or lines
            if self.progress.live.is_started:
                self.progress.stop()  # the run's bar is done; one live display at a time
            self.passes(event["stage"], event["done"], event["total"], event["unit"])
        elif event["event"] == "start":
            self.passes.__exit__()
            if self.live:
                self.progress.start()
            err.print(
                f"run {event['run_dir']}: {event['parameters']:,} parameters, vocab {event['vocab_size']}, "
                f"{event['train_tokens']:,} train / {event['val_tokens']:,} val tokens, "
                f"{event['device']} {event['precision']}"
            )
            if event["resumed_at"] is not None:
                err.print(f"resumed at step {event['resumed_at']}")
        elif event["event"] == "step":
            self.step = dict(event)
            if self.live:
                self.progress.update(self.task, completed=min(event["progress"], 1.0), info=self._bar_info())
            elif time.perf_counter() - self.last_line >= self.every_s:
                self._line()
        elif event["event"] == "eval":
            self.val, self.bpc = fmt(event["val_loss"]), fmt(event["val_bpc"])
            self.lines = fmt(event["val_lines_bpc"])  # bits/char, every line from the start state
            if not self.live:
                self._line()
        elif event["event"] == "notice":
            err.print(f"[yellow]{event['message']}[/yellow]")

    def _bar_info(self) -> str:
        step = self.step or {}
        return (
            f"step {step.get('step')}  loss {fmt(step.get('train_loss'))}  val {self.val}  bpc {self.bpc}  "
            f"per line {self.lines}  {step.get('tokens_per_s', 0):,.0f} tok/s"
        )

    def _line(self) -> None:
        """One plain line: ``step 1442 (72%) loss 1.503 val 1.509 bpc 2.177 24,597 tok/s eta 0:31``."""
        if self.step is None:
            return
        step, progress = self.step, min(self.step["progress"], 1.0)
        print(
            f"step {step['step']} ({progress:.0%}) loss {fmt(step['train_loss'])} val {self.val} bpc {self.bpc} "
            f"{step['tokens_per_s']:,.0f} tok/s eta {eta(step['time'], progress)}",
            file=sys.stderr,
            flush=True,
        )
        self.last_line = time.perf_counter()


def train_done(result: Any) -> None:
    """The summary of a finished run on stderr and its directory on stdout."""
    err.print(
        f"done: {result.steps} steps in {result.elapsed_s:.0f} s, {result.tokens_per_s:,.0f} tokens/s; "
        f"best val {fmt(result.best_val_loss, 4)} nats/token = {fmt(result.best_val_bpc, 4)} bits/char streamed, "
        f"{fmt(result.best_val_lines_bpc, 4)} per line"
    )
    print(result.run_dir)


def _amount(value: float, unit: str) -> str:
    """``412.0 MB`` for bytes, ``1,234,567 tokens`` otherwise."""
    return f"{value / 1e6:,.1f} MB" if unit == "bytes" else f"{value:,.0f} {unit}"


class PassProgress:
    """A corpus pass (:class:`charlm.progress.Progress`) on stderr: rate and ETA, each stage on its own.

    On a terminal (``live``) a rich bar per stage; in a pipe or a file one plain line at most every
    ``every_s`` seconds and one when a stage ends; a pass of fewer than ``min_total`` units is not shown::

        counting 6-grams: 412.0 MB of 1,024.0 MB (40%) 35.1 MB/s eta 0:17
    """

    def __init__(self, live: bool | None = None, every_s: float = LINE_EVERY_S, min_total: int | None = None) -> None:
        self.live = err.is_terminal if live is None else live
        self.every_s, self.min_total = every_s, QUICK if min_total is None else min_total
        self.stage, self.started, self.last_line = "", 0.0, -float("inf")
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        self.task: Any = None

    def __enter__(self) -> PassProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def __call__(self, stage: str, done: int, total: int, unit: str = "bytes") -> None:
        if 0 < total < self.min_total:
            return  # a pass over a small file ends before a bar could say anything
        now = time.perf_counter()
        if stage != self.stage:
            self.stage, self.started, self.last_line = stage, now, -float("inf")
            if self.live:
                if not self.progress.live.is_started:
                    self.progress.start()
                if self.task is not None:
                    self.progress.remove_task(self.task)
                self.task = self.progress.add_task(stage, total=max(total, 1), rate="")
        elapsed = now - self.started
        rate = f"{_amount(done / elapsed, unit)}/s" if elapsed > 0 and done else ""
        if self.live:
            self.progress.update(self.task, completed=done, total=max(total, done, 1), rate=rate)
            return
        finished = total > 0 and done >= total
        if not finished and now - self.last_line < self.every_s:
            return
        share = f" of {_amount(total, unit)} ({min(done / total, 1.0):.0%})" if total > 0 else ""
        left = eta(elapsed, done / total) if total > 0 and rate else "-"
        print(
            f"{stage}: {_amount(done, unit)}{share}{' ' + rate if rate else ''} eta {left}", file=sys.stderr, flush=True
        )
        self.last_line = now
