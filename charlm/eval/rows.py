"""One row of a streamed corpus evaluation: its tokens, refilled chunk by chunk, and what unknown words' spellings add."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from charlm.tokenizers import Tokenizer

if TYPE_CHECKING:
    from charlm.ngram.spelling import Spelling


class RowTokens:
    """The token stream of one row, refilled chunk by chunk; remembers the last token fed.

    With ``spelling`` (a word model's ``--unk spell``) each token also carries what its spelling adds
    (ln p_spell of an unknown word at its ``<unk>``, 0 elsewhere): :attr:`extra` of the last :meth:`take`.
    """

    def __init__(self, chunks: Iterator[str], tokenizer: Tokenizer, spelling: Spelling | None = None) -> None:
        self.chunks, self.tokenizer, self.spelling = chunks, tokenizer, spelling
        self.buffer = np.empty(0, dtype=np.int64)
        self.extras = np.empty(0, dtype=np.float64)
        self.extra = self.extras
        self.prev = tokenizer.eos_id
        self.chars = 0

    def take(self, n: int) -> np.ndarray:
        while self.buffer.size < n:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.chars += len(chunk)
            ids = self.tokenizer.encode_array(chunk)
            self.buffer = np.concatenate([self.buffer, ids])
            self.extras = np.concatenate([self.extras, self._spelled(chunk, ids.size)])
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        self.extra, self.extras = self.extras[:n], self.extras[n:]
        return out

    def _spelled(self, chunk: str, size: int) -> np.ndarray:
        extra = np.zeros(size, dtype=np.float64)  # (size,)
        if self.spelling is not None:
            from charlm.tokenizers.unk import unknown_words_at

            found = unknown_words_at(self.tokenizer, chunk)
            if found:
                places = np.array([place for place, _ in found], dtype=np.int64)
                extra[places] = self.spelling.unknown_logprobs([word for _, word in found])
        return extra
