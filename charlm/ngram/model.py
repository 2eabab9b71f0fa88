"""A back-off n-gram model as arrays (the trie of :mod:`charlm.ngram.counts`), and its two queries.

* :meth:`NgramModel.logprobs`: log p of every token of a sequence given its history (cut where the
  caller says), and the matched context length (the longest history suffix that is a type), in
  ``order`` vectorised searches: the id of the j-gram ending at t is the id of
  ``(id of the (j-1)-gram ending at t-1) * V + token t`` at order j.
* :meth:`NgramModel.distribution`: p over the whole vocabulary after each of a few contexts (sampling).

ARPA semantics: ``p(w | c) = prob(c w)`` if ``(c w)`` is a type, else ``backoff(c) p(w | c')`` with
``backoff(c) = 1`` when ``c`` is not a type. Saved pickle-free as ``.npz`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from charlm.errors import CharlmError
from charlm.io import write_atomic


@dataclass
class NgramModel:
    """Per order k (index k-1): sorted keys, natural-log probabilities; back-off weights below the top."""

    vocab_size: int
    keys: list[np.ndarray]  # (n_k,) int64; order 1: arange(V)
    logprob: list[np.ndarray]  # (n_k,) float32 ln p(w | c) for each type (c, w)
    logbo: list[np.ndarray]  # (n_k,) float32 ln backoff(g) for types g of orders 1..N-1
    discounts: list[list[float]] = field(default_factory=list)
    _continued: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def order(self) -> int:
        return len(self.keys)

    def continued(self, j: int) -> np.ndarray:
        """Whether each type of order ``j`` < N was ever followed by a token (a context with counts)."""
        if j not in self._continued:
            prefixes = self.keys[j] // self.vocab_size  # (n_{j+1},) sorted
            self._continued[j] = np.bincount(prefixes, minlength=self.keys[j - 1].size) > 0
        return self._continued[j]

    @property
    def types(self) -> int:
        return sum(int(k.size) for k in self.keys)

    def find(self, k: int, keys: np.ndarray) -> np.ndarray:
        """Ids at order ``k`` of ``keys`` (any shape), -1 where the key is not a type."""
        table = self.keys[k - 1]
        if k == 1:
            return np.where((keys >= 0) & (keys < self.vocab_size), keys, -1)
        at = np.minimum(np.searchsorted(table, keys), max(table.size - 1, 0))
        hit = table[at] == keys if table.size else np.zeros(keys.shape, dtype=bool)
        return np.where(hit, at, -1)

    def _ids(self, seq: np.ndarray) -> list[np.ndarray]:
        """ids[j-1][t]: id of the j-gram ending at position t (-1 if not a type or not that long)."""
        ids = [np.asarray(seq, dtype=np.int64)]
        for j in range(2, self.order + 1):
            prev, here = ids[-1], np.full(len(seq), -1, dtype=np.int64)
            ok = prev[:-1] >= 0
            here[1:][ok] = self.find(j, prev[:-1][ok] * self.vocab_size + ids[0][1:][ok])
            ids.append(here)
        return ids

    def logprobs(self, seq: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ln p (T,), matched context length (T,)) of each ``seq[t]`` given ``seq[first[t]:t]``.

        The matched length is that of the longest suffix of the history seen followed by some token
        in training (0: none, not even its last token).

        ``first[t] <= t`` is where the history of position t may start (a sentence's leading
        ``<eos>``); positions with ``first[t] == t`` are scored with no history (the unigram).
        """
        seq, first = np.asarray(seq, dtype=np.int64), np.asarray(first, dtype=np.int64)
        t = np.arange(len(seq))
        ids = self._ids(seq)
        grams = np.zeros(len(seq), dtype=np.int64)  # longest order k whose (history, token) is a type
        context = np.zeros(len(seq), dtype=np.int64)  # longest history suffix that is a type
        matched = np.zeros(len(seq), dtype=np.int64)  # longest history suffix seen followed by a token
        for k in range(1, self.order + 1):
            grams = np.where((ids[k - 1] >= 0) & (t - k + 1 >= first), k, grams)
        for j in range(1, self.order):
            prev = np.concatenate([[-1], ids[j - 1][:-1]])  # j-gram ending at t-1
            ok = (prev >= 0) & (t - j >= first)
            context = np.where(ok, j, context)
            seen = np.zeros(len(seq), dtype=bool)
            seen[ok] = self.continued(j)[prev[ok]]
            matched = np.where(seen, j, matched)
        out = np.zeros(len(seq), dtype=np.float64)
        for k in range(1, self.order + 1):
            at = grams == k
            out[at] = self.logprob[k - 1][ids[k - 1][at]]
        for j in range(1, self.order):
            prev = np.concatenate([[-1], ids[j - 1][:-1]])
            at = (j >= grams) & (j <= context)  # backed off from a context of length j that is a type
            out[at] += self.logbo[j - 1][prev[at]]
        return out, matched

    def _context_ids(self, context: np.ndarray) -> list[int]:
        """Ids of the context's suffixes of length 1, 2, ... while they are types."""
        found: list[int] = []
        for j in range(1, min(len(context), self.order - 1) + 1):
            gid = int(context[-j])
            for i in range(2, j + 1):
                gid = int(self.find(i, np.array([gid * self.vocab_size + int(context[-j + i - 1])]))[0])
                if gid < 0:
                    return found
            found.append(gid)
        return found

    def distribution(self, context: np.ndarray) -> tuple[np.ndarray, int]:
        """(p over the vocabulary (V,) float64, matched context length) after ``context``."""
        p = np.exp(self.logprob[0].astype(np.float64))  # (V,)
        ids = self._context_ids(np.asarray(context, dtype=np.int64))
        v, matched = self.vocab_size, 0
        for j, gid in enumerate(ids, 1):
            p *= np.exp(float(self.logbo[j - 1][gid]))
            keys = self.keys[j]
            lo, hi = np.searchsorted(keys, [gid * v, (gid + 1) * v])
            p[keys[lo:hi] % v] = np.exp(self.logprob[j][lo:hi].astype(np.float64))
            matched = j if hi > lo else matched
        return p, matched

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {"vocab_size": np.array(self.vocab_size)}
        for k in range(1, self.order + 1):
            if k > 1:
                arrays[f"keys{k}"] = self.keys[k - 1]
            arrays[f"logprob{k}"] = self.logprob[k - 1]
            if k < self.order:
                arrays[f"logbo{k}"] = self.logbo[k - 1]
        write_atomic(path, lambda fh: np.savez(fh, **arrays))  # straight to the temp file: no copy in memory

    @classmethod
    def load(cls, path: Path) -> NgramModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                v = int(data["vocab_size"])
                order = sum(1 for name in data.files if name.startswith("logprob"))
                keys = [np.arange(v, dtype=np.int64)] + [data[f"keys{k}"] for k in range(2, order + 1)]
                logprob = [data[f"logprob{k}"] for k in range(1, order + 1)]
                logbo = [data[f"logbo{k}"] for k in range(1, order)]
        except (OSError, KeyError, ValueError) as exc:
            raise CharlmError(f"cannot read the n-gram {path} ({exc}); rebuild it with: charlm ngram build") from None
        return cls(v, keys, logprob, logbo)
