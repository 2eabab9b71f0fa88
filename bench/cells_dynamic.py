"""The new cells against the fused LSTM, and dynamic evaluation with and without the neural cache.

``python -m bench.cells_dynamic cells [--steps N] [--time S]`` trains every architecture in ``--archs``
on tinyshakespeare (validation = last 5%) with the same shape and budget and prints best validation
bits/char, steps, tokens/s and seconds; ``python -m bench.cells_dynamic dynamic MODEL TEXT`` evaluates
a model on TEXT plain, with the cache, with dynamic evaluation and with both. Tables go to stdout as
markdown (and ``--out FILE``); docs/cells-dynamic.md holds the figures with the commands.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import charlm
from bench import SHAKESPEARE
from bench.recipe_sweep import reference_speed
from bench.workloads import peak
from charlm.eval.dynamic import DynamicConfig

ARCHS = ("lstm", "lstm-mogrifier", "mingru", "minlstm")


def cells(args: argparse.Namespace) -> list[str]:
    vocab = len(set(args.corpus.read_text(encoding="utf-8")))
    shape = {"layers": args.layers, "hidden": args.hidden, "embed": args.embed, "batch_size": args.batch_size,
             "seq_len": args.seq_len}  # fmt: skip
    ref = reference_speed(shape, vocab)
    machine = (
        f"machine: fp32 matmul peak {peak()['fp32']:,.0f} GFLOP/s; the plain fp32 reference LSTM of this shape "
        f"{ref['reference_tokens_per_s']:,.0f} tokens/s (spread {ref['reference_spread']:,.0f} over 3 rounds)"
    )
    print(machine, flush=True)
    rows = [
        machine,
        "",
        "| arch | parameters | steps | best val bits/char | tokens/s | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for arch in args.archs:
        with TemporaryDirectory() as tmp:
            started = time.perf_counter()
            result = charlm.train(
                charlm.TrainConfig(
                    corpus=str(args.corpus), out=f"{tmp}/m", checkpoints=f"{tmp}/ck", arch=arch, layers=args.layers,
                    hidden=args.hidden, embed=args.embed, seq_len=args.seq_len, batch_size=args.batch_size,
                    steps=args.steps, time=args.time, eval_every=args.eval_every, dropout=0.0, device="cpu",
                )
            )  # fmt: skip
            seconds = time.perf_counter() - started
            params = charlm.load(result.run_dir, device="cpu").module.num_parameters()
        rows.append(
            f"| {arch} | {params:,} | {result.steps} | {result.best_val_bpc:.4f} | {result.tokens_per_s:,.0f} "
            f"| {seconds:.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


def dynamic(args: argparse.Namespace) -> list[str]:
    lm = charlm.load(args.model, device="cpu")
    config = DynamicConfig(lr=args.lr, lam=args.lam, segment=args.segment)
    rows = ["| evaluation | bits/char | perplexity | seconds |", "|---|---|---|---|"]
    for name, options in (
        ("plain (one stream)", {"batch_size": 1}),
        ("neural cache", {"batch_size": 1, "cache": args.cache}),
        ("dynamic", {"dynamic": config, "dynamic_stats": args.stats}),
        ("dynamic + cache", {"dynamic": config, "dynamic_stats": args.stats, "cache": args.cache}),
    ):
        started = time.perf_counter()
        result = lm.eval(args.text, ngram_weight=args.ngram_weight, **options)  # type: ignore[arg-type]
        rows.append(f"| {name} | {result.bpc:.4f} | {result.ppl:.2f} | {time.perf_counter() - started:.0f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cells")
    c.add_argument("--corpus", type=Path, default=SHAKESPEARE)
    c.add_argument("--archs", nargs="+", default=list(ARCHS))
    c.add_argument("--steps", type=int, default=None)
    c.add_argument("--time", type=float, default=None, help="seconds per architecture")
    c.add_argument("--layers", type=int, default=2)
    c.add_argument("--hidden", type=int, default=256)
    c.add_argument("--embed", type=int, default=64)
    c.add_argument("--seq-len", type=int, default=128)
    c.add_argument("--batch-size", type=int, default=32)
    c.add_argument("--eval-every", type=int, default=100)
    d = sub.add_parser("dynamic")
    d.add_argument("model", type=Path)
    d.add_argument("text", type=Path)
    d.add_argument("--stats", type=Path, default=None, help="training text, if the model stored no statistics")
    d.add_argument("--lr", type=float, default=DynamicConfig().lr)
    d.add_argument("--lam", type=float, default=DynamicConfig().lam)
    d.add_argument("--segment", type=int, default=DynamicConfig().segment)
    d.add_argument("--cache", type=int, default=2000)
    d.add_argument("--ngram-weight", default="auto", help="the model's n-gram: auto (as trained), 0 (network alone)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = cells(args) if args.what == "cells" else dynamic(args)
    if args.out is not None:
        args.out.write_text("\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
