"""Large corpora: stream a text file once into a memory-mapped token-id array cached beside the run.

::

    corpus.txt --(1 MB chunks cut at newlines, incremental decoding)--> pass 1: vocabulary counts
               --(same chunks)--> pass 2: tokenizer.encode_array(chunk) --> <run>/<name>.ids (uint16/uint32)
    <run>/<name>.json  fingerprint (path, size, mtime, encoding, tokenizer) + token/char/unk counts

Training then reads TBPTT windows straight from ``np.memmap`` views, so memory stays near the
model's needs whatever the file size. Chunks end at a newline (or, inside one very long line, at a
space), which every tokenizer encodes exactly as it would the whole text. Subword vocabularies are
trained on a seeded sample of lines. Bad input is refused with the same one-line messages as
:mod:`charlm.io`, whose reader it uses.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from charlm.checkpoint import fingerprint
from charlm.errors import CharlmError
from charlm.io import check_text_file, iter_chunks, write_atomic, write_json_atomic
from charlm.progress import Progress, silent
from charlm.tokenizers import LEVELS, Tokenizer, build_tokenizer, check_segment

SUBWORD_SAMPLE_BYTES = 64 << 20
MAX_UNK_RATE = 0.5
COUNT_STEP = 1 << 20  # ids counted at once (np.bincount widens them to int64: 8 MB)


def fit_tokenizer(
    path: str | Path,
    level: str,
    encoding: str = "utf-8",
    errors: str = "strict",
    max_vocab: int | None = None,
    min_count: int = 1,
    vocab_size: int = 2000,
    seed: int = 0,
    segment: str = "auto",
    progress: Progress = silent,
) -> Tokenizer:
    """Pass 1: build the vocabulary while streaming (subwords: on a seeded sample of lines).

    Memory holds one chunk and the counts (subwords: a sample of at most :data:`SUBWORD_SAMPLE_BYTES`).
    """
    check_segment(level, segment)
    if max_vocab is not None and max_vocab < 3 and level in ("char", "word"):
        raise CharlmError(f"--max-vocab must be at least 3 (<unk>, <eos> and one token), got {max_vocab}")
    if level not in LEVELS:
        return build_tokenizer(level, "x")  # raises the one-line "unknown level" error
    what = {"char": "counting characters", "word": "counting words"}.get(level, "sampling lines")
    chunks = iter_chunks(path, encoding, errors, progress=progress, stage=what)
    if level == "word":
        from charlm.tokenizers.word import WordTokenizer

        return WordTokenizer.fit_chunks(chunks, max_vocab, min_count, segment)
    if level == "char":
        from charlm.tokenizers.char import CharTokenizer

        counts: Counter[str] = Counter()
        for piece in chunks:
            counts.update(CharTokenizer.count(piece))
        return CharTokenizer.from_counts(counts, max_vocab, min_count)
    from charlm.tokenizers.subword import SubwordTokenizer

    keep = min(1.0, SUBWORD_SAMPLE_BYTES / max(Path(path).stat().st_size, 1))
    rng, lines = random.Random(seed), list[str]()
    for piece in chunks:
        lines.extend(line for line in piece.split("\n") if keep >= 1.0 or rng.random() < keep)
    return SubwordTokenizer.fit_lines(lines, level, vocab_size)


def token_counts(
    path: str | Path, tokenizer: Tokenizer, encoding: str = "utf-8", errors: str = "strict", progress: Progress = silent
) -> tuple[np.ndarray, int]:
    """(count of each token id (V,), characters) of ``path`` under ``tokenizer``, one chunk in memory at a time."""
    counts, chars = np.zeros(tokenizer.vocab_size, dtype=np.int64), 0
    for piece in iter_chunks(path, encoding, errors, progress=progress, stage="encoding"):
        counts += np.bincount(tokenizer.encode_array(piece), minlength=tokenizer.vocab_size)[: tokenizer.vocab_size]
        chars += len(piece)
    return counts, chars


def id_counts(ids: np.ndarray, vocab: int) -> np.ndarray:
    """How often each id occurs in ``ids (N,)`` (a memmap), counted :data:`COUNT_STEP` ids at a time: (V,) int64."""
    counts, step = np.zeros(vocab, dtype=np.int64), COUNT_STEP
    for first in range(0, len(ids), step):
        counts += np.bincount(np.asarray(ids[first : first + step]), minlength=vocab)[:vocab]
    return counts


@dataclass(frozen=True)
class TokenCache:
    """A token-id memmap with the counts needed for bits/char and the unknown rate."""

    ids: np.ndarray  # (N,) uint16/uint32 memmap
    chars: int
    unk: int

    @property
    def tokens(self) -> int:
        return len(self.ids)


def _fingerprint(path: Path, tokenizer: Tokenizer, encoding: str, errors: str) -> dict[str, object]:
    stat = path.stat()
    return {
        "source": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "encoding": encoding,
        "errors": errors,
        "tokenizer": fingerprint(tokenizer),
    }


def _dtype(tokenizer: Tokenizer) -> np.dtype:
    return np.dtype(np.uint16 if tokenizer.vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32)


def _open_cache(
    ids_path: Path, meta_path: Path, want: dict[str, object], dtype: np.dtype, keep: bool
) -> TokenCache | None:
    """The cached ids if they match ``want`` (with ``keep``: if only the tokenizer matches)."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    saved = meta.get("fingerprint") or {}
    matches = saved.get("tokenizer") == want["tokenizer"] if keep else saved == want
    if not matches or not ids_path.exists():
        return None
    if ids_path.stat().st_size != meta["tokens"] * dtype.itemsize or meta["tokens"] == 0:
        return None
    ids = np.memmap(ids_path, dtype=dtype, mode="r", shape=(meta["tokens"],))
    return TokenCache(ids, meta["chars"], meta["unk"])


def encode_file(
    path: str | Path,
    tokenizer: Tokenizer,
    cache_dir: Path,
    name: str = "corpus",
    encoding: str = "utf-8",
    errors: str = "strict",
    keep: bool = False,
    progress: Progress = silent,
) -> TokenCache:
    """Pass 2: tokenize ``path`` chunk by chunk into ``cache_dir/<name>.ids``, or reuse a matching cache.

    ``keep`` (resuming): reuse the cache even if the file changed since, so the run continues on the
    exact tokens it started with. The ids are written to a temporary file renamed into place when
    complete (:func:`charlm.io.write_atomic`), so Ctrl-C leaves no half-written cache behind.
    """
    path = Path(path)
    ids_path, meta_path = cache_dir / f"{name}.ids", cache_dir / f"{name}.json"
    dtype = _dtype(tokenizer)
    if keep and not path.is_file():
        want: dict[str, object] = {"tokenizer": fingerprint(tokenizer)}
    else:
        check_text_file(path)
        want = _fingerprint(path, tokenizer, encoding, errors)
    cached = _open_cache(ids_path, meta_path, want, dtype, keep)
    if cached is not None:
        return cached
    counts = [0, 0, 0]  # tokens, chars, unk

    def write(fh: BinaryIO) -> None:
        for piece in iter_chunks(path, encoding, errors, progress=progress, stage=f"encoding {name}"):
            ids = tokenizer.encode_array(piece)
            counts[2] += int(np.count_nonzero(ids == tokenizer.unk_id))
            fh.write(ids.astype(dtype).tobytes())
            counts[0], counts[1] = counts[0] + len(ids), counts[1] + len(piece)

    write_atomic(ids_path, write)
    tokens, chars, unk = counts
    write_json_atomic(
        meta_path, {"fingerprint": want, "tokens": tokens, "chars": chars, "unk": unk, "dtype": dtype.name}
    )
    return TokenCache(np.memmap(ids_path, dtype=dtype, mode="r", shape=(tokens,)), chars, unk)


def check_unknown_rate(cache: TokenCache, what: str, hint: str) -> None:
    """Refuse a corpus the vocabulary mostly cannot represent (``hint`` says what to change)."""
    rate = cache.unk / max(cache.tokens, 1)
    if rate > MAX_UNK_RATE:
        raise CharlmError(f"{rate:.0%} of the tokens of {what} are <unk> under this vocabulary; {hint}")
