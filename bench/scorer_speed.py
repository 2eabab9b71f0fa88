"""Speed of the stateful scorer: hypotheses extended per second by ``advance_many`` at several batches.

An untrained char model (speed does not depend on the weights) of ``--layers`` x ``--hidden`` over a
100-character vocabulary. Each call extends every hypothesis of the batch by one token (a decoder's
inner loop) or by a 5-character word; the figure is hypotheses extended per second and the cost of
one call. Results are appended to bench/results/scorer_speed.jsonl.

Usage: python bench/scorer_speed.py --batches 1 256 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from charlm.eval.scorer_state import StateScorer
from charlm.models.base import build_model
from charlm.models.config import ModelConfig
from charlm.tokenizers.char import CharTokenizer


def measure(scorer: StateScorer, batch: int, text: str, seconds: float) -> dict[str, float]:
    """Repeated ``advance_many`` calls on ``batch`` hypotheses until ``seconds`` have passed."""
    ids = scorer.tokenizer.encode(text)
    states = [s for s, _ in scorer.advance_ids([scorer.begin()] * batch, [ids] * batch)]
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or calls < 3:
        states = [s for s, _ in scorer.advance_ids(states, [ids] * batch)]
        calls += 1
    elapsed = time.perf_counter() - start
    return {"calls": calls, "ms_per_call": 1000 * elapsed / calls, "hyps_per_s": batch * calls / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/scorer_speed.jsonl"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tokenizer = CharTokenizer([chr(c) for c in range(32, 130)])
    config = ModelConfig(vocab_size=tokenizer.vocab_size, layers=args.layers, hidden=args.hidden, embed=128)
    scorer = StateScorer(build_model(config).eval(), tokenizer)
    rows = []
    for batch in args.batches:
        for text in ("e", "word "):
            row = {"layers": args.layers, "hidden": args.hidden, "batch": batch, "tokens_per_advance": len(text)}
            row |= measure(scorer, batch, text, args.seconds)
            row["threads"] = torch.get_num_threads()
            rows.append(row)
            print(json.dumps(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
