"""A seeded n-best rescoring set from WikiText-2 ``test.txt``: realistic recogniser confusions.

For each of ``--utterances`` sentences (8-30 words, no headings, no ``<unk>``) it writes 10
hypotheses: the reference and 9 distinct wrong ones, each with 1-2 confusions drawn from
homophones (pear/pair, their/there, ...), agreement errors (is/are, a/an, plays/play), a dropped
word, a doubled word and a near-miss spelling (letters swapped, dropped or doubled). Decoder scores
are Gaussian (sd ``--spread``) per hypothesis minus ``--per-error`` per word error, then the best
score is handed to a wrong hypothesis in ``--wrong-share`` of the utterances (drawn per utterance)
and to the reference in the rest, so the decoder alone prefers a wrong hypothesis that share of the
time. The first half is the development set, the second the test set::

    OUT/dev.nbest  OUT/dev.refs  OUT/test.nbest  OUT/test.refs      (id<TAB>hyp<TAB>score / id<TAB>ref)

Usage: python bench/nbest.py --out data/nbest --utterances 500 --seed 12
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from bench import DATA

HOMOPHONES = [
    ("their", "there", "they're"), ("to", "too", "two"), ("pair", "pear", "pare"), ("its", "it's"),
    ("your", "you're"), ("then", "than"), ("affect", "effect"), ("whether", "weather"), ("here", "hear"),
    ("know", "no"), ("new", "knew"), ("right", "write"), ("one", "won"), ("for", "four"), ("by", "buy"),
    ("see", "sea"), ("which", "witch"), ("whole", "hole"), ("peace", "piece"), ("principal", "principle"),
    ("rain", "reign"), ("site", "sight"), ("led", "lead"), ("passed", "past"), ("be", "bee"),
    ("would", "wood"), ("through", "threw"), ("allowed", "aloud"), ("made", "maid"), ("night", "knight"),
    ("way", "weigh"), ("week", "weak"), ("role", "roll"), ("course", "coarse"), ("seen", "scene"),
    ("in", "inn"), ("sun", "son"), ("main", "mane"), ("sole", "soul"), ("band", "banned"), ("war", "wore"),
    ("great", "grate"), ("high", "hi"), ("road", "rode"), ("air", "heir"), ("hour", "our"), ("him", "hymn"),
]  # fmt: skip
AGREEMENT = [("is", "are"), ("was", "were"), ("has", "have"), ("does", "do"), ("this", "these"), ("a", "an")]
ALTERNATIVES = {w: [v for v in group if v != w] for group in HOMOPHONES + AGREEMENT for w in group}
ALTERNATIVES.update({w: [v for v in group if v != w] for group in AGREEMENT for w in group})


def sentences(path: Path, low: int = 8, high: int = 30) -> list[str]:
    """WikiText sentences of ``low``-``high`` words: no headings, no <unk>, ending in ' .'."""
    found = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        line = line.strip()
        if not line or line.startswith("="):
            continue
        for piece in re.split(r"(?<= \.) ", line):
            words = piece.split()
            if low <= len(words) <= high and "<unk>" not in words and words[-1] == ".":
                found.append(" ".join(words))
    return found


def near_miss(word: str, rng: random.Random) -> str:
    """A misspelling: two adjacent letters swapped, one dropped or one doubled."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap" and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def confuse(words: list[str], rng: random.Random) -> list[str]:
    """One confusion applied to a copy of ``words``."""
    out = list(words)
    kinds = ["drop", "double", "spell"]
    swappable = [i for i, w in enumerate(words) if w.lower() in ALTERNATIVES]
    plural = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha() and w.islower()]
    kinds += ["homophone"] * 3 * bool(swappable) + ["agreement"] * bool(plural)
    kind = rng.choice(kinds)
    content = [i for i, w in enumerate(words[:-1]) if w.isalpha()] or list(range(len(words) - 1))
    if kind == "homophone":
        i = rng.choice(swappable)
        out[i] = rng.choice(ALTERNATIVES[words[i].lower()])
    elif kind == "agreement":
        i = rng.choice(plural)
        out[i] = words[i][:-1] if words[i].endswith("s") else words[i] + "s"
    elif kind == "drop":
        del out[rng.choice(content)]
    elif kind == "double":
        i = rng.choice(content)
        out.insert(i, words[i])
    else:
        longer = [i for i in content if len(words[i]) >= 4] or content
        i = rng.choice(longer)
        out[i] = near_miss(words[i], rng) if len(words[i]) >= 3 else words[i] + words[i][-1]
    return out


def hypotheses(ref: str, rng: random.Random, n: int = 10) -> list[str]:
    """The reference and ``n - 1`` distinct wrong hypotheses (1 or 2 confusions each)."""
    words, found = ref.split(), {ref}
    wrong: list[str] = []
    for _ in range(200):
        if len(wrong) == n - 1:
            break
        hyp = words
        for _ in range(rng.choice((1, 1, 2))):
            hyp = confuse(hyp, rng)
        text = " ".join(hyp)
        if text not in found:
            found.add(text)
            wrong.append(text)
    return [ref, *wrong]


def errors(hyp: str, ref: str) -> int:
    a, b = hyp.split(), ref.split()
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def scores(hyps: list[str], ref: str, rng: random.Random, wrong: bool, spread: float, per_error: float) -> list[float]:
    """Decoder scores: noise minus a cost per error; the best goes to a wrong one when ``wrong``."""
    values = [rng.gauss(0.0, spread) - per_error * errors(h, ref) for h in hyps]
    top = max(range(len(hyps)), key=lambda i: values[i])
    target = rng.randrange(1, len(hyps)) if wrong else 0
    if wrong and top != 0:
        target = top
    values[top], values[target] = values[target], values[top]
    return [round(v, 4) for v in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DATA / "wikitext-2" / "test.txt")
    parser.add_argument("--out", type=Path, default=Path("data/nbest"))
    parser.add_argument("--utterances", type=int, default=500)
    parser.add_argument("--wrong-share", type=float, default=0.5)
    parser.add_argument("--spread", type=float, default=2.0)
    parser.add_argument("--per-error", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    chosen = rng.sample(sentences(args.source), args.utterances)
    args.out.mkdir(parents=True, exist_ok=True)
    half, wrong_count = len(chosen) // 2, 0
    for name, part in (("dev", chosen[:half]), ("test", chosen[half:])):
        nbest, refs = [], []
        for n, ref in enumerate(part):
            uid = f"{name}{n:04d}"
            hyps = hypotheses(ref, rng)
            wrong = rng.random() < args.wrong_share
            wrong_count += wrong
            order = list(range(len(hyps)))
            rng.shuffle(order)
            values = scores(hyps, ref, rng, wrong, args.spread, args.per_error)
            nbest += [f"{uid}\t{hyps[i]}\t{values[i]}" for i in order]
            refs.append(f"{uid}\t{ref}")
        (args.out / f"{name}.nbest").write_text("\n".join(nbest) + "\n", encoding="utf-8")
        (args.out / f"{name}.refs").write_text("\n".join(refs) + "\n", encoding="utf-8")
    print(f"{len(chosen)} utterances ({half} dev), decoder prefers a wrong hypothesis in {wrong_count}: {args.out}")


if __name__ == "__main__":
    main()
