"""Word tokenizer: whitespace-separated tokens with ``<unk>`` and ``<eos>``.

The seed notes' scheme: the vocabulary keeps the most frequent words (``max_vocab``, ``min_count``),
every other word becomes ``<unk>``, and each line ends in ``<eos>``. A literal ``<unk>`` in the
corpus (WikiText, PTB) maps to the unk id rather than becoming a word of its own.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from charlm.io import write_json_atomic
from charlm.tokenizers.base import EOS, EOS_ID, UNK, UNK_ID, SpecialIds, join_lines


class WordTokenizer(SpecialIds):
    """Whitespace words; newline is <eos>; out-of-vocabulary words are <unk>."""

    kind = "word"

    def __init__(self, words: list[str]) -> None:
        self.itos = [UNK, EOS, *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.stoi[EOS] = EOS_ID

    @classmethod
    def fit(cls, text: str, max_vocab: int | None = None, min_count: int = 1) -> WordTokenizer:
        """Keep words seen at least ``min_count`` times, at most ``max_vocab`` ids in all."""
        return cls.from_counts(Counter(text.split()), max_vocab, min_count)

    @classmethod
    def from_counts(cls, counts: Counter[str], max_vocab: int | None = None, min_count: int = 1) -> WordTokenizer:
        """Build the vocabulary from word counts (gathered in one streaming pass over a big file)."""
        counts = Counter(counts)
        counts.pop(UNK, None)
        counts.pop(EOS, None)
        ranked = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
        if max_vocab is not None:
            ranked = ranked[: max(0, max_vocab - 2)]
        return cls(ranked)

    @staticmethod
    def count(text: str) -> Counter[str]:
        """Word counts of ``text``."""
        return Counter(text.split())

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        get = self.stoi.get
        return join_lines([[get(w, UNK_ID) for w in line.split()] for line in text.split("\n")])

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def decode(self, ids: list[int]) -> str:
        out: list[str] = []
        line: list[str] = []
        for i in ids:
            if i == EOS_ID:
                out.append(" ".join(line) + "\n")
                line = []
            else:
                line.append(self.itos[i])
        out.append(" ".join(line))
        return "".join(out)

    def token_str(self, token_id: int) -> str:
        return self.itos[token_id]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "words": self.itos[2:]}

    def save(self, directory: str | Path) -> None:
        write_json_atomic(Path(directory) / "tokenizer.json", self.to_json())

    @classmethod
    def from_json(cls, payload: dict[str, Any], directory: Path) -> WordTokenizer:
        return cls(list(payload["words"]))
