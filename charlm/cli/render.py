"""Rich output for the CLI: tables on stdout, progress and chatter on stderr.

The library never prints; everything a person sees is drawn here.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from charlm.io import json_text

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fmt(value: float | None, digits: int = 3) -> str:
    """A float for a table cell; '-' for missing or non-finite values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


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


def json_lines(items: Sequence[Any]) -> None:
    """One strict JSON object per line on stdout (``to_dict()`` of each item)."""
    for item in items:
        print(json_text(item.to_dict()))


def file_score(result: Any, as_json: bool) -> None:
    """A whole file's score: a corpus table (``eval``), or forward/backward/mean (a bidirectional model)."""
    if isinstance(result, list):
        bidirectional_table(result, as_json)
    elif as_json:
        print(json_text(result.to_dict()))
    else:
        corpus_table(result)


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
    if getattr(score, "dynamic", None):
        mode += ", dynamic evaluation lr {lr:g} lambda {lam:g} segment {segment}".format(**score.dynamic)
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


def tokenize_table(stats: dict[str, Any], top: list[tuple[str, int]]) -> None:
    """Vocabulary size, token count, unknown rate and the most frequent tokens."""
    seg = stats.get("segment")
    level = f"{stats['level']} ({seg['name']} {seg['version']})" if seg else stats["level"]
    table = Table(title=f"{level} tokenizer on {stats['corpus']}", show_header=False)
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
        shown = repr(token) if token.isspace() else repr(token)[1:-1]  # a space token shows as ' '
        freq.add_row(str(rank), shown, f"{count:,}", f"{count / max(stats['tokens'], 1):.2%}")
    out.print(freq)


def _segment(info: dict[str, Any]) -> str:
    seg = info.get("segment")
    return f", words cut by {seg['name']} {seg['version']}" if seg else ""


def _softmax(model: dict[str, Any]) -> str:
    """The head: full, or adaptive with where its clusters end."""
    if model.get("softmax", "full") != "adaptive":
        return "full"
    ends = [*model.get("cutoffs", []), model.get("vocab_size")]
    return "adaptive, clusters ending at " + ", ".join(f"{e:,}" for e in ends if isinstance(e, int))


def info_table(info: dict[str, Any], as_json: bool = False) -> None:
    """What a model directory holds (a table, or one JSON object)."""
    if as_json:
        print(json_text(info))
        return
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
        ("softmax", _softmax(model)),
        ("tokenizer", f"{info.get('tokenizer', {}).get('kind')} ({model.get('vocab_size')} tokens){_segment(info)}"),
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
        (
            "sentence starts",
            f"start state {model.get('start_state', 'zero')}, reset at line ends with p = {train.get('reset_at_eos', 0.0)}",
        ),
        ("recipe", _recipe(train.get("recipe"))),
        ("best val loss", f"{fmt(summary.get('best_val_loss'), 4)} nats/token at step {summary.get('best_step')}"),
        (
            "best val bits/char",
            f"{fmt(summary.get('best_val_bpc'), 4)} streamed, "
            f"{fmt(summary.get('best_val_lines_bpc'), 4)} per line (each line from the start state)",
        ),
        (
            "versions",
            f"format {info.get('format_version')}, charlm {info.get('charlm_version')}, "
            f"torch {info.get('torch_version')}",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def _recipe(recipe: Any) -> str:
    """The recipe a model was trained with, what it set and why (``charlm info``)."""
    if not isinstance(recipe, dict):
        return "none (options given in full, or trained before recipes)"
    taken = ", ".join(recipe.get("set") or []) or "nothing (every option given)"
    return f"{recipe.get('name')} for {recipe.get('budget_min')} min on {recipe.get('device')}; set {taken}; why: {recipe.get('why')}"


def _budget(low: float, high: float | None) -> str:
    """A row's budget range in minutes: ``any``, ``under 5``, ``5 to 30`` or ``30 and more``."""
    if high is None:
        return "any" if low == 0 else f"{low:g} and more"
    return f"under {high:g}" if low == 0 else f"{low:g} to {high:g}"


def recipes_table(rows: list[dict[str, Any]], as_json: bool) -> None:
    """The recipe table (``charlm recipes``): one row per recipe, or one JSON object per line."""
    if as_json:
        for row in rows:
            print(json_text(row))
        return
    table = Table(title="recipes: charlm train takes the options you do not give from the row for its budget")
    for col in ("recipe", "device", "level", "budget (min)", "steps/min", "sets", "why"):
        table.add_column(col, justify="right" if col == "steps/min" else "left", overflow="fold")
    for row in rows:
        sets = " ".join(f"{k}={v}" for k, v in row["values"].items())
        table.add_row(
            row["name"],
            row["device"],
            row["level"],
            _budget(row["from_min"], row["upto_min"]),
            f"{row['steps_per_min']:g}",
            sets,
            row["why"],
        )
    _show(table)


def bidirectional_table(scores: list[Any], as_json: bool) -> None:
    """Forward, backward and mean log-probabilities of a --direction both model (a table or JSON lines)."""
    if as_json:
        json_lines(scores)
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


def gradflow_table(results: Sequence[Any], length: int, plot: str, as_json: bool) -> None:
    """Gradient norms relative to distance 1 at a few distances, with the fitted per-step factor."""
    if as_json:
        print(json_text({"plot": plot, "results": [r.to_dict() for r in results]}))
        return
    from charlm.api import DISTANCES

    shown = [d for d in DISTANCES if d < length]
    table = Table(
        "model",
        "weights",
        "data",
        "factor/step",
        *[f"d={d}" for d in shown],
        title="|dLoss_T/ds_t| relative to distance 1",
    )
    for r in results:
        table.add_row(r.label, r.weights, r.data, f"{r.rate:.3f}", *[f"{r.relative(d):.1e}" for d in shown])
    out.print(table)
    err.print(f"plot written to {plot}")


def neighbors_list(found: Sequence[Any], as_json: bool) -> None:
    """Words with their cosine similarity, most similar first."""
    if as_json:
        print(json_text([{"word": n.word, "similarity": n.similarity} for n in found]))
        return
    for n in found:
        print(f"{n.similarity:7.4f}  {n.word}")
