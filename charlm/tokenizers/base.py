"""The tokenizer protocol shared by char, word and subword tokenizers.

Conventions every tokenizer follows (so models, scoring and sampling need no special cases):

* id 0 is ``<unk>`` and id 1 is ``<eos>``, the end of a line or sentence;
* ``encode(text)`` maps each newline in ``text`` to ``<eos>`` and nothing else to it, so a corpus
  file encodes line by line and a sentence is scored as ``encode(sentence) + [eos_id]``;
* ``decode(ids)`` maps ``<eos>`` back to a newline, so ``decode(encode(t)) == t`` wherever ``t``
  has no out-of-vocabulary pieces (word level also normalises runs of spaces).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

UNK = "<unk>"
EOS = "<eos>"
UNK_ID = 0
EOS_ID = 1


@runtime_checkable
class Tokenizer(Protocol):
    """What every tokenizer offers."""

    kind: str

    @property
    def vocab_size(self) -> int: ...

    @property
    def unk_id(self) -> int: ...

    @property
    def eos_id(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def encode_array(self, text: str) -> np.ndarray: ...

    def decode(self, ids: list[int]) -> str: ...

    def token_str(self, token_id: int) -> str: ...

    def save(self, directory: str | Path) -> None: ...


class SpecialIds:
    """The ids every tokenizer shares: ``<unk>`` = 0 and ``<eos>`` = 1."""

    @property
    def unk_id(self) -> int:
        return UNK_ID

    @property
    def eos_id(self) -> int:
        return EOS_ID


def join_lines(per_line: list[list[int]]) -> list[int]:
    """Concatenate the ids of consecutive lines with ``<eos>`` between them (where the newlines were)."""
    ids: list[int] = []
    for n, line_ids in enumerate(per_line):
        if n:
            ids.append(EOS_ID)
        ids.extend(line_ids)
    return ids
