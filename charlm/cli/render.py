"""Rich output for the CLI: tables on stdout, progress and chatter on stderr.

The library never prints; everything a person sees is drawn here.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from charlm.io import json_text

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fmt(value: float | None, digits: int = 3) -> str:
    """A float for a table cell; '-' for missing or non-finite values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


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

    def __enter__(self) -> TrainProgress:
        return self  # the bar starts with the run's "start" event, so set-up errors print alone

    def __exit__(self, *exc: object) -> None:
        if self.progress.live.is_started:  # a bar never started prints nothing (no blank line before an error)
            self.progress.stop()

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "start":
            self.progress.start()
            err.print(
                f"run {event['run_dir']}: {event['parameters']:,} parameters, vocab {event['vocab_size']}, "
                f"{event['train_tokens']:,} train / {event['val_tokens']:,} val tokens, "
                f"{event['device']} {event['precision']}"
            )
            if event.get("resumed_at") is not None:
                err.print(f"resumed at step {event['resumed_at']}")
        elif kind == "step":
            info = (
                f"step {event['step']}  loss {fmt(event['train_loss'])}  val {self.val}  bpc {self.bpc}  "
                f"{event['tokens_per_s']:,.0f} tok/s"
            )
            self.progress.update(self.task, completed=min(event["progress"], 1.0), info=info)
        elif kind == "eval":
            self.val, self.bpc = fmt(event["val_loss"]), fmt(event["val_bpc"])
        elif kind == "notice":
            err.print(f"[yellow]{event['message']}[/yellow]")


NORMALIZE_LABEL = {
    "total": "total log-prob (nats)",
    "token": "log-prob per token (nats)",
    "char": "log-prob per character (nats)",
}


def _show(table: Table) -> None:
    """Print a wide table; written to a pipe or file it gets 200 columns instead of rich's 80."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(file=sys.stdout, width=200, highlight=False, soft_wrap=True).print(table)


def scores_table(ranking: Any, per_token: bool) -> None:
    """Ranked sentence scores (best first), the margin between the best two and, if asked, each token."""
    label = NORMALIZE_LABEL[ranking.normalize]
    table = Table(title=f"sentences ranked by {label}, best first (ln = natural log; <eos> counted, start not)")
    for col in ("#", "sentence", "score", "ln p", "log10 p", "tokens", "oov", "ppl", "ppl w/o oov", "bits/char"):
        table.add_column(col, justify="left" if col == "sentence" else "right")
    for s in ranking.scores:
        table.add_row(
            str(s.rank),
            s.text,
            fmt(s.score, 4),
            fmt(s.logprob),
            fmt(s.log10prob),
            str(s.tokens),
            str(s.oov),
            fmt(s.ppl, 2),
            fmt(s.ppl_no_oov, 2),
            fmt(s.bpc),
        )
    _show(table)
    if ranking.margin is not None:
        out.print(f"margin between the best two: {fmt(ranking.margin, 4)} ({label})")
    if per_token:
        for s in ranking.scores:
            per_token_table(s)


def per_token_table(s: Any) -> None:
    """Each token of one sentence with its log-probability (ln and log10) and probability."""
    detail = Table(title=f"#{s.rank} {s.text}")
    for col in ("token", "logprob (ln)", "log10", "p"):
        detail.add_column(col, justify="left" if col == "token" else "right")
    for token, lp in s.per_token or []:
        detail.add_row(repr(token)[1:-1], fmt(lp, 4), fmt(lp / math.log(10), 4), f"{math.exp(lp):.4g}")
    _show(detail)


def corpus_table(score: Any) -> None:
    """Perplexity (with and without OOV), bits per char and OOV rate of a corpus."""
    mode = (
        "streamed, state carried across lines" + (f", {score.rows} parallel rows" if score.rows > 1 else "")
        if score.mode == "stream"
        else "each line from a fresh state, <eos> counted"
    )
    if getattr(score, "cache", None):
        mode += ", neural cache {size} theta {theta} lambda {lambda}".format(**score.cache)
    table = Table(title=f"corpus score: {score.path} ({mode})", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    for name, value in (
        ("tokens", f"{score.tokens:,}"),
        ("characters", f"{score.chars:,}"),
        ("OOV tokens", f"{score.oov:,} ({score.oov_rate:.2%})"),
        ("log-probability (ln)", fmt(score.logprob, 1)),
        ("log10", fmt(score.log10prob, 1)),
        ("nats/token", fmt(score.nats_per_token, 4)),
        ("perplexity", fmt(score.ppl, 3)),
        ("perplexity without OOV", fmt(score.ppl_no_oov, 3)),
        ("bits/char", fmt(score.bpc, 4)),
    ):
        table.add_row(name, value)
    _show(table)


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


def tokenize_table(stats: dict[str, Any], top: list[tuple[str, int]]) -> None:
    """Vocabulary size, token count, unknown rate and the most frequent tokens."""
    table = Table(title=f"{stats['level']} tokenizer on {stats['corpus']}", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    for key in ("vocab_size", "tokens", "chars", "chars_per_token", "unk", "unk_rate"):
        value = stats[key]
        table.add_row(key.replace("_", " "), fmt(value, 4) if isinstance(value, float) else f"{value:,}")
    out.print(table)
    freq = Table(title="most frequent tokens")
    for col in ("#", "token", "count", "share"):
        freq.add_column(col, justify="left" if col == "token" else "right")
    for rank, (token, count) in enumerate(top, 1):
        freq.add_row(str(rank), repr(token)[1:-1], f"{count:,}", f"{count / max(stats['tokens'], 1):.2%}")
    out.print(freq)


def info_table(info: dict[str, Any]) -> None:
    """What a model directory holds."""
    model, summary, data = info.get("model", {}), info.get("summary", {}), info.get("data", {})
    train = info.get("train", {})
    table = Table(title=f"model {info['path']}", show_header=False)
    table.add_column("")
    table.add_column("")
    rows = [
        (
            "architecture",
            f"{model.get('arch')} {model.get('layers')} x {model.get('hidden')}, embed "
            f"{model.get('embed')}, dropout {model.get('dropout')}, tied {model.get('tie_weights')}",
        ),
        ("parameters", f"{info['parameters']:,}"),
        ("tokenizer", f"{info.get('tokenizer', {}).get('kind')} ({model.get('vocab_size')} tokens)"),
        ("training data", f"{data.get('corpus')} ({data.get('chars', 0):,} chars, {data.get('tokens', 0):,} tokens)"),
        (
            "trained",
            f"{summary.get('step')} steps, {summary.get('tokens', 0):,} tokens, {summary.get('elapsed_s')} s "
            f"on {summary.get('device')} ({summary.get('precision')})",
        ),
        (
            "optimisation",
            f"seq {train.get('seq_len')}, batch {train.get('batch_size')}, lr {train.get('lr')}, "
            f"clip {train.get('clip')}",
        ),
        ("best val loss", f"{fmt(summary.get('best_val_loss'), 4)} nats/token at step {summary.get('best_step')}"),
        ("best val bits/char", fmt(summary.get("best_val_bpc"), 4)),
        (
            "versions",
            f"format {info.get('format_version')}, charlm {info.get('charlm_version')}, "
            f"torch {info.get('torch_version')}",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def bidirectional_table(scores: list[Any], as_json: bool) -> None:
    """Forward, backward and mean log-probabilities of a --direction both model (a table or JSON lines)."""
    if as_json:
        for s in scores:
            print(json_text(s.to_dict()))
        return
    table = Table(
        "text",
        "tokens",
        "forward",
        "backward",
        "mean",
        "bits/char (mean)",
        title="log-probabilities (nats), forward and backward LM",
    )
    for s in scores:
        table.add_row(
            s.text, str(s.tokens), f"{s.forward:.3f}", f"{s.backward:.3f}", f"{s.mean:.3f}", f"{s.bpc(s.mean):.4f}"
        )
    out.print(table)
