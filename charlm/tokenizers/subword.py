"""Subword tokenizer: a SentencePiece model (BPE or unigram) trained in memory from the corpus.

Byte fallback is on, so no text is ever out of vocabulary (Chinese, emoji, anything); normalisation
is the identity and no dummy prefix is added, so ``decode(encode(text)) == text`` exactly.
Newlines never reach SentencePiece: each line is encoded on its own and ``<eos>`` (id 1) joins them.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm

from charlm.errors import CharlmError
from charlm.io import write_bytes_atomic, write_json_atomic
from charlm.layout import TOKENIZER_MODEL
from charlm.tokenizers.base import EOS, EOS_ID, UNK_ID, SpecialIds, join_lines

MODEL_FILE = TOKENIZER_MODEL


def _training_error(detail: str, kind: str, vocab_size: int) -> str:
    """sentencepiece's complaint in charlm's terms (its advice names options charlm does not have)."""
    needed = re.search(r"smaller than required_chars\. *\d+ vs (\d+)", detail)
    if needed:
        return (
            f"a {kind} vocabulary of this corpus needs at least {needed.group(1)} pieces (one per distinct "
            f"character plus the special tokens); raise --vocab-size to {needed.group(1)} or more, or use --level char"
        )
    first = next((line.strip() for line in detail.splitlines() if line.strip()), "unknown error")
    return f"sentencepiece could not build a {vocab_size}-piece {kind} vocabulary from this corpus ({first[:120]})"


class SubwordTokenizer(SpecialIds):
    """SentencePiece with <unk> = 0 and <eos> = 1 (its </s>), no <s> and no padding id."""

    def __init__(self, model_proto: bytes, kind: str) -> None:
        self.kind = kind
        self.model_proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def fit(cls, text: str, kind: str = "bpe", vocab_size: int = 2000) -> SubwordTokenizer:
        """Train a ``kind`` (bpe or unigram) model of ``vocab_size`` pieces on the lines of ``text``."""
        return cls.fit_lines(text.split("\n"), kind, vocab_size)

    @classmethod
    def fit_lines(cls, lines: list[str], kind: str = "bpe", vocab_size: int = 2000) -> SubwordTokenizer:
        """Train on ``lines`` (for a big corpus: a sample of its lines, see :mod:`charlm.training.corpus_cache`)."""
        lines = [line for line in lines if line.strip()]
        buffer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines),
                model_writer=buffer,
                model_type=kind,
                vocab_size=vocab_size,
                byte_fallback=True,
                normalization_rule_name="identity",
                add_dummy_prefix=False,
                remove_extra_whitespaces=False,
                allow_whitespace_only_pieces=True,
                split_digits=True,
                unk_id=UNK_ID,
                eos_id=EOS_ID,
                bos_id=-1,
                pad_id=-1,
                hard_vocab_limit=False,
                input_sentence_size=2_000_000,
                shuffle_input_sentence=True,
                max_sentence_length=1 << 16,
                num_threads=2,
                minloglevel=2,
            )
        except RuntimeError as exc:
            raise CharlmError(_training_error(str(exc), kind, vocab_size)) from None
        return cls(buffer.getvalue(), kind)

    @property
    def vocab_size(self) -> int:
        return int(self.sp.get_piece_size())

    def encode(self, text: str) -> list[int]:
        return join_lines(self.sp.encode(text.split("\n")))

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def decode(self, ids: list[int]) -> str:
        lines: list[list[int]] = [[]]
        for i in ids:
            if i == EOS_ID:
                lines.append([])
            else:
                lines[-1].append(int(i))
        return "\n".join(self.sp.decode(chunk) for chunk in lines)

    def token_str(self, token_id: int) -> str:
        if token_id == EOS_ID:
            return EOS
        return str(self.sp.id_to_piece(int(token_id)))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "model_file": MODEL_FILE}

    def save(self, directory: str | Path) -> None:
        write_bytes_atomic(Path(directory) / MODEL_FILE, self.model_proto)
        write_json_atomic(Path(directory) / "tokenizer.json", self.to_json())

    @classmethod
    def from_json(cls, payload: dict[str, Any], directory: Path) -> SubwordTokenizer:
        return cls((directory / MODEL_FILE).read_bytes(), str(payload["kind"]))
