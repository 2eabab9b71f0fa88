"""Character tokenizer: one token per Unicode code point (never bytes, so Chinese works).

The vocabulary is every code point seen in training, most frequent first, after ``<unk>`` (id 0)
and ``<eos>`` (id 1, which is the newline character). Encoding is vectorised with NumPy so a
100 MB corpus encodes in seconds, not minutes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from charlm.io import write_json_atomic
from charlm.tokenizers.base import EOS, EOS_ID, UNK, UNK_ID, SpecialIds


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as a uint32 array (no Python loop)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class CharTokenizer(SpecialIds):
    """Code-point vocabulary with ``<unk>`` and newline as ``<eos>``."""

    kind = "char"

    def __init__(self, chars: list[str]) -> None:
        if "\n" in chars:
            raise ValueError("newline is the <eos> token and cannot be in the character list")
        self.chars = list(chars)
        self.itos = [UNK, "\n", *self.chars]
        cps = np.array([*(ord(c) for c in self.chars), ord("\n")], dtype=np.uint32)
        ids = np.array([*range(2, 2 + len(self.chars)), EOS_ID], dtype=np.int64)
        order = np.argsort(cps)
        self._sorted_cps = cps[order]
        self._sorted_ids = ids[order]

    @classmethod
    def fit(cls, text: str, max_vocab: int | None = None, min_count: int = 1) -> CharTokenizer:
        """Build the vocabulary from ``text``: frequent characters first, rare ones become <unk>."""
        return cls.from_counts(Counter(text), max_vocab, min_count)

    @classmethod
    def from_counts(cls, counts: Counter[str], max_vocab: int | None = None, min_count: int = 1) -> CharTokenizer:
        """Build the vocabulary from character counts (gathered in one streaming pass over a big file)."""
        counts = Counter(counts)
        counts.pop("\n", None)
        ranked = [c for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
        if max_vocab is not None:
            ranked = ranked[: max(0, max_vocab - 2)]
        return cls(ranked)

    @staticmethod
    def count(text: str) -> Counter[str]:
        """Character counts of ``text``, vectorised (a 1 MB chunk in milliseconds)."""
        values, counts = np.unique(_code_points(text), return_counts=True)
        return Counter({chr(int(v)): int(n) for v, n in zip(values, counts, strict=True)})

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode_array(self, text: str) -> np.ndarray:
        """Ids of ``text`` as an int64 array; unseen characters map to <unk>."""
        cps = _code_points(text)
        pos = np.searchsorted(self._sorted_cps, cps)
        pos = np.minimum(pos, len(self._sorted_cps) - 1)
        found = self._sorted_cps[pos] == cps
        return np.where(found, self._sorted_ids[pos], UNK_ID).astype(np.int64)

    def encode(self, text: str) -> list[int]:
        return self.encode_array(text).tolist()

    def decode(self, ids: list[int]) -> str:
        itos = self.itos
        return "".join("\ufffd" if i == UNK_ID else itos[i] for i in ids)

    def token_str(self, token_id: int) -> str:
        return EOS if token_id == EOS_ID else self.itos[token_id]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": self.chars}

    def save(self, directory: str | Path) -> None:
        write_json_atomic(Path(directory) / "tokenizer.json", self.to_json())

    @classmethod
    def from_json(cls, payload: dict[str, Any], directory: Path) -> CharTokenizer:
        return cls(list(payload["chars"]))
