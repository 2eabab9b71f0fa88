"""ARPA text (the format KenLM, SRILM and decoders read) from and into an :class:`NgramModel`.

Writing: ``\\data\\``, the counts, then ``\\k-grams:`` sections of ``log10 p <TAB> tokens [<TAB> log10 backoff]``.
Tokens are the tokenizer's strings made whitespace-free: ``<eos>`` is written ``</s>`` (also inside
contexts: charlm's streams run across lines), ``<unk>`` stays, and a space, tab, other whitespace
or a backslash inside a token is escaped (``\\s``, ``\\t``, ``\\uXXXX``, ``\\\\``); so a char model's
n-grams read ``t h e \\s c a t``. Every vocabulary token is listed as a unigram.

Reading (:mod:`charlm.ngram.arpa_read`, strict) maps the same strings back onto a tokenizer's
vocabulary, so an ARPA built elsewhere over the same vocabulary (e.g. KenLM's ``lmplz`` on the text
charlm's tokenizer writes out) can be mixed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from charlm.errors import CharlmError
from charlm.io import write_atomic
from charlm.ngram.model import NgramModel
from charlm.tokenizers import Tokenizer
from charlm.writer import Kind, claim_file

LN10 = math.log(10.0)
EOS_WORD, BOS_WORD, UNK_WORD = "</s>", "<s>", "<unk>"
SPECIAL = {"\\": "\\\\", " ": "\\s", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape(token: str) -> str:
    """A token as one whitespace-free ARPA word."""
    out = "".join(SPECIAL.get(ch, f"\\u{ord(ch):04x}" if ch.isspace() else ch) for ch in token)
    return "\\" + out if out in (EOS_WORD, BOS_WORD) else out


def vocabulary_words(token_str: Callable[[int], str], vocab_size: int, unk: int, eos: int) -> list[str]:
    """The ARPA word of every token id."""
    words = [escape(token_str(i)) for i in range(vocab_size)]
    words[unk], words[eos] = UNK_WORD, EOS_WORD
    return words


def _grams(ngram: NgramModel, k: int) -> np.ndarray:
    """(n_k, k) token ids of the types of order k, in table order."""
    keys = ngram.keys[k - 1]
    if k == 1:
        return keys[:, None]
    prefix = _grams(ngram, k - 1)[keys // ngram.vocab_size]
    return np.concatenate([prefix, (keys % ngram.vocab_size)[:, None]], axis=1)


def arpa_body(ngram: NgramModel, words: list[str]) -> Callable[[IO[bytes]], None]:
    """What :func:`write_arpa` writes, as a function of the open (temp) file."""

    def body(fh: IO[bytes]) -> None:
        fh.write(b"\\data\\\n")
        for k in range(1, ngram.order + 1):
            fh.write(f"ngram {k}={ngram.keys[k - 1].size}\n".encode())
        for k in range(1, ngram.order + 1):
            fh.write(f"\n\\{k}-grams:\n".encode())
            grams = _grams(ngram, k)
            probs = ngram.logprob[k - 1].astype(np.float64) / LN10
            backs = ngram.logbo[k - 1].astype(np.float64) / LN10 if k < ngram.order else None
            lines = []
            for n, row in enumerate(grams.tolist()):
                text = f"{max(probs[n], -99.0):.7g}\t{' '.join(words[i] for i in row)}"
                if backs is not None and backs[n] != 0.0:
                    text += f"\t{backs[n]:.7g}"
                lines.append(text)
            fh.write(("\n".join(lines) + "\n").encode("utf-8"))
        fh.write(b"\n\\end\\\n")

    return body


def write_arpa(ngram: NgramModel, path: Path, words: list[str]) -> None:
    """Write ``ngram`` as an ARPA file (log10 values, 7 significant digits), atomically."""
    write_atomic(path, arpa_body(ngram, words))


ARPA = Kind("an ARPA file", "--arpa", magic=(b"\\data\\",))


def export_model_arpa(directory: Path, tokenizer: Tokenizer, path: Path) -> dict[str, Any]:
    """Write a model directory's n-gram as ARPA over its tokenizer's words; its order and counts.

    ``path`` is claimed first (:mod:`charlm.writer`): inside a model directory, the model's own files,
    and an existing file that is not an ARPA file are refused before anything is read or written.
    """
    from charlm.ngram.store import load_ngram, read_meta

    with claim_file(path, ARPA, sources=[directory]) as target:
        if read_meta(directory) is None:
            raise CharlmError(f"{directory} has no n-gram; build one with: charlm ngram build --model {directory}")
        ngram = load_ngram(directory)
        words = vocabulary_words(tokenizer.token_str, ngram.vocab_size, tokenizer.unk_id, tokenizer.eos_id)
        target.write(arpa_body(ngram, words))
    return {"path": str(path), "order": ngram.order, "ngrams": [int(k.size) for k in ngram.keys]}
