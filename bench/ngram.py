"""The n-gram inside, measured: network alone, n-gram alone and their mixture on held-out text and on
sentence pairs (grammatical vs. corrupted).

For a trained model directory (with its n-gram, :mod:`charlm.ngram`) and a held-out text file:

* bits/char and perplexity, streamed (``charlm eval``) and line by line (``--independent``), at
  ``--ngram-weight`` 0 (network), 1 (n-gram), the fixed tuned weight and ``auto`` (one weight per
  matched context length);
* a sentence-pair set built from the held-out lines (``--pairs``, seeded): an agreement error
  (is/are, was/were, has/have, ...), a homophone (pear/pair, their/there, ...) or two adjacent
  words swapped; accuracy = how often the original scores higher (total log-probability), with the
  pairs each mixture loses that the network won listed in the JSON.

Run: ``python -m bench.ngram --model DIR --text HELD_OUT.txt --name NAME`` (writes
bench/results/ngram-NAME.json and prints a markdown table). ``--held-out-tail F --source FILE``
writes the last fraction F of FILE, from a line start, as the held-out text first.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import time
from pathlib import Path
from typing import Any

import charlm

AGREEMENT = {
    "is": "are", "are": "is", "was": "were", "were": "was", "has": "have", "have": "has",
    "does": "do", "do": "does", "doth": "do", "hath": "have", "art": "are",
}  # fmt: skip
HOMOPHONES = {
    "pear": "pair", "pair": "pear", "their": "there", "there": "their", "to": "too", "too": "to",
    "hear": "here", "here": "hear", "know": "no", "no": "know", "right": "write", "write": "right",
    "whole": "hole", "sun": "son", "son": "sun", "one": "won", "won": "one", "by": "buy",
    "see": "sea", "sea": "see", "your": "you're", "its": "it's", "then": "than", "than": "then",
}  # fmt: skip
WORD = re.compile(r"^[A-Za-z']+$")


def held_out_tail(source: Path, fraction: float, out: Path) -> Path:
    """The last ``fraction`` of ``source`` from the first line start in it (the model's validation split)."""
    text = source.read_text(encoding="utf-8")
    cut = text.find("\n", int(len(text) * (1 - fraction))) + 1
    out.write_text(text[cut:], encoding="utf-8")
    return out


def _corrupt(words: list[str], rng: random.Random) -> tuple[str, list[str]] | None:
    for kind, table in (("agreement", AGREEMENT), ("homophone", HOMOPHONES)):
        spots = [i for i, w in enumerate(words) if w.lower() in table]
        if spots:
            i = rng.choice(spots)
            swap = table[words[i].lower()]
            new = words[:i] + [swap.capitalize() if words[i][0].isupper() else swap] + words[i + 1 :]
            return kind, new
    spots = [i for i in range(len(words) - 1) if words[i] != words[i + 1] and WORD.match(words[i])]
    if not spots:
        return None
    i = rng.choice(spots)
    return "swap", words[:i] + [words[i + 1], words[i]] + words[i + 2 :]


def _sentences(line: str) -> list[str]:
    """A line, or the sentences of a long one (WikiText paragraphs end sentences with " . ")."""
    return [line] if len(line.split()) <= 25 else [p.strip() + " ." for p in line.split(" . ") if p.strip()]


def sentence_pairs(path: Path, count: int, seed: int = 0) -> list[dict[str, str]]:
    """Up to ``count`` (good, bad, kind) pairs from sentences of 5-25 words of ``path``."""
    lines = [s for line in path.read_text(encoding="utf-8").split("\n") for s in _sentences(line.strip())]
    lines = [line for line in lines if 5 <= len(line.split()) <= 25 and not line.startswith("=")]
    rng = random.Random(seed)
    rng.shuffle(lines)
    pairs = []
    for line in lines:
        made = _corrupt(line.split(), rng)
        if made is not None and " ".join(made[1]) != line:
            pairs.append({"good": line, "bad": " ".join(made[1]), "kind": made[0]})
        if len(pairs) >= count:
            break
    return pairs


def _corpus(lm: Any, text: Path, weights: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, w in weights.items():
        for mode, independent in (("stream", False), ("lines", True)):
            started = time.perf_counter()
            s = lm.eval(text, independent=independent, ngram_weight=w[mode])
            out[f"{name}/{mode}"] = {
                "bpc": s.bpc,
                "ppl": s.ppl,
                "ppl_no_oov": s.ppl_no_oov,
                "tokens": s.tokens,
                "seconds": round(time.perf_counter() - started, 2),
            }
    return out


def _corpus_fast(lm: Any, text: Path, weights: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    """The same figures from one network pass per mode over the first ``max_tokens`` tokens of ``text``.

    :mod:`charlm.ngram.tune` scores lines and a stream (16 rows) with both models once; every weight
    is then mixed from those per-token values (the commands' mixture, see tests/test_ngram.py).
    """
    import numpy as np

    from charlm.ngram import tune

    mix = lm.ngram_mix(1.0)
    ids = np.asarray(lm.tokenizer.encode(text.read_text(encoding="utf-8")))[:max_tokens]
    chars = len(lm.tokenizer.decode(ids.tolist()))
    tune.MAX_TUNE_TOKENS = max_tokens
    out: dict[str, Any] = {}
    for mode in ("stream", "lines"):
        started = time.perf_counter()
        held = (tune.held_stream if mode == "stream" else tune.held_lines)(
            lm.module, mix.ngram, ids, lm.tokenizer.eos_id
        )
        for name, w in weights.items():
            lam = w[mode]
            if lam == "auto":
                lam = (mix_auto := lm.ngram_mix("auto")).stream_weight if mode == "stream" else mix_auto.lines_weight
            nats = -float(tune.mixed(held, np.asarray(lam, dtype=np.float64)).sum())
            out[f"{name}/{mode}"] = {
                "bpc": nats / (chars * math.log(2)),
                "ppl": math.exp(nats / held.net.size),
                "tokens": int(held.net.size),
                "seconds": round(time.perf_counter() - started, 2),
            }
    return out


def _pairs(lm: Any, pairs: list[dict[str, str]], weights: dict[str, Any]) -> dict[str, Any]:
    texts = [t for p in pairs for t in (p["good"], p["bad"])]
    won: dict[str, list[bool]] = {}
    for name, w in weights.items():
        scores = [s.logprob for s in lm.score(texts, ngram_weight=w["lines"])]
        won[name] = [scores[2 * i] > scores[2 * i + 1] for i in range(len(pairs))]
    result: dict[str, Any] = {"pairs": len(pairs)}
    for name, ok in won.items():
        result[name] = {"correct": sum(ok), "accuracy": sum(ok) / max(len(ok), 1)}
        for kind in ("agreement", "homophone", "swap"):
            mine = [o for o, p in zip(ok, pairs, strict=True) if p["kind"] == kind]
            result[name][kind] = f"{sum(mine)}/{len(mine)}"
        if name != "network":
            result[name]["lost"] = [p for p, o, n in zip(pairs, ok, won["network"], strict=True) if n and not o]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--text", type=Path, required=True, help="held-out text (written first with --source)")
    parser.add_argument("--source", type=Path, help="write the last --held-out-tail of this file to --text")
    parser.add_argument("--held-out-tail", type=float, default=0.05)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--name", default="run")
    parser.add_argument("--max-tokens", type=int, help="fast: one network pass per mode over this many tokens")
    args = parser.parse_args()
    if args.source is not None:
        held_out_tail(args.source, args.held_out_tail, args.text)
    lm = charlm.load(args.model, device="cpu")
    meta = json.loads((Path(args.model) / "ngram.json").read_text(encoding="utf-8"))
    weights = {name: {"stream": w, "lines": w} for name, w in (("network", 0.0), ("ngram", 1.0), ("auto", "auto"))}
    weights["fixed"] = {mode: meta[mode]["lambda"] for mode in ("stream", "lines")}
    pairs = sentence_pairs(args.text, args.pairs)
    result = {
        "model": args.model,
        "text": str(args.text),
        "ngram": {k: meta[k] for k in ("order", "types", "build_s", "tune_s", "lines", "stream")},
        "corpus": _corpus(lm, args.text, weights)
        if args.max_tokens is None
        else _corpus_fast(lm, args.text, weights, args.max_tokens),
        "max_tokens": args.max_tokens,
        "sentence_pairs": _pairs(lm, pairs, weights),
    }
    out = Path("bench/results") / f"ngram-{args.name}.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"| {args.name} | bpc stream | ppl stream | bpc lines | ppl lines | pairs correct |")
    print("|---|---|---|---|---|---|")
    for name in weights:
        s, li = result["corpus"][f"{name}/stream"], result["corpus"][f"{name}/lines"]
        p = result["sentence_pairs"][name]
        print(
            f"| {name} | {s['bpc']:.4f} | {s['ppl']:.2f} | {li['bpc']:.4f} | {li['ppl']:.2f} | "
            f"{p['correct']}/{len(pairs)} |"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
