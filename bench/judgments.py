"""Judgments: which sentence of a minimal pair a model prefers, under each n-gram setting.

A *minimal pair* is a held-out sentence and a copy with exactly one edit of the kinds people ask a
language model to judge: a homophone (pear/pair), an agreement error (is/are, a plural made
singular), a dropped word, a doubled word, a misspelling, two neighbouring words swapped. The
sentences come from text the models never trained on (tinyshakespeare's last 5%, which charlm
holds out for validation; WikiText-2 ``test.txt`` for models trained on ``valid.txt``), the edits
from a seeded generator (the confusions of :mod:`bench.nbest`), so the set is built, not tuned on.
The score is the share of pairs where the model gives the original the higher log-probability
(``charlm score``: each sentence from the start state, ``<eos>`` counted), overall and per kind,
for ``--ngram-weight`` auto, 0 (the network alone) and 1 (the n-gram alone)::

    python -m bench.judgments --model CHAR --source shakespeare --pairs 600
    python -m bench.judgments --model WORD --source wikitext --pairs 600 --out bench/results/judgments-word.json

The grammaticality sets people cite (BLiMP and the like) are deliberately not used: charlm's
defaults must not be tuned on a public test set.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import charlm
from bench import DATA, SHAKESPEARE
from bench.nbest import ALTERNATIVES, near_miss, sentences
from charlm.options import ScoringOptions

KINDS = ("homophone", "agreement", "drop", "double", "spell", "swap")
SETTINGS: tuple[str | float, ...] = ("auto", 0.0, 1.0)


def held_out(source: str) -> list[str]:
    """Held-out sentences of 5-30 words: tinyshakespeare's validation part, or WikiText-2 test."""
    if source == "wikitext":
        return sentences(DATA / "wikitext-2" / "test.txt", 5, 30)
    text = SHAKESPEARE.read_text(encoding="utf-8")
    tail = text[int(len(text) * 0.95) :]
    return [line for line in tail.split("\n")[1:] if 5 <= len(line.split()) <= 30]


def edit(words: list[str], kind: str, rng: random.Random) -> list[str] | None:
    """``words`` with one edit of ``kind``, or None when the sentence has no place for it."""
    out = list(words)
    plain = [i for i, w in enumerate(words) if w.isalpha()]
    if kind == "homophone":
        places = [i for i, w in enumerate(words) if w.lower() in ALTERNATIVES and w.lower() not in ("a", "an")]
        if not places:
            return None
        i = rng.choice(places)
        out[i] = rng.choice(ALTERNATIVES[words[i].lower()])
    elif kind == "agreement":
        places = [i for i, w in enumerate(words) if w in ("is", "are", "was", "were", "has", "have", "a", "an")]
        places += [i for i in plain if len(words[i]) > 3 and words[i].islower() and words[i].endswith("s")]
        if not places:
            return None
        i = rng.choice(places)
        out[i] = ALTERNATIVES[words[i]][0] if words[i] in ALTERNATIVES else words[i][:-1]
    elif kind in ("drop", "double"):
        if not plain:
            return None
        i = rng.choice(plain)
        if kind == "drop":
            del out[i]
        else:
            out.insert(i, words[i])
    elif kind == "spell":
        places = [i for i in plain if len(words[i]) >= 4]
        if not places:
            return None
        i = rng.choice(places)
        out[i] = near_miss(words[i], rng)
    else:  # swap two neighbouring words
        places = [i for i in range(len(words) - 1) if words[i] != words[i + 1]]
        if not places:
            return None
        i = rng.choice(places)
        out[i], out[i + 1] = out[i + 1], out[i]
    return out if out != words else None


def pairs(source: str, count: int, seed: int) -> list[tuple[str, str, str]]:
    """``count`` (original, edited, kind) pairs, the kinds in turn."""
    rng = random.Random(seed)
    pool = held_out(source)
    rng.shuffle(pool)
    found: list[tuple[str, str, str]] = []
    for n, line in enumerate(pool):
        if len(found) >= count:
            break
        kind = KINDS[n % len(KINDS)]
        edited = edit(line.split(), kind, rng)
        if edited is not None:
            found.append((line, " ".join(edited), kind))
    return found


def judge(model: str, items: list[tuple[str, str, str]], weight: str | float, unk: str = "auto") -> dict[str, Any]:
    """Share of pairs whose original scores higher, overall and per kind, with ``ngram_weight=weight``."""
    lm = charlm.load(model, device="cpu", options=ScoringOptions(ngram_weight=weight, unk=unk))  # type: ignore[arg-type]
    good = lm.score([a for a, _, _ in items])
    bad = lm.score([b for _, b, _ in items])
    right = [g.logprob > b.logprob for g, b in zip(good, bad, strict=True)]
    by_kind: dict[str, list[bool]] = {}
    for ok, (_, _, kind) in zip(right, items, strict=True):
        by_kind.setdefault(kind, []).append(ok)
    return {
        "accuracy": sum(right) / max(len(right), 1),
        "right": sum(right),
        "pairs": len(right),
        "by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--source", choices=("shakespeare", "wikitext"), default="shakespeare")
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--weights", default="auto,0,1", help="n-gram weights to compare, comma-separated")
    parser.add_argument("--unk", default="auto", help="unknown words: auto (spell for word models) or replace")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    items = pairs(args.source, args.pairs, args.seed)
    weights = [w if w == "auto" else float(w) for w in args.weights.split(",")]
    started = time.perf_counter()
    results = {str(w): judge(args.model, items, w, args.unk) for w in weights}
    report = {
        "model": args.model,
        "source": args.source,
        "seed": args.seed,
        "unk": args.unk,
        "pairs": len(items),
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
    }
    for w, r in results.items():
        print(f"ngram_weight {w:>4}: {r['right']}/{r['pairs']} = {r['accuracy']:.3f}  {r['by_kind']}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
