"""The sweep behind charlm's budget-aware recipes: candidate shapes trained for each time budget.

``python -m bench.recipe_sweep --budgets 1m,3m --candidates s256,s384 [--corpus FILE]`` trains every
candidate for every budget on the corpus (default tinyshakespeare, validation = last 5%, CPU) with
every other option at charlm's default, and appends one JSON line per run to
``bench/results/recipe_sweep.jsonl``: best validation nats/char and bits/char, steps, tokens/s, and
beside them the machine's fp32 matmul peak and the plain fp32 reference's tokens/s for the same
shape measured in the same run (so a figure from a slower machine can be read against its speed).
``--table`` prints every run of the JSONL file as markdown (bench.tables.sweep, as docs/recipes.md shows it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import torch

import charlm
from bench import SHAKESPEARE, tables
from bench.reference import train_reference
from bench.workloads import peak
from charlm.training.config import parse_duration

OUT = Path("bench/results/recipe_sweep.jsonl")
# name -> TrainConfig fields that differ from the defaults (bench.tables.SWEEP_BASE holds those the
# recorded rows were run with).
CANDIDATES: dict[str, dict[str, Any]] = {
    "s256": {"layers": 2, "hidden": 256, "embed": 64, "dropout": 0.0, "lr": 6e-3, "weight_decay": 0.1},
    "s256d": {"layers": 2, "hidden": 256, "embed": 64, "dropout": 0.1, "lr": 6e-3, "weight_decay": 0.1},
    "s384": {"layers": 2, "hidden": 384, "embed": 96, "dropout": 0.0, "lr": 5e-3, "weight_decay": 0.1},
    "s384d": {"layers": 2, "hidden": 384, "embed": 96, "dropout": 0.1, "lr": 5e-3, "weight_decay": 0.2},
    "f256": {
        "hidden": 256,
        "embed": 64,
        "dropout": 0.0,
        "lr": 1e-2,
        "weight_decay": 0.1,
        "warmup": 10,
        "batch_size": 16,
    },
    "f384": {"hidden": 384, "embed": 96, "dropout": 0.0, "lr": 8e-3, "weight_decay": 0.1, "warmup": 10, "seq_len": 64},
    "g384": {"hidden": 384, "embed": 96, "dropout": 0.0, "lr": 8e-3, "weight_decay": 0.1, "warmup": 10},
    "w512": {"layers": 1, "hidden": 512, "embed": 96, "dropout": 0.0, "lr": 8e-3, "weight_decay": 0.1, "warmup": 10},
    "h256": {
        "hidden": 256,
        "embed": 64,
        "dropout": 0.0,
        "lr": 8e-3,
        "weight_decay": 0.1,
        "warmup": 10,
        "batch_size": 16,
    },
    "b8": {"hidden": 256, "embed": 64, "dropout": 0.0, "lr": 6e-3, "weight_decay": 0.1, "warmup": 10, "batch_size": 8},
    "h384": {
        "hidden": 384,
        "embed": 96,
        "dropout": 0.0,
        "lr": 5e-3,
        "weight_decay": 0.1,
        "warmup": 10,
        "batch_size": 16,
    },
    "h384d1": {
        "hidden": 384,
        "embed": 96,
        "dropout": 0.1,
        "lr": 5e-3,
        "weight_decay": 0.1,
        "warmup": 10,
        "batch_size": 16,
    },
    "h512": {"dropout": 0.1, "warmup": 10, "batch_size": 16, "lr": 3e-3},
    "h512d0": {
        "hidden": 512,
        "embed": 128,
        "dropout": 0.0,
        "lr": 4e-3,
        "weight_decay": 0.1,
        "warmup": 10,
        "batch_size": 16,
    },
    "h512d2": {"dropout": 0.2, "warmup": 10, "batch_size": 16, "lr": 3e-3},
    "s512d0": {"dropout": 0.0},
    "s512d1": {"dropout": 0.1},
    "default": {},
    "s512d3": {"dropout": 0.3},
    "s768d3": {"hidden": 768, "embed": 128, "dropout": 0.3, "lr": 3e-3},
    "s3x512d2": {"layers": 3, "dropout": 0.2},
}


def reference_speed(shape: dict[str, Any], vocab: int, rounds: int = 3) -> dict[str, float]:
    """The plain fp32 loop's tokens/s for this shape (median and spread of ``rounds`` after warm-up)."""
    hidden, layers = int(shape.get("hidden", 512)), int(shape.get("layers", 2))
    embed, batch, seq = int(shape.get("embed", 128)), int(shape.get("batch_size", 32)), int(shape.get("seq_len", 128))
    rows = torch.randint(vocab, (batch, seq * 12 + 1))
    rates = [
        train_reference(rows, vocab, embed, hidden, layers, seq, steps=8, warm=3)["tokens_per_s"] for _ in range(rounds)
    ]
    return {"reference_tokens_per_s": statistics.median(rates), "reference_spread": max(rates) - min(rates)}


def run(name: str, budget_s: float, corpus: Path, seed: int) -> dict[str, Any]:
    shape = CANDIDATES[name]
    with TemporaryDirectory() as tmp:
        started = time.perf_counter()
        config = charlm.TrainConfig(
            corpus=str(corpus), out=f"{tmp}/m", checkpoints=f"{tmp}/ck", time=budget_s, device="cpu", seed=seed,
            ngram_order=0, **shape,
        )  # fmt: skip
        result = charlm.train(config)
        wall = time.perf_counter() - started
    return {
        "candidate": name, "options": shape, "budget_s": budget_s, "best_val_nats": result.best_val_loss,
        "best_val_bpc": result.best_val_bpc, "steps": result.steps, "tokens_per_s": result.tokens_per_s,
        "wall_s": round(wall, 1), "seed": seed,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budgets", default="1m,3m")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--corpus", type=Path, default=SHAKESPEARE)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--table", action="store_true", help="Print the results file as a markdown table.")
    args = parser.parse_args()
    if args.table:
        print(tables.sweep(args.out), end="")
        return
    fp32 = peak()["fp32"]
    vocab = len(set(args.corpus.read_text(encoding="utf-8")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for budget in (parse_duration(b) for b in args.budgets.split(",")):
        for name in args.candidates.split(","):
            row = run(name, budget, args.corpus, args.seed)
            row |= reference_speed(CANDIDATES[name], vocab) | {"peak_fp32_gflops": fp32}
            row |= {"load_avg_1m": os.getloadavg()[0], "corpus": args.corpus.name, "cpus": os.cpu_count()}
            print(json.dumps(row), flush=True)
            with open(args.out, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
