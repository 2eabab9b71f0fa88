"""The seed notes' examples: where the right word ranks in ``predict`` for given models.

Usage: python bench/seeds.py MODEL_DIR [MODEL_DIR ...] [--k 200]

For each model, the probability of the expected next word (for a char/subword model: its letters
followed by any word boundary, computed with the stateful scorer) and its rank among the ``--k``
most probable next words (``--words``; a word model ranks its whole vocabulary); ``rank`` is None
when the word is less probable than the k-th proposal.
Results are appended to bench/results/seeds.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from charlm.api import Model, load
from charlm.eval.predict import is_solo

SEEDS = [
    ("the clouds are in the ", "sky"),
    ("I grew up in France . I speak fluent ", "French"),
    ("I grew up in France and I speak fluent ", "French"),
]


def word_logprob(lm: Model, prefix: str, word: str) -> float:
    """log p(word, then a boundary | prefix): the word's tokens, then any space/punctuation/<eos> token."""
    if lm.tokenizer.kind == "word":
        ids = lm.tokenizer.encode(word)
        return float(lm.next_logprobs(lm.advance(lm.begin(), prefix)[0])[ids[0]]) if ids != [0] else -math.inf
    state, _ = lm.advance(lm.begin(), prefix)
    after, lp = lm.advance(state, word)
    tok = lm.tokenizer
    ends = [i for i in range(tok.vocab_size) if i == tok.eos_id or _boundary(tok.token_str(i))]
    return lp + float(torch.logsumexp(lm.next_logprobs(after)[ends], 0))


def _boundary(piece: str) -> bool:
    text = piece.replace("\u2581", " ")
    return bool(text) and (text[0].isspace() or is_solo(text[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("bench/results/seeds.jsonl"))
    args = parser.parse_args()
    rows = []
    for path in args.models:
        lm = load(path, device="cpu")
        k = lm.tokenizer.vocab_size if lm.tokenizer.kind == "word" else args.k
        for prefix, expected in SEEDS:
            found = lm.predict(prefix, k=k, words=True)
            lp = word_logprob(lm, prefix, expected)
            above = sum(p.logprob > lp for p in found if p.text != expected)
            row = {
                "model": str(path),
                "level": lm.tokenizer.kind,
                "prefix": prefix,
                "expected": expected,
                "prob": math.exp(lp),
                "rank": above + 1 if above < len(found) else None,
                "k": k,
                "top5": [p.text for p in found[:5]],
            }
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
