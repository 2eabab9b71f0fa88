"""Word tokenizer: whitespace-separated tokens (or segmented Chinese words) with ``<unk>`` and ``<eos>``.

The seed notes' scheme: the vocabulary keeps the most frequent words (``max_vocab``, ``min_count``),
every other word becomes ``<unk>``, and each line ends in ``<eos>``. A literal ``<unk>`` in the
corpus (WikiText, PTB) maps to the unk id rather than becoming a word of its own.

With a segmenter (``--segment zh``, or ``auto`` on Chinese text; see :mod:`charlm.tokenizers.segment`)
each line is cut into words by it, spaces are kept where the text had them, and the segmenter's
name, version and dictionary hash are saved with the vocabulary. Without one (every tokenizer.json
written before segmentation existed) nothing changes: ``line.split()`` and ``" ".join``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from charlm.io import write_json_atomic
from charlm.tokenizers.base import EOS, EOS_ID, UNK, UNK_ID, SpecialIds, join_lines
from charlm.tokenizers.segment import SAMPLE_CHARS, JiebaSegmenter, choose_segmenter, join_words, load_segmenter


class WordTokenizer(SpecialIds):
    """Whitespace (or segmented) words; newline is <eos>; out-of-vocabulary words are <unk>."""

    kind = "word"

    def __init__(self, words: list[str], segmenter: JiebaSegmenter | None = None) -> None:
        self.itos = [UNK, EOS, *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.stoi[EOS] = EOS_ID
        self.segmenter = segmenter

    @classmethod
    def fit(cls, text: str, max_vocab: int | None = None, min_count: int = 1, segment: str = "auto") -> WordTokenizer:
        """Keep words seen at least ``min_count`` times, at most ``max_vocab`` ids in all."""
        return cls.fit_chunks([text], max_vocab, min_count, segment)

    @classmethod
    def fit_chunks(
        cls, chunks: Iterable[str], max_vocab: int | None = None, min_count: int = 1, segment: str = "auto"
    ) -> WordTokenizer:
        """Fit on a text given in pieces that end at line breaks; ``segment`` is decided on its start."""
        pending: list[str] = []
        segmenter: JiebaSegmenter | None = None
        counts: Counter[str] = Counter()
        decided = False
        for chunk in chunks:
            if not decided:
                pending.append(chunk)
                if sum(map(len, pending)) < SAMPLE_CHARS:
                    continue
                segmenter, decided = choose_segmenter(segment, "".join(pending)), True
                chunk, pending = "".join(pending), []
            counts.update(cls.count(chunk, segmenter))
        if not decided:
            segmenter = choose_segmenter(segment, "".join(pending))
            counts.update(cls.count("".join(pending), segmenter))
        return cls.from_counts(counts, max_vocab, min_count, segmenter)

    @classmethod
    def from_counts(
        cls,
        counts: Counter[str],
        max_vocab: int | None = None,
        min_count: int = 1,
        segmenter: JiebaSegmenter | None = None,
    ) -> WordTokenizer:
        """Build the vocabulary from word counts (gathered in one streaming pass over a big file)."""
        counts = Counter(counts)
        counts.pop(UNK, None)
        counts.pop(EOS, None)
        ranked = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
        if max_vocab is not None:
            ranked = ranked[: max(0, max_vocab - 2)]
        return cls(ranked, segmenter)

    @staticmethod
    def count(text: str, segmenter: JiebaSegmenter | None = None) -> Counter[str]:
        """Word counts of ``text``."""
        if segmenter is None:
            return Counter(text.split())
        counts: Counter[str] = Counter()
        for line in text.split("\n"):
            counts.update(segmenter.words(line))
        return counts

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def split_line(self, line: str) -> list[str]:
        """The words of one line (no newline in it)."""
        return line.split() if self.segmenter is None else self.segmenter.words(line)

    def join_line(self, words: list[str]) -> str:
        """One line from its words: the inverse of :meth:`split_line` (runs of spaces aside, unsegmented)."""
        return " ".join(words) if self.segmenter is None else join_words(words)

    def encode(self, text: str) -> list[int]:
        get = self.stoi.get
        return join_lines([[get(w, UNK_ID) for w in self.split_line(line)] for line in text.split("\n")])

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def decode(self, ids: list[int]) -> str:
        out: list[str] = []
        line: list[str] = []
        for i in ids:
            if i == EOS_ID:
                out.append(self.join_line(line) + "\n")
                line = []
            else:
                line.append(self.itos[i])
        out.append(self.join_line(line))
        return "".join(out)

    def token_str(self, token_id: int) -> str:
        return self.itos[token_id]

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"kind": self.kind, "words": self.itos[2:]}
        if self.segmenter is not None:  # absent for whitespace words: old fingerprints stay valid
            payload["segment"] = self.segmenter.to_json()
        return payload

    def save(self, directory: str | Path) -> None:
        write_json_atomic(Path(directory) / "tokenizer.json", self.to_json())

    @classmethod
    def from_json(cls, payload: dict[str, Any], directory: Path) -> WordTokenizer:
        segmenter = load_segmenter(payload["segment"]) if "segment" in payload else None
        return cls(list(payload["words"]), segmenter)
