"""Markdown tables drawn from bench/results files, so the figures the docs quote are the files' figures.

``docs/gen_tables.py`` (``make docs``) writes these into the docs between ``<!-- begin generated: NAME``
and ``<!-- end generated: NAME -->`` lines, and tests/test_docs.py fails when a doc and its files
disagree. Light on purpose: JSON in, text out, no torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

# The TrainConfig defaults the rows of recipe_sweep.jsonl were run with; a row's "options" are the
# fields that differed from these (bench/recipe_sweep.py's CANDIDATES).
SWEEP_BASE: dict[str, Any] = dict(
    layers=2, hidden=512, embed=128, dropout=0.2, lr=4e-3, weight_decay=0.2, batch_size=32, seq_len=128, warmup=50
)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def describe(options: dict[str, Any]) -> str:
    """A candidate in words: ``2 x 512, batch 16, dropout 0.1, lr 3e-3, warm-up 10`` (shape always, then changes)."""
    full = {**SWEEP_BASE, **options}
    words = [f"{full['layers']} x {full['hidden']}"]
    for key, label in (
        ("embed", "embed"),
        ("batch_size", "batch"),
        ("seq_len", "seq"),
        ("dropout", "dropout"),
        ("lr", "lr"),
        ("weight_decay", "weight decay"),
        ("warmup", "warm-up"),
    ):
        if full[key] != SWEEP_BASE[key]:
            words.append(f"{label} {full[key]:g}")
    return ", ".join(words) if options else words[0] + " (the defaults of the sweep)"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min"


def sweep(path: Path = RESULTS / "recipe_sweep.jsonl") -> str:
    """Every run of the recipe sweep, by budget then best validation loss; the best of each budget in bold."""
    rows = sorted(read_jsonl(path), key=lambda r: (r["budget_s"], r["best_val_nats"]))
    best = {r["budget_s"]: r for r in reversed(rows)}  # the first (lowest loss) of each budget wins
    lines = [
        "| budget | candidate | nats/char | bits/char | steps | tokens/s | reference tokens/s | fp32 peak GFLOP/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        bold = "**" if best[r["budget_s"]] is r else ""
        lines.append(
            f"| {_minutes(r['budget_s'])} | {bold}{describe(r['options'])}{bold} | {bold}{r['best_val_nats']:.3f}{bold} "
            f"| {r['best_val_bpc']:.3f} | {r['steps']:,} | {r['tokens_per_s']:,.0f} | {r['reference_tokens_per_s']:,.0f} "
            f"| {r['peak_fp32_gflops']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def headline(path: Path = RESULTS / "recipe_sweep.jsonl") -> str:
    """The best char model per CPU budget (the README's figures), with the file they come from."""
    rows = read_jsonl(path)
    lines = ["| CPU time | best validation bits/char | nats/char | shape | steps |", "|---|---:|---:|---|---:|"]
    for budget in sorted({r["budget_s"] for r in rows}):
        r = min((r for r in rows if r["budget_s"] == budget), key=lambda r: r["best_val_nats"])
        lines.append(
            f"| {_minutes(budget)} | {r['best_val_bpc']:.3f} | {r['best_val_nats']:.3f} | {describe(r['options'])} "
            f"| {r['steps']:,} |"
        )
    return "\n".join(lines) + f"\n\n(tinyshakespeare, the last 5% held out; `bench/results/{path.name}`)\n"


def _apart(a: float, b: float) -> str:
    return f"{abs(a - b) / min(a, b):.0%}"


def _speed(part: dict[str, Any]) -> str:
    return f"{part['tokens_per_s']:,.0f} ({part['min']:,.0f}-{part['max']:,.0f})"


def repeat(first: str, second: str) -> str:
    """Two ``bench.run --quick`` reports side by side: how far apart the same figures came out."""
    a, b = (json.loads((RESULTS / name).read_text(encoding="utf-8")) for name in (first, second))
    ca, cb = a["train_char"], b["train_char"]
    fast = ca["fast"]
    rows = [
        ("fp32 matmul peak, GFLOP/s", f"{a['peak']['fp32']:.0f}", f"{b['peak']['fp32']:.0f}", ""),
    ]
    for label, key in (("reference fp32", "reference"), ("charlm fp32", "fp32"), (f"charlm {fast}", fast)):
        pa, pb = ca[key], cb[key]
        rows.append(
            (
                f"char 2 x 512 {label} tokens/s, median (min-max)",
                _speed(pa),
                _speed(pb),
                _apart(pa["tokens_per_s"], pb["tokens_per_s"]),
            )
        )
    ra, rb = ca[fast]["ratio"], cb[fast]["ratio"]
    rows.append(
        (
            f"**char {fast} / reference fp32, ratio of medians**",
            f"**{ra:.2f}**",
            f"**{rb:.2f}**",
            f"**{_apart(ra, rb)}**",
        )
    )
    qa, qb = ca[fast]["round_ratio"], cb[fast]["round_ratio"]
    rows.append(
        (
            "... per-round ratio, median (min-max)",
            f"{qa['median']:.2f} ({qa['min']:.2f}-{qa['max']:.2f})",
            f"{qb['median']:.2f} ({qb['min']:.2f}-{qb['max']:.2f})",
            _apart(qa["median"], qb["median"]),
        )
    )
    wa, wb = a["train_word"][fast]["ratio"], b["train_word"][fast]["ratio"]
    rows.append((f"word 2 x 650 {fast} / reference fp32", f"{wa:.2f}", f"{wb:.2f}", _apart(wa, wb)))
    lines = [f"| | `{first}` | `{second}` | apart |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {x} | {y} | {d} |" for name, x, y, d in rows]
    return "\n".join(lines) + "\n"


def _size(mb: float) -> str:
    return f"{mb / 1000:g} GB" if mb >= 1000 else f"{mb:g} MB"


def scale(path: Path = RESULTS / "scale.json") -> str:
    """bench/scale.py's result: per size and command, seconds (s/MB) and peak RSS; then slope and ratio."""
    result = json.loads(path.read_text(encoding="utf-8"))
    names = ("tokenize", "train", "ngram", "eval")
    header = "| text | `charlm tokenize` | `charlm train --steps 20` | `charlm ngram build` | `charlm eval` |"
    lines = [header, "|---|---:|---:|---:|---:|"]
    for row in result["rows"]:
        cells = []
        for name in names:
            run = row[name]
            per_mb = run["wall_s"] / row["mb"]
            cells.append(
                "failed"
                if "error" in run
                else f"{run['wall_s']:.1f} s ({per_mb:.2f} s/MB), {run['peak_rss_mib']:,.0f} MiB"
            )
        lines.append(f"| {_size(round(row['mb']))} | " + " | ".join(cells) + " |")
    summary = result["summary"]
    slopes = [f"{summary[n]['slope_s_per_mb']:.3f} s/MB" if n in summary else "-" for n in names]
    ratios = [f"{summary[n]['ratio_largest_smallest']:.2f}" if n in summary else "-" for n in names]
    sizes = [_size(round(r["mb"])) for r in result["rows"]]
    lines.append("| slope (least squares) | " + " | ".join(slopes) + " |")
    lines.append(f"| s/MB at {sizes[-1]} / at {sizes[0]} | " + " | ".join(ratios) + " |")
    note = f" {result['note']}" if result.get("note") else ""
    lines.append("")
    lines.append(
        f"{result['source']} text (seed {result['seed']}), {result['threads']} thread(s), {result['machine']['cpus']} "
        f"CPUs; model `{result['model']}`.{note}"
    )
    return "\n".join(lines) + "\n"
