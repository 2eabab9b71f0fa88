"""The price of a word outside a word model's vocabulary: ``<unk>`` times the probability of its spelling.

A word model gives ``<unk>`` the probability of *every* word it does not know, so on its own it
prices a misspelling ("thicck") below the word it misspells, and two unknown words the same. With
``--unk spell`` an unknown word ``w`` after history ``h`` costs instead::

    p(w | h) = p(<unk> | h) * p_spell(w | w not in V)
    p_spell(w | w not in V) = p_spell(w) / (1 - sum_{v in V} p_spell(v))

where ``p_spell`` is an interpolated modified Kneser-Ney character n-gram (:mod:`charlm.ngram`)
over the spellings of the vocabulary's words, each counted once (new words look like the rare
types, not like the frequent tokens), with a word-boundary symbol on both sides. Characters it never
saw get the uniform share of the unigram. The result is a proper distribution over all strings: the
known words keep their probabilities and the unknown ones share ``p(<unk> | h)`` by spelling. It is
built from the vocabulary alone (a fraction of a second), so every word model has one, old ones too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from charlm.ngram.counts import count_ngrams
from charlm.ngram.kneser_ney import estimate
from charlm.ngram.model import NgramModel
from charlm.tokenizers.base import EOS_ID, UNK_ID, Tokenizer

SPELLING_ORDER = 6
BOUNDARY, OTHER = 0, 1  # the word boundary, and every character the spellings never used


@dataclass
class Spelling:
    """A character n-gram over word spellings, and the log of the mass it gives the known words."""

    index: dict[str, int]  # character -> id (2..)
    ngram: NgramModel
    known_logmass: float  # ln sum_{v in V} p_spell(v)

    def _stream(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """[B w1 B w2 B ...] ids, each position's first history position, and where each word starts."""
        ids, first, starts = [BOUNDARY], [0], []
        for word in words:
            begin = len(ids) - 1  # the boundary before the word
            starts.append(len(ids))
            ids += [self.index.get(c, OTHER) for c in word] + [BOUNDARY]
            first += [begin] * (len(word) + 1)
        return np.array(ids, dtype=np.int64), np.array(first, dtype=np.int64), np.array(starts, dtype=np.int64)

    def logprobs(self, words: Sequence[str]) -> np.ndarray:
        """ln p_spell(w) of each word (its characters and the closing boundary): (len(words),)."""
        if not words:
            return np.zeros(0)
        ids, first, starts = self._stream(words)
        logp, _ = self.ngram.logprobs(ids, first)  # (L,)
        return np.add.reduceat(logp, starts)[: len(words)] if len(words) > 1 else np.array([logp[1:].sum()])

    def unknown_logprobs(self, words: Sequence[str]) -> np.ndarray:
        """ln p_spell(w | w not in the vocabulary): what an unknown word adds to ``ln p(<unk> | h)``."""
        return self.logprobs(words) - math.log1p(-math.exp(self.known_logmass))


def fit_spelling(vocabulary: Sequence[str], order: int = SPELLING_ORDER) -> Spelling:
    """The spelling model of a vocabulary (its words, without the special tokens)."""
    words = sorted({w for w in vocabulary if w})
    chars = sorted({c for w in words for c in w})
    index = {c: i + 2 for i, c in enumerate(chars)}
    stream = [i for w in words for i in ([index[c] for c in w] + [BOUNDARY])]
    ngram = estimate(count_ngrams(np.array(stream, dtype=np.int64), order, len(chars) + 2, BOUNDARY))
    model = Spelling(index, ngram, 0.0)
    mass = float(np.exp(model.logprobs(words)).sum()) if words else 0.0
    model.known_logmass = math.log(min(max(mass, 1e-300), 1.0 - 1e-12))
    return model


def tokenizer_spelling(tokenizer: Tokenizer) -> Spelling:
    """The spelling model of a word tokenizer's vocabulary (``<unk>`` and ``<eos>`` left out)."""
    specials = {UNK_ID, EOS_ID}
    return fit_spelling([tokenizer.token_str(i) for i in range(tokenizer.vocab_size) if i not in specials])


def open_vocabulary(tokenizer: Tokenizer) -> Spelling | None:
    """The spelling model a word tokenizer's unknown words are priced by; None for char and subword ones."""
    return tokenizer_spelling(tokenizer) if tokenizer.kind == "word" else None
