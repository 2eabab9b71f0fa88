"""Sorted runs of n-gram types on disk, and their merge in bounded memory (KenLM ``lmplz -S``'s idea).

A *run* is three aligned arrays sorted by key: ``key`` (int64), ``count`` (int64, summed when runs
are merged) and ``suffix`` (int64, a function of the key, so any run's value will do). Counting
accumulates runs in memory (:class:`Runs`); past its budget it combines them into one and writes it to
the spill directory as raw files. At the end the spilled runs are merged range by range::

    run 1  |  k1 k4 k9 ....... |  ...
    run 2  |  k2 k4 k7 k8 .... |  ...        each range [lo, hi): every run's slice found by a binary
    run 3  |  k4 k5 ...........|  ...        search on its (memory-mapped) keys, read with plain reads,
            <----- range 1 ---> <- range 2   concatenated, sorted, equal keys' counts summed

The range ends are quantiles of a sample of every run's keys, so a range holds about ``entries``
types whatever the runs look like; memory is that range, never the runs. The merged table goes to
disk too (``merged.*``), read back by the caller, which can then drop types (pruning) on the way in.
Plain reads (``np.fromfile``) keep the page cache out of the process's resident memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from charlm import interrupts
from charlm.progress import Progress, silent

FIELDS = ("key", "count", "suffix")
SAMPLES_PER_RANGE = 64
Run = tuple[np.ndarray, np.ndarray, np.ndarray]  # (key, count, suffix), sorted by key, keys distinct


def distinct(key: np.ndarray, count: np.ndarray | None, suffix: np.ndarray) -> Run:
    """Keys sorted and made distinct, their counts summed (None: each key once); any equal key's suffix."""
    if not key.size:
        return key, np.empty(0, dtype=np.int64), suffix
    order = np.argsort(key)  # not stable: equal keys carry equal suffixes, and counts are summed
    key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))  # (distinct,)
    summed = np.diff(np.append(starts, key.size)) if count is None else np.add.reduceat(count[order], starts)
    return key[starts], summed.astype(np.int64, copy=False), suffix[order[starts]]


def combine(runs: list[Run]) -> Run:
    """One run from several: keys sorted and made distinct, counts summed."""
    if len(runs) == 1:
        return runs[0]
    key, count, suffix = (np.concatenate([r[i] for r in runs]) for i in range(3))
    return distinct(key, count, suffix)


def read_block(path: Path, start: int, stop: int, dtype: type = np.int64) -> np.ndarray:
    """Values ``start:stop`` of a raw file of ``dtype``, read (not mapped), as int64."""
    size = np.dtype(dtype).itemsize
    with open(path, "rb") as fh:
        values: np.ndarray = np.fromfile(fh, dtype=dtype, count=max(stop - start, 0), offset=start * size)
    return values.astype(np.int64, copy=False)


@dataclass
class Runs:
    """The runs of one order: kept in memory up to ``entries`` types, spilled to ``directory`` beyond."""

    directory: Path
    entries: int  # types held in memory before a spill (and per merged range)
    held: list[Run] = field(default_factory=list)
    spilled: list[Path] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, run: Run) -> None:
        if not run[0].size:
            return
        self.held.append(run)
        if sum(r[0].size for r in self.held) > self.entries:
            self._spill()

    def _spill(self) -> None:
        run = combine(self.held)
        self.held = []
        stem = self.directory / f"run{len(self.spilled)}"
        for name, values in zip(FIELDS, run, strict=True):
            values.astype(np.int64).tofile(f"{stem}.{name}")
        self.spilled.append(stem)
        self.sizes.append(int(run[0].size))

    def in_memory(self) -> Run | None:
        """The whole table when nothing was spilled (the fast path), else None."""
        if self.spilled:
            return None
        if not self.held:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty.copy(), empty.copy()
        return combine(self.held)

    def merge(self, stage: str, progress: Progress = silent) -> tuple[Path, int]:
        """Merge every run to ``merged.*`` in the spill directory: (its stem, its number of types)."""
        if self.held:
            self._spill()
        stem, total, done = self.directory / "merged", sum(self.sizes), 0
        with contextlib.ExitStack() as files:
            outs = {name: files.enter_context(open(f"{stem}.{name}", "wb")) for name in FIELDS}
            written = 0
            for lo, hi in self._ranges():
                parts = self._slices(lo, hi)
                done += sum(int(p[0].size) for p in parts)
                merged = combine(parts)
                del parts
                for name, values in zip(FIELDS, merged, strict=True):
                    values.tofile(outs[name])
                written += int(merged[0].size)
                progress(stage, done, total, "n-grams")
                interrupts.check()
        for run in self.spilled:
            for name in FIELDS:
                Path(f"{run}.{name}").unlink(missing_ok=True)
        return stem, written

    def _keys(self, run: Path, size: int) -> np.ndarray:
        return np.memmap(f"{run}.key", dtype=np.int64, mode="r", shape=(size,)) if size else np.empty(0, np.int64)

    def _ranges(self) -> Iterator[tuple[int | None, int | None]]:
        """[lo, hi) key ranges of about ``entries`` types each (None: open-ended)."""
        total = sum(self.sizes)
        ranges = max(1, -(-total // max(self.entries, 1)))
        stride = max(1, total // (ranges * SAMPLES_PER_RANGE))
        sample = np.sort(
            np.concatenate(
                [np.array(self._keys(r, n)[::stride]) for r, n in zip(self.spilled, self.sizes, strict=True)]
            )
        )
        cuts = np.unique(sample[(np.arange(1, ranges) * sample.size) // ranges]) if sample.size else sample
        ends: list[int | None] = [None, *(int(c) for c in cuts), None]
        yield from pairwise(ends)

    def _slices(self, lo: int | None, hi: int | None) -> list[Run]:
        found: list[Run] = []
        for run, size in zip(self.spilled, self.sizes, strict=True):
            keys = self._keys(run, size)
            a = 0 if lo is None else int(np.searchsorted(keys, lo))
            b = size if hi is None else int(np.searchsorted(keys, hi))
            del keys
            if b > a:
                k, c, s = (read_block(Path(f"{run}.{name}"), a, b) for name in FIELDS)
                found.append((k, c, s))
        if not found:
            empty = np.empty(0, dtype=np.int64)
            return [(empty, empty.copy(), empty.copy())]
        return found
