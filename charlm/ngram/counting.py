"""Counting a token stream's n-grams in bounded memory: the same :class:`~charlm.ngram.counts.Counts`
as :func:`~charlm.ngram.counts.count_ngrams`, for a stream (a memory-mapped corpus cache) of any length.

One pass over the stream per order, chunk by chunk. A k-gram's key is ``id(prefix) * V + w`` (see
:mod:`charlm.ngram.counts`), so a chunk needs the ids of the (k-1)-grams at its positions: the
finished table of order k-1 gives them by binary search, from the (k-2)-gram ids the previous pass
wrote to the spill directory (one int64 per position)::

    pass k:  (k-2)-gram ids (file) + tokens -> search order k-1's keys -> (k-1)-gram ids (file, for pass k+1)
             (k-1)-gram ids at i, i+1 + token i+k-1 -> k-gram key at i and its suffix id -> sorted run

Chunks overlap by one position (a k-gram's suffix starts one later). Each chunk's sorted run goes to
:class:`~charlm.ngram.spill.Runs`, which spills past its share of the budget and merges at the end.

Pruning (KenLM's ``--prune``): a k-gram seen at most ``t_k`` times is dropped, with ``t_1 = 0`` and
``t`` non-decreasing over the orders. An n-gram is seen no more often than its prefix or its suffix,
so the kept types still form a trie (every kept type's prefix and suffix are kept), and a pruned
(k-1)-gram's extensions are never formed. Lower-order adjusted counts then count the left
extensions whose context survived (at least 1: every n-gram seen has a left neighbour or starts the
stream; without pruning that floor changes nothing). ``"auto"`` prunes only where an order's table would push the whole
result past half the budget: at the smallest threshold that fits it, recorded like any other.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from charlm import interrupts
from charlm.errors import CharlmError
from charlm.ngram.counts import Counts
from charlm.ngram.spill import FIELDS, Run, Runs, distinct, read_block
from charlm.progress import Progress, silent

DEFAULT_MEMORY = 4 * 2**30
BYTES_PER_POSITION = 512  # a chunk's positions: its keys, sorts and searches take ~100 bytes each
MAX_CHUNK = 1 << 20  # positions: larger chunks sort and search out of cache (measured 3x slower at 8M)
BYTES_PER_RUN_ENTRY = 256  # types held before a spill: 24 bytes each, ~4x that while combined
BYTES_PER_TYPE = 64  # the result: counts (24), then the model's tables and estimates (~40)
COUNT_CAP = 1 << 16  # thresholds chosen by "auto" stop here (its histogram: 0.5 MB)


@dataclass(frozen=True)
class Budget:
    """How ``memory`` bytes are shared: chunk positions, run entries in memory, result types before auto-pruning."""

    memory: int

    @property
    def chunk(self) -> int:
        return max(1024, min(self.memory // BYTES_PER_POSITION, MAX_CHUNK))

    @property
    def entries(self) -> int:
        return max(256, self.memory // BYTES_PER_RUN_ENTRY)

    @property
    def types(self) -> int:
        return self.memory // 2 // BYTES_PER_TYPE


class Stream:
    """``[start] + ids`` read a chunk at a time as int64; a memory-mapped corpus gives its pages back after each."""

    def __init__(self, ids: np.ndarray, start: int) -> None:
        self.ids, self.start, self.size = ids, start, len(ids) + 1

    def tokens(self, a: int, b: int) -> np.ndarray:
        if a == 0:
            return np.concatenate([[self.start], np.asarray(self.ids[: max(b - 1, 0)], dtype=np.int64)])
        return np.asarray(self.ids[a - 1 : b - 1], dtype=np.int64)

    def release(self) -> None:
        """Drop the mapped pages read so far from this process (clean file pages: read again on demand)."""
        mapped = getattr(self.ids, "_mmap", None)  # np.memmap's mmap object (slices share it)
        read_only = getattr(self.ids, "mode", None) == "r"  # a private copy-on-write map would lose its writes
        if read_only and isinstance(mapped, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            mapped.madvise(mmap.MADV_DONTNEED)


def thresholds(prune: str | Sequence[int], order: int) -> list[int] | None:
    """Per-order thresholds of an explicit ``prune`` (the last repeats), or None for ``"auto"``."""
    if isinstance(prune, str):
        return None
    given = [int(t) for t in prune] or [0]
    if given[0] != 0 or any(b < a for a, b in pairwise(given)):
        raise CharlmError(f"--ngram-prune must start at 0 and never decrease (got {' '.join(map(str, given))})")
    return [given[min(k, len(given) - 1)] for k in range(order)]


def count_stream(
    ids: np.ndarray,
    order: int,
    vocab_size: int,
    start: int,
    workdir: Path,
    memory: int = DEFAULT_MEMORY,
    prune: str | Sequence[int] = "auto",
    progress: Progress = silent,
) -> Counts:
    """The types of orders 1..``order`` in ``[start] + ids``, counted within ``memory`` bytes (spilling to ``workdir``)."""
    if order < 1:
        raise CharlmError(f"--order must be at least 1 (got {order})")
    stream, budget = Stream(ids, start), Budget(memory)
    if stream.size < 2:
        raise CharlmError("no tokens to count: the training text is empty")
    order = min(order, stream.size)
    fixed = thresholds(prune, order)
    counter = _Counter(stream, vocab_size, budget, Path(workdir), progress)
    raw = counter.unigrams()
    keys, counts, suffix = [np.arange(vocab_size, dtype=np.int64)], [raw], [np.empty(0, dtype=np.int64)]
    applied = [0]
    for k in range(2, order + 1):
        floor = applied[-1]
        allowance = max(0, (budget.types - vocab_size - sum(t.size for t in keys[1:])) // (order - k + 1))
        table, first = counter.order(k, keys, last=k == order)
        t = fixed[k - 1] if fixed else _auto(table, floor, allowance, budget)
        key, raw, suf, adjusted = _load(table, t, keys[k - 2].size, budget)
        if first >= 0:
            adjusted[first] += 1  # the stream's first (k-1)-gram: as if a boundary came before it
        if k > 2:  # a seen n-gram has a left neighbour; one whose extensions' contexts were all pruned counts 1
            np.maximum(adjusted, 1, out=adjusted)
        counts[k - 2] = adjusted
        keys.append(key)
        counts.append(raw)
        suffix.append(suf)
        applied.append(t)
    return Counts(vocab_size, keys, counts, suffix, tuple(applied))


Table = Run | tuple[Path, int]  # in memory, or merged on disk (its stem and size)


class _Counter:
    """The passes over one stream; ``order(k)`` needs orders < k finished (their keys)."""

    def __init__(self, stream: Stream, vocab: int, budget: Budget, workdir: Path, progress: Progress) -> None:
        self.stream, self.vocab, self.budget, self.workdir, self.progress = stream, vocab, budget, workdir, progress
        self.pid: Path | None = None  # (k-2)-gram ids per position, written by the last pass
        self.pid_dtype: type = np.int64

    def unigrams(self) -> np.ndarray:
        raw = np.zeros(self.vocab, dtype=np.int64)
        for a in range(0, self.stream.size, self.budget.chunk):
            tok = self.stream.tokens(a, min(a + self.budget.chunk, self.stream.size))
            if int(tok.max()) >= self.vocab or int(tok.min()) < 0:
                raise CharlmError(f"token ids must lie in 0..{self.vocab - 1}; is this the model's own corpus cache?")
            raw += np.bincount(tok, minlength=self.vocab)
            self._done("counting 1-grams", a + tok.size, self.stream.size)
        return raw

    def _done(self, stage: str, done: int, total: int) -> None:
        self.stream.release()
        self.progress(stage, done, total, "tokens")
        interrupts.check()

    def _ids(self, j: int, keys: list[np.ndarray], a: int, b: int) -> np.ndarray:
        """Ids at order ``j`` of the j-grams at positions a..b-1 (-1: pruned)."""
        if j == 1:
            return self.stream.tokens(a, b)
        base = self.stream.tokens(a, b) if j == 2 else read_block(self.pid, a, b, self.pid_dtype)  # type: ignore[arg-type]
        table = keys[j - 1]
        key = base * self.vocab + self.stream.tokens(a + j - 1, b + j - 1)  # (b-a,)
        at = np.minimum(np.searchsorted(table, key), max(table.size - 1, 0))
        hit = (base >= 0) & (table[at] == key) if table.size else np.zeros(key.shape, dtype=bool)
        return np.where(hit, at, -1)

    def order(self, k: int, keys: list[np.ndarray], last: bool) -> tuple[Table, int]:
        """Order k's table (raw counts) and the id of the stream's first (k-1)-gram (-1: pruned)."""
        positions, chunk = self.stream.size - k + 1, self.budget.chunk
        runs = Runs(self.workdir, self.budget.entries)
        out = self.workdir / f"ids{k - 1}" if k >= 3 and not last else None
        dtype = np.int32 if keys[k - 2].size < 2**31 else np.int64  # ids and -1: half the disk, mostly
        first = -1
        with open(out, "wb") if out else _nowhere() as sink:
            for a in range(0, positions, chunk):
                b = min(a + chunk, positions)
                prev = self._ids(k - 1, keys, a, b + 1)  # (k-1)-gram ids at a..b: prefixes, and suffixes from a+1
                if sink is not None:
                    prev[: b - a].astype(dtype).tofile(sink)
                first = int(prev[0]) if a == 0 else first
                ok = prev[:-1] >= 0
                key = prev[:-1][ok] * self.vocab + self.stream.tokens(a + k - 1, b + k - 1)[ok]
                runs.add(distinct(key, None, prev[1:][ok]))
                self._done(f"counting {k}-grams", b, positions)
        if self.pid is not None:
            self.pid.unlink(missing_ok=True)
        self.pid, self.pid_dtype = out, dtype
        table = runs.in_memory()
        return (table if table is not None else runs.merge(f"merging {k}-grams", self.progress)), first


class _nowhere:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _blocks(table: Table, size: int) -> Iterator[Run]:
    """A table in blocks of ``size`` types, whether in memory or merged on disk."""
    if not isinstance(table[0], Path):
        run: Run = table
        for a in range(0, max(run[0].size, 1), size):
            yield run[0][a : a + size], run[1][a : a + size], run[2][a : a + size]
        return
    stem, n = table
    for a in range(0, max(n, 1), size):
        yield tuple(read_block(Path(f"{stem}.{name}"), a, min(a + size, n)) for name in FIELDS)  # type: ignore[misc]


def _auto(table: Table, floor: int, allowance: int, budget: Budget) -> int:
    """The smallest threshold >= ``floor`` that keeps at most ``allowance`` types of the table."""
    histogram = np.zeros(COUNT_CAP + 1, dtype=np.int64)  # types seen c times (COUNT_CAP: or more)
    for _, raw, _ in _blocks(table, budget.entries):
        histogram += np.bincount(np.minimum(raw, COUNT_CAP), minlength=COUNT_CAP + 1)
    kept = histogram.sum() - np.cumsum(histogram)  # kept[t]: types seen more than t times
    fits = np.flatnonzero(kept[floor:] <= allowance)
    return floor + int(fits[0]) if fits.size else COUNT_CAP


def _load(table: Table, t: int, lower: int, budget: Budget) -> tuple[np.ndarray, ...]:
    """(keys, raw counts, suffix) of the types seen more than ``t`` times, and order k-1's adjusted counts.

    A lower type's adjusted count is its number of distinct left extensions: every type of this
    order counted (pruned or not) whose suffix it is.
    """
    adjusted = np.zeros(lower, dtype=np.int64)
    if t == 0 and not isinstance(table[0], Path):
        key, raw, suf = table
        adjusted += np.bincount(suf[suf >= 0], minlength=lower)
        return key, raw, suf, adjusted
    size = sum(int(np.count_nonzero(raw > t)) for _, raw, _ in _blocks(table, budget.entries))
    kept = tuple(np.empty(size, dtype=np.int64) for _ in FIELDS)  # filled in place: the result, once
    at = 0
    for block in _blocks(table, budget.entries):
        adjusted += np.bincount(block[2][block[2] >= 0], minlength=lower)
        keep = block[1] > t
        n = int(np.count_nonzero(keep))
        for whole, part in zip(kept, block, strict=True):
            whole[at : at + n] = part[keep]
        at += n
    if isinstance(table[0], Path):
        for name in FIELDS:
            Path(f"{table[0]}.{name}").unlink(missing_ok=True)
    return (*kept, adjusted)
