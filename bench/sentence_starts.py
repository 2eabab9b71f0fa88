"""Sentence starts (issue 13): per-line against streamed bits/char, and bits/char by position in the line.

Trains one short run per setting (the same --steps budget for each, so a loaded machine changes the
time but not the figures; or ``--time S`` each, the budget the default recipe uses) on tinyshakespeare, validation = the last 5% (cut at a line start), and
reports for the best checkpoint:

- streamed and per-line validation bits/char (the trainer's own figures, as in metrics.jsonl);
- bits/char by position in the line (1st character, 2-3, 4-10, 11-30, 31 on; the ``<eos>`` that
  ends a line counts at its position), and over the first ten characters, every line scored as
  ``charlm score`` does (from the start state, conditioned on ``<eos>``);
- the training time and tokens/s (what resets cost).

    .venv/bin/python -m bench.sentence_starts --steps 300 --out bench/results/sentence_starts.json

Settings: ``name:start_state:reset_at_eos``, e.g. ``base:zero:0 learned-p0.3:learned:0.3``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import SHAKESPEARE

BUCKETS = ((1, 1), (2, 3), (4, 10), (11, 30), (31, 10**9))
DEFAULT_SETTINGS = ("base:zero:0", "learned:learned:0", "p0.1:learned:0.1", "p0.3:learned:0.3", "p1:learned:1")
LN2 = math.log(2.0)


def split(text: str, fraction: float = 0.05) -> tuple[str, str]:
    """Train and validation text: the last ``fraction`` of the characters, moved to the next line start."""
    cut = text.index("\n", int(len(text) * (1 - fraction))) + 1
    return text[:cut], text[cut:]


def positions(model: Any, lines: list[str]) -> dict[str, float]:
    """Bits/char by position in the line (and over the first ten), every line from the start state."""
    nats = {b: 0.0 for b in BUCKETS}
    counts = {b: 0 for b in BUCKETS}
    first10 = [0.0, 0]
    for score in model.score(lines, per_token=True, batch_size=128):
        for index, (_, logprob) in enumerate(score.per_token or [], start=1):
            bucket = next(b for b in BUCKETS if b[0] <= index <= b[1])
            nats[bucket] -= logprob
            counts[bucket] += 1
            if index <= 10:
                first10[0] -= logprob
                first10[1] += 1
    out = {f"{a}-{b}" if b < 10**9 else f"{a}+": nats[(a, b)] / max(counts[(a, b)], 1) / LN2 for a, b in BUCKETS}
    out["first10"] = first10[0] / max(first10[1], 1) / LN2
    return out


def run(name: str, start: str, p: float, args: argparse.Namespace, train_path: Path, val_path: Path) -> dict[str, Any]:
    import charlm
    from charlm import checkpoint as ckpt
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train

    config = TrainConfig(
        corpus=str(train_path),
        val=str(val_path),
        out=str(args.work / name),
        checkpoints=str(args.work / "checkpoints"),
        hidden=args.hidden,
        layers=args.layers,
        steps=None if args.time else args.steps,
        time=args.time,
        eval_every=args.eval_every,
        start_state=start,
        reset_at_eos=p,
        seed=args.seed,
        precision=args.precision,
        threads=args.threads,
        batch_size=args.batch_size,
        force=True,
    )
    began = time.perf_counter()
    result = train(config)
    wall = time.perf_counter() - began
    summary = ckpt.read_config(result.run_dir)["summary"]
    lm = charlm.load(result.run_dir, device="cpu")
    best = result.run_dir / ckpt.BEST
    if best.exists():
        ckpt.load_weights(lm.module, best, device=lm.device)
    lines = val_path.read_text(encoding="utf-8").split("\n")[:-1]
    return {
        "name": name,
        "start_state": start,
        "reset_at_eos": p,
        "steps": result.steps,
        "train_s": round(result.elapsed_s, 1),
        "wall_s": round(wall, 1),
        "tokens_per_s": round(result.tokens_per_s),
        "streamed_bpc": summary["best_val_bpc"],
        "per_line_bpc": summary["best_val_lines_bpc"],
        "by_position_bpc": positions(lm, lines),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the results."""
    keys = ["1-1", "2-3", "4-10", "11-30", "31+", "first10"]
    head = "| setting | streamed | per line | " + " | ".join(keys) + " | train s | tokens/s |"
    lines = [head, "|" + " --- |" * (len(keys) + 5)]
    for r in rows:
        pos = r["by_position_bpc"]
        cells = [f"{r['streamed_bpc']:.3f}", f"{r['per_line_bpc']:.3f}", *(f"{pos[k]:.3f}" for k in keys)]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + f" | {r['train_s']} | {r['tokens_per_s']:,} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--time", type=float, default=None, help="seconds per run instead of --steps (equal time)")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--corpus", type=Path, default=SHAKESPEARE)
    parser.add_argument("--settings", nargs="*", default=list(DEFAULT_SETTINGS))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "charlm-sentence-starts")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 1
    args.work.mkdir(parents=True, exist_ok=True)
    train_text, val_text = split(args.corpus.read_text(encoding="utf-8"))
    train_path, val_path = args.work / "train.txt", args.work / "val.txt"
    train_path.write_text(train_text, encoding="utf-8")
    val_path.write_text(val_text, encoding="utf-8")
    rows = []
    for setting in args.settings:
        name, start, p = setting.split(":")
        rows.append(run(name, start, float(p), args, train_path, val_path))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"args": sys.argv[1:], "rows": rows}, indent=1) + "\n", encoding="utf-8")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
