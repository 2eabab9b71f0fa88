"""Tokenizer registry: build one from text by level, or load one from a model directory."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from charlm.errors import CharlmError
from charlm.tokenizers.base import EOS, EOS_ID, UNK, UNK_ID, Tokenizer
from charlm.tokenizers.char import CharTokenizer
from charlm.tokenizers.segment import SEGMENTS, check_segment
from charlm.tokenizers.word import WordTokenizer
from charlm.writer import Kind, claim_dir

LEVELS = ("char", "word", "bpe", "unigram")

__all__ = [
    "EOS",
    "EOS_ID",
    "LEVELS",
    "SEGMENTS",
    "UNK",
    "UNK_ID",
    "Tokenizer",
    "build_tokenizer",
    "check_segment",
    "describe",
    "describe_counts",
    "load_tokenizer",
    "save_tokenizer",
]


def build_tokenizer(
    level: str,
    text: str,
    max_vocab: int | None = None,
    min_count: int = 1,
    vocab_size: int = 2000,
    segment: str = "auto",
) -> Tokenizer:
    """Fit a tokenizer of ``level`` (char, word, bpe, unigram) on ``text``; ``segment``: see :mod:`.segment`."""
    check_segment(level, segment)
    if level == "char":
        return CharTokenizer.fit(text, max_vocab=max_vocab, min_count=min_count)
    if level == "word":
        return WordTokenizer.fit(text, max_vocab=max_vocab, min_count=min_count, segment=segment)
    if level in ("bpe", "unigram"):
        from charlm.tokenizers.subword import SubwordTokenizer

        return SubwordTokenizer.fit(text, kind=level, vocab_size=vocab_size)
    raise CharlmError(f"unknown tokenizer level {level!r}; use one of {', '.join(LEVELS)}")


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """Load the tokenizer saved in ``directory`` (tokenizer.json, plus tokenizer.model for subwords)."""
    directory = Path(directory)
    path = directory / "tokenizer.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        kind = payload["kind"]
        if kind == "char":
            return CharTokenizer.from_json(payload, directory)
        if kind == "word":
            return WordTokenizer.from_json(payload, directory)
        if kind in ("bpe", "unigram"):
            from charlm.tokenizers.subword import SubwordTokenizer

            return SubwordTokenizer.from_json(payload, directory)
    except FileNotFoundError as exc:
        raise CharlmError(f"{directory} has no {Path(exc.filename).name}; is it a charlm model directory?") from None
    except (ValueError, KeyError, TypeError, RuntimeError, OSError):
        raise CharlmError(f"the tokenizer in {directory} is damaged; retrain or restore the model directory") from None
    raise CharlmError(f"{path} names an unknown tokenizer kind {kind!r}; is it from a newer charlm?")


def _is_saved_tokenizer(directory: Path) -> bool:
    try:
        payload = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(payload, dict) and payload.get("kind") in LEVELS


SAVED = Kind(
    "a saved tokenizer",
    "--save",
    files=frozenset({"tokenizer.json", "tokenizer.model"}),
    marker=_is_saved_tokenizer,
)


def save_tokenizer(
    tokenizer: Tokenizer, directory: str | Path, force: bool = False, sources: Sequence[str | Path] = ()
) -> Path:
    """Save ``tokenizer`` into ``directory`` as a whole (claimed and staged: :mod:`charlm.writer`).

    A model directory, a directory of other files and (without ``force``) an earlier saved tokenizer
    are refused; :func:`charlm.writer.check_target` with :data:`SAVED` judges a target before any work.
    """
    with claim_dir(directory, SAVED, force, sources) as staging:
        tokenizer.save(staging)
    return Path(directory)


def describe(tokenizer: Tokenizer, text: str, top: int = 20) -> tuple[dict[str, object], list[tuple[str, int]]]:
    """Statistics of ``text`` under ``tokenizer`` and its ``top`` most frequent tokens."""
    import numpy as np

    counts = np.bincount(tokenizer.encode_array(text), minlength=tokenizer.vocab_size)
    return describe_counts(tokenizer, counts, len(text), top)


def describe_counts(
    tokenizer: Tokenizer, counts: Any, chars: int, top: int = 20
) -> tuple[dict[str, object], list[tuple[str, int]]]:
    """:func:`describe` from the count of each token id ``(V,)`` and the characters (a file counted chunk by chunk)."""
    import numpy as np

    tokens, unk = int(counts.sum()), int(counts[tokenizer.unk_id])
    stats: dict[str, object] = {
        "level": tokenizer.kind,
        "vocab_size": tokenizer.vocab_size,
        "tokens": tokens,
        "chars": chars,
        "chars_per_token": chars / max(tokens, 1),
        "unk": unk,
        "unk_rate": unk / max(tokens, 1),
    }
    segmenter = getattr(tokenizer, "segmenter", None)
    if segmenter is not None:
        stats["segment"] = segmenter.to_json()
    ranked = np.argsort(-counts, kind="stable")[:top]
    return stats, [(tokenizer.token_str(int(i)), int(counts[i])) for i in ranked if counts[i] > 0]
