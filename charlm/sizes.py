"""Memory sizes and n-gram pruning thresholds as options: ``--memory 4G``, ``--ngram-prune "0 0 1"``."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from charlm.errors import BadOption
from charlm.values import Value, shown

UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
MIN_MEMORY, MAX_MEMORY = 2**20, 2**40


def size_text(size: int) -> str:
    """``size`` bytes in the largest unit that divides it (4G, 512M), else in bytes."""
    for unit in ("T", "G", "M", "K"):
        if size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]}{unit}"
    return str(size)


class MemorySize(Value):
    """A number of bytes: ``512M``, ``4G``, ``1.5G`` (K, M, G, T are powers of 1024; a bare number is bytes)."""

    __name__ = "SIZE"
    bad = ("bogus", "0M", "4X", "2T", "-1G")

    def parse(self, text: str) -> int:
        found = re.fullmatch(r"\s*([0-9]{1,15}(?:\.[0-9]{1,9})?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
        if not found:
            raise BadOption(f"cannot read the size {text!r}; write e.g. 512M or 4G")
        return self.check(int(float(found.group(1)) * UNITS[found.group(2).upper()]))

    def check(self, value: Any) -> int:
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadOption(f"must be a size such as 4G (got {shown(value)})")
        if not MIN_MEMORY <= value <= MAX_MEMORY:
            raise BadOption(f"must be in [1M, 1T] (got {size_text(value) if value > 0 else value})")
        return value


class Prune(Value):
    """``auto``, or counts at or below which n-grams are dropped, per order (KenLM's ``--prune``).

    ``"0 0 1"``: keep every unigram and bigram, drop trigrams and longer seen once; the last number
    holds for the longer orders; the first must be 0 and they never decrease. One number N > 0 is
    ``0 0 N``; ``0`` prunes nothing. From Python: ``"auto"``, a number or a list of numbers.
    """

    __name__ = "auto|COUNTS"
    bad = ("bogus", "1 0 1", "0 2 1", "0 -1")

    def parse(self, text: str) -> str | tuple[int, ...]:
        if text.strip() == "auto":
            return "auto"
        words = text.replace(",", " ").split()
        if not words or not all(re.fullmatch(r"[0-9]{1,9}", w) for w in words):
            raise BadOption(f"cannot read {text!r}; write auto, or counts per order such as '0 0 1'")
        return self._counts([int(w) for w in words])

    def check(self, value: Any) -> str | tuple[int, ...]:
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return self.parse(str(value))
        if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return self.parse(" ".join(str(v) for v in value))
        raise BadOption(f"must be auto or counts per order (got {shown(value)})")

    @staticmethod
    def _counts(counts: list[int]) -> tuple[int, ...]:
        if len(counts) == 1 and counts[0] > 0:
            return (0, 0, counts[0])  # one number: trigrams and longer
        if counts[0] != 0:
            raise BadOption(f"must start at 0: unigrams are never pruned (got {' '.join(map(str, counts))})")
        if any(b < a for a, b in pairwise(counts)):
            raise BadOption(f"must never decrease from one order to the next (got {' '.join(map(str, counts))})")
        return tuple(counts)
