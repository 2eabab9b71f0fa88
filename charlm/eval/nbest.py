"""N-best lists and word error rate: reading what a recogniser or translator wrote, and scoring it.

Two formats, told apart line by line::

    TSV    id<TAB>hypothesis<TAB>score[<TAB>score ...]      the decoder's total is the sum of the scores
    Moses  id ||| hypothesis ||| feature values ||| total    the decoder's total is the last field

References (``--refs``): ``id<TAB>text`` lines (an id given twice is refused), or one plain line per
id in the order the ids first appear in the n-best list. Both files are read whole, up to
:data:`charlm.io.SMALL_FILE` bytes. Word error rate is the word-level edit distance (substitutions,
insertions, deletions, each costing 1) summed over utterances, divided by the reference words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from charlm.errors import CharlmError
from charlm.io import SMALL_FILE, read_text


@dataclass(frozen=True)
class Hypothesis:
    """One line of an n-best list."""

    id: str
    text: str
    score: float  # the decoder's total
    features: tuple[float, ...] = ()  # the decoder's own score columns / feature values, as given


def _number(value: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise CharlmError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise CharlmError(f"{where}: score {value!r} is not finite")
    return number


def parse_line(line: str, where: str) -> Hypothesis:
    """A Moses (``|||``) or TSV n-best line."""
    if "|||" in line:
        fields = [f.strip() for f in line.split("|||")]
        if len(fields) < 3:
            raise CharlmError(f"{where}: a Moses n-best line needs 'id ||| text ||| features ||| total'")
        total = _number(fields[3] if len(fields) > 3 else fields[-1], where)
        feats = tuple(_number(v, where) for v in fields[2].split() if not v.endswith("=") and _is_number(v))
        return Hypothesis(fields[0], " ".join(fields[1].split()), total, feats)
    fields = line.split("\t")
    if len(fields) < 3:
        raise CharlmError(f"{where}: expected 'id<TAB>hypothesis<TAB>score...' (or Moses 'id ||| text ||| ...')")
    scores = tuple(_number(v, where) for v in fields[2:] if v.strip())
    return Hypothesis(fields[0].strip(), " ".join(fields[1].split()), math.fsum(scores), scores)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def read_nbest(path: str | Path) -> dict[str, list[Hypothesis]]:
    """Hypotheses grouped by id, ids in order of first appearance, each group in file order."""
    groups: dict[str, list[Hypothesis]] = {}
    for n, line in enumerate(read_text(path, limit=SMALL_FILE).split("\n"), 1):
        if line.strip():
            hyp = parse_line(line, f"{path}:{n}")
            groups.setdefault(hyp.id, []).append(hyp)
    if not groups:
        raise CharlmError(f"{path}: no hypotheses found")
    return groups


def read_refs(path: str | Path, ids: Sequence[str]) -> dict[str, str]:
    """References by id: ``id<TAB>text`` lines, or plain lines in the order of ``ids``."""
    numbered = [(n, line) for n, line in enumerate(read_text(path, limit=SMALL_FILE).split("\n"), 1) if line.strip()]
    lines = [line for _, line in numbered]
    if lines and all("\t" in line for line in lines):
        refs: dict[str, str] = {}
        for n, line in numbered:
            key, text = line.split("\t", 1)
            if key.strip() in refs:
                raise CharlmError(f"{path}:{n}: a second reference for id {key.strip()!r}; give one line per id")
            refs[key.strip()] = " ".join(text.split())
    elif len(lines) == len(ids):
        refs = {i: " ".join(line.split()) for i, line in zip(ids, lines, strict=True)}
    else:
        raise CharlmError(
            f"{path}: {len(lines)} plain reference lines for {len(ids)} ids; give one line per id or 'id<TAB>text'"
        )
    missing = [i for i in ids if i not in refs]
    if missing:
        raise CharlmError(f"{path}: no reference for id {missing[0]!r} ({len(missing)} missing)")
    return refs


def edit_distance(hyp: Sequence[str], ref: Sequence[str]) -> int:
    """Levenshtein distance between two word sequences (substitution, insertion, deletion: 1 each)."""
    previous = list(range(len(ref) + 1))
    for i, word in enumerate(hyp, 1):
        current = [i]
        for j, target in enumerate(ref, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != target)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class WordErrors:
    """Corpus word error rate: edits over reference words."""

    errors: int
    words: int

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else 0.0


def word_errors(hyps: Sequence[str], refs: Sequence[str]) -> WordErrors:
    """Summed edit distance of each hypothesis to its reference, over the reference word count."""
    pairs = list(zip(hyps, refs, strict=True))
    return WordErrors(sum(edit_distance(h.split(), r.split()) for h, r in pairs), sum(len(r.split()) for _, r in pairs))
