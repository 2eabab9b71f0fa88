"""Counting the n-grams of a token-id stream into a trie of sorted integer keys, with Kneser-Ney's
adjusted counts.

Every n-gram type gets an integer id at its order. A unigram's id is its token id (the unigram
table is dense over the vocabulary); a k-gram ``(g, w)`` has the key ``id(g) * V + w``, where
``id(g)`` is its (k-1)-prefix's id, and its id is its place among the sorted keys of order k::

    stream  [eos] a b a b c            (the stream starts from <eos>, like every charlm text)
    order 2 keys: id(eos)*V+a, id(a)*V+b, id(b)*V+a, id(b)*V+c   -> ids 0..3 in sorted order
    order 3 keys: id2(eos a)*V+b, id2(a b)*V+a, ...

The ids are found with one ``np.unique`` per order over the stream's positions, so counting costs
a few sorts of the stream and memory O(stream) while it runs; what is kept is O(distinct n-grams).

Adjusted counts (Chen & Goodman; KenLM's ``lmplz``): the top order keeps raw counts; a lower-order
n-gram counts the distinct tokens seen before it. The stream's first k-gram has nothing before it
and counts one extra, as if the stream were preceded by a boundary of its own (KenLM gives n-grams
that start with ``<s>`` their raw counts for the same reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlm.errors import CharlmError


@dataclass(frozen=True)
class Counts:
    """The n-gram types of a stream, per order (index k-1 holds order k)."""

    vocab_size: int
    keys: list[np.ndarray]  # (n_k,) int64 sorted; order 1: arange(V)
    counts: list[np.ndarray]  # (n_k,) int64 adjusted counts (raw at the top order)
    suffix: list[np.ndarray]  # (n_k,) int64 id of each type's (k-1)-suffix at order k-1; order 1: empty
    pruned: tuple[int, ...] = ()  # per order, the count at or below which types were dropped (0: none)

    @property
    def order(self) -> int:
        return len(self.keys)


def count_ngrams(ids: np.ndarray, order: int, vocab_size: int, start: int) -> Counts:
    """The types of orders 1..``order`` in ``[start] + ids`` with their adjusted counts."""
    if order < 1:
        raise CharlmError(f"--order must be at least 1 (got {order})")
    stream = np.concatenate([[start], np.asarray(ids, dtype=np.int64)])  # (L,)
    if stream.size < 2:
        raise CharlmError("no tokens to count: the training text is empty")
    if int(stream.max()) >= vocab_size or int(stream.min()) < 0:
        raise CharlmError(f"token ids must lie in 0..{vocab_size - 1}; is this the model's own corpus cache?")
    order = min(order, stream.size)
    keys = [np.arange(vocab_size, dtype=np.int64)]
    raw = [np.bincount(stream, minlength=vocab_size).astype(np.int64)]
    suffix = [np.empty(0, dtype=np.int64)]
    firsts = [int(stream[0])]  # id of the stream's first k-gram at each order
    pid = stream  # ids of the (k-1)-grams starting at each position
    for k in range(2, order + 1):
        positions = stream.size - k + 1
        key = pid[:positions] * vocab_size + stream[k - 1 :]  # (positions,)
        uniq, inverse, cnt = np.unique(key, return_inverse=True, return_counts=True)
        suf = np.empty(uniq.size, dtype=np.int64)
        suf[inverse] = pid[1 : positions + 1]  # the k-gram at i ends with the (k-1)-gram at i+1
        keys.append(uniq)
        raw.append(cnt.astype(np.int64))
        suffix.append(suf)
        firsts.append(int(inverse[0]))
        pid = inverse.astype(np.int64)
    counts = [np.empty(0, dtype=np.int64)] * (order - 1) + [raw[-1]]
    for k in range(order - 1, 0, -1):  # continuation counts: distinct left neighbours
        adjusted = np.bincount(suffix[k], minlength=keys[k - 1].size).astype(np.int64)
        adjusted[firsts[k - 1]] += 1
        counts[k - 1] = adjusted
    return Counts(vocab_size, keys, counts, suffix)
