"""Chinese at three levels on the seed notes: char, unigram and segmented word models, same budget.

``python -m bench.chinese`` trains a char, a unigram (sentencepiece) and a word model (``--segment
auto``, which picks jieba on this text) on four of the five seed notes for the same wall-clock time
each (or, with ``--steps``, the same number of steps), evaluates each on the fifth note (bits per character counted on the note's own characters,
so the levels compare), reports tokens per character of each tokenizer, the word model's top
next words after ``循环神经网络的``, and how fast jieba (and rjieba, if installed) segment the notes.
Results: ``bench/results/chinese-<time>.json`` and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import SHARED

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SEEDS = SHARED / "seeds"
PREFIX = "循环神经网络的"
LEVELS = {"char": {}, "unigram": {"vocab_size": 2000}, "word": {"segment": "auto"}}


def split_notes(seeds: Path, tmp: Path) -> tuple[Path, Path]:
    """Notes 1-4 (sorted by name) -> train.txt, note 5 -> heldout.txt."""
    notes = sorted(seeds.glob("*.txt"))
    if len(notes) < 5:
        sys.exit(f"bench.chinese: need the five seed notes in {seeds}")
    train, held = tmp / "train.txt", tmp / "heldout.txt"
    train.write_text("".join(p.read_text(encoding="utf-8") for p in notes[:4]), encoding="utf-8")
    held.write_text(notes[4].read_text(encoding="utf-8"), encoding="utf-8")
    return train, held


def train_level(level: str, train: Path, tmp: Path, args: argparse.Namespace) -> Path:
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train as run

    config = TrainConfig(
        corpus=str(train),
        out=str(tmp / level),
        checkpoints=str(tmp / "checkpoints"),
        level=level,
        layers=1,
        hidden=args.hidden,
        embed=128,
        dropout=0.3,
        seq_len=64,
        batch_size=16,
        time=None if args.steps else args.seconds,
        steps=args.steps,
        eval_every=25,
        device="cpu",
        threads=args.threads,
        seed=1,
        **LEVELS[level],  # type: ignore[arg-type]
    )
    return run(config).run_dir


def next_words(run_dir: Path, prefix: str, k: int = 10) -> list[dict[str, Any]]:
    """The model's top ``k`` next tokens after ``prefix`` (at the start of a line) with probabilities."""
    import torch

    import charlm
    from charlm.eval.sample import prime_model

    model = charlm.load(run_dir, device="cpu")
    with torch.no_grad():
        logits, _ = prime_model(model.module, model.tokenizer, model.tokenizer.encode(prefix), rows=1)  # (1,V)
    probs = torch.softmax(logits[0], dim=-1)  # (V,)
    top = torch.topk(probs, k)
    return [
        {"token": model.tokenizer.token_str(int(i)), "p": float(p)}
        for p, i in zip(top.values, top.indices, strict=True)
    ]


def measure(level: str, run_dir: Path, train: Path, held: Path) -> dict[str, Any]:
    import charlm

    model = charlm.load(run_dir, device="cpu")
    heldout = model.eval(held)
    text = train.read_text(encoding="utf-8")
    summary = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["summary"]
    out: dict[str, Any] = {
        "level": level,
        "vocab_size": model.tokenizer.vocab_size,
        "steps": summary["step"],
        "train_s": summary["elapsed_s"],
        "train_tokens_per_char": len(model.tokenizer.encode(text)) / len(text),
        "heldout_tokens_per_char": heldout.tokens / heldout.chars,
        "heldout_bpc": heldout.bpc,
        "heldout_oov_rate": heldout.oov_rate,
        "heldout_ppl": heldout.ppl,
        "segment": model.info().get("segment"),
    }
    if level == "word":
        out["prefix_tokens"] = [model.tokenizer.token_str(i) for i in model.tokenizer.encode(PREFIX)]
        out["next_words"] = next_words(run_dir, PREFIX)
    return out


def segment_speed(text: str, repeat: int = 10) -> dict[str, float]:
    """Characters per second of jieba (and rjieba if importable) over the notes' lines, dictionary loaded."""
    from charlm.tokenizers.segment import JiebaSegmenter

    lines = (text * repeat).split("\n")
    cutters: dict[str, Any] = {"jieba": JiebaSegmenter().split}
    try:
        import rjieba  # type: ignore[import-not-found]

        cutters["rjieba"] = rjieba.cut
    except ImportError:
        pass
    speed = {}
    for name, cut in cutters.items():
        cut("预热")
        started = time.perf_counter()
        for line in lines:
            cut(line)
        speed[f"{name}_chars_per_s"] = len(text) * repeat / (time.perf_counter() - started)
    return speed


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| level | vocab | steps | tokens/char (train) | tokens/char (held-out) | held-out bits/char | held-out OOV |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['level']} | {r['vocab_size']} | {r['steps']} | {r['train_tokens_per_char']:.3f} | "
            f"{r['heldout_tokens_per_char']:.3f} | {r['heldout_bpc']:.3f} | {r['heldout_oov_rate']:.1%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    parser.add_argument("--seconds", type=float, default=60.0, help="training time per level")
    parser.add_argument("--steps", type=int, default=None, help="train each level this many steps instead")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("CHARLM_THREADS", str(args.threads))
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        train, held = split_notes(args.seeds, tmp)
        rows = [measure(level, train_level(level, train, tmp, args), train, held) for level in LEVELS]
        speed = segment_speed(train.read_text(encoding="utf-8") + held.read_text(encoding="utf-8"))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    result = {"when": stamp, "args": {k: str(v) for k, v in vars(args).items()}, "levels": rows, "speed": speed}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"chinese-{stamp}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(table(rows))
    word = next(r for r in rows if r["level"] == "word")
    print(f"\nnext words after {PREFIX} ({' | '.join(word['prefix_tokens'])}):")
    print(", ".join(f"{w['token']} {w['p']:.3f}" for w in word["next_words"]))
    print("\nsegmentation speed:", ", ".join(f"{k} {v:,.0f}" for k, v in speed.items()))


if __name__ == "__main__":
    main()
