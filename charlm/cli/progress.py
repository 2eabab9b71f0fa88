"""Progress on stderr: the training bar fed by the run's (typed) events, the evaluation bar, the run summary.

The library never prints; it reports through callbacks, and these draw what they report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from charlm.cli.render import err, fmt

if TYPE_CHECKING:
    from charlm.api import Event


class TrainProgress:
    """A progress bar on stderr fed by training events: step, loss, val loss, bits/char, tokens/s, ETA."""

    def __init__(self) -> None:
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

    def __enter__(self) -> TrainProgress:
        return self  # the bar starts with the run's "start" event, so set-up errors print alone

    def __exit__(self, *exc: object) -> None:
        if self.progress.live.is_started:  # a bar never started prints nothing (no blank line before an error)
            self.progress.stop()

    def __call__(self, event: Event) -> None:
        if event["event"] == "start":
            self.progress.start()
            err.print(
                f"run {event['run_dir']}: {event['parameters']:,} parameters, vocab {event['vocab_size']}, "
                f"{event['train_tokens']:,} train / {event['val_tokens']:,} val tokens, "
                f"{event['device']} {event['precision']}"
            )
            if event["resumed_at"] is not None:
                err.print(f"resumed at step {event['resumed_at']}")
        elif event["event"] == "step":
            info = (
                f"step {event['step']}  loss {fmt(event['train_loss'])}  val {self.val}  bpc {self.bpc}  "
                f"per line {self.lines}  {event['tokens_per_s']:,.0f} tok/s"
            )
            self.progress.update(self.task, completed=min(event["progress"], 1.0), info=info)
        elif event["event"] == "eval":
            self.val, self.bpc = fmt(event["val_loss"]), fmt(event["val_bpc"])
            self.lines = fmt(event["val_lines_bpc"])  # bits/char, every line from the start state
        elif event["event"] == "notice":
            err.print(f"[yellow]{event['message']}[/yellow]")


def train_done(result: Any) -> None:
    """The summary of a finished run on stderr and its directory on stdout."""
    err.print(
        f"done: {result.steps} steps in {result.elapsed_s:.0f} s, {result.tokens_per_s:,.0f} tokens/s; "
        f"best val {fmt(result.best_val_loss, 4)} nats/token = {fmt(result.best_val_bpc, 4)} bits/char streamed, "
        f"{fmt(result.best_val_lines_bpc, 4)} per line"
    )
    print(result.run_dir)


class EvalProgress:
    """A byte-count progress bar on stderr for ``charlm eval``; a no-op when not enabled."""

    def __init__(self, path: str, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn(f"[bold]eval {path}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        self.task = self.progress.add_task("eval", total=1)

    def __enter__(self) -> EvalProgress:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()

    def __call__(self, done: int, total: int) -> None:
        if self.enabled:
            self.progress.update(self.task, completed=done, total=total)
