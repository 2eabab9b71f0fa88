"""ARPA text (the format KenLM, SRILM and decoders read) from and into an :class:`NgramModel`.

Writing: ``\\data\\``, the counts, then ``\\k-grams:`` sections of ``log10 p <TAB> tokens [<TAB> log10 backoff]``.
Tokens are the tokenizer's strings made whitespace-free: ``<eos>`` is written ``</s>`` (also inside
contexts: charlm's streams run across lines), ``<unk>`` stays, and a space, tab, other whitespace
or a backslash inside a token is escaped (``\\s``, ``\\t``, ``\\uXXXX``, ``\\\\``); so a char model's
n-grams read ``t h e \\s c a t``. Every vocabulary token is listed as a unigram.

Reading maps the same strings back onto a tokenizer's vocabulary, so an ARPA built elsewhere over the
same vocabulary (e.g. KenLM's ``lmplz`` on the text charlm's tokenizer writes out) can be mixed in.
KenLM's ``<s>`` is read as ``<eos>`` when it starts an n-gram (charlm conditions the first token
on ``<eos>``); its ``-99`` unigram probability is ignored. Vocabulary tokens the file lacks get the
file's ``<unk>`` probability; n-grams over tokens the vocabulary lacks are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from charlm.errors import CharlmError
from charlm.io import write_atomic
from charlm.ngram.model import NgramModel
from charlm.tokenizers import Tokenizer

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


def write_arpa(ngram: NgramModel, path: Path, words: list[str]) -> None:
    """Write ``ngram`` as an ARPA file (log10 values, 7 significant digits)."""

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

    write_atomic(path, body)


def _sections(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(order, fields) of every n-gram line of an ARPA file."""
    order = 0
    try:
        with open(path, encoding="utf-8") as fh:
            for raw in fh:
                line = raw.strip()
                if not line or line.startswith("ngram ") or line == "\\data\\":
                    continue
                if line == "\\end\\":
                    return
                if line.startswith("\\") and line.endswith("-grams:"):
                    order = int(line[1:].split("-")[0])
                    continue
                if order:
                    yield order, line.split()
    except (UnicodeDecodeError, ValueError) as exc:
        raise CharlmError(f"{path} is not an ARPA file ({exc})") from None


def read_arpa(path: str | Path, words: list[str]) -> NgramModel:
    """An ARPA file as an :class:`NgramModel` over the vocabulary whose ARPA words are ``words``."""
    path = Path(path)
    if not path.is_file():
        raise CharlmError(f"no ARPA file at {path}")
    ids = {w: i for i, w in enumerate(words)}
    eos = ids[EOS_WORD]
    entries: dict[int, dict[tuple[int, ...], list[float]]] = {}
    for k, fields in _sections(path):
        if len(fields) < k + 1:
            raise CharlmError(f"{path}: a {k}-gram line has too few fields: {' '.join(fields)!r}")
        names = fields[1 : k + 1]
        if any(n == BOS_WORD for n in names[1:]) or (names[0] == BOS_WORD and k == 1):
            if k == 1 and len(fields) > 2:  # <s> as a context only: its back-off is <eos>'s
                entries.setdefault(1, {}).setdefault((eos,), [math.nan, 0.0])[1] = float(fields[2]) * LN10
            continue
        gram = tuple(eos if n == BOS_WORD else ids.get(n, -1) for n in names)
        if -1 in gram:
            continue
        slot = entries.setdefault(k, {}).setdefault(gram, [math.nan, 0.0])
        slot[0] = float(fields[0]) * LN10
        if len(fields) > k + 1:
            slot[1] = float(fields[k + 1]) * LN10
    return _tables(entries, len(words), ids.get(UNK_WORD, 0), path)


def _tables(entries: dict[int, dict[tuple[int, ...], list[float]]], vocab: int, unk: int, path: Path) -> NgramModel:
    """The trie arrays of parsed ARPA entries (prefixes must be n-grams of the file, as ARPA requires)."""
    uni = entries.get(1, {})
    if not uni:
        raise CharlmError(f"{path} has no unigrams over this vocabulary; is it an ARPA file of this model's tokens?")
    floor = uni.get((unk,), [-99.0 * LN10])[0]
    logprob = np.full(vocab, floor if math.isfinite(floor) else -99.0 * LN10)
    logbo = np.zeros(vocab)
    for (w,), (p, b) in uni.items():
        logprob[w] = p if math.isfinite(p) else logprob[w]
        logbo[w] = b
    keys, probs, backs = [np.arange(vocab, dtype=np.int64)], [logprob], [logbo]
    index: dict[tuple[int, ...], int] = {(w,): w for w in range(vocab)}
    for k in range(2, max(entries) + 1):
        rows = [(index[g[:-1]] * vocab + g[-1], pb) for g, pb in entries.get(k, {}).items() if g[:-1] in index]
        rows.sort(key=lambda r: r[0])
        grams = [g for g in entries.get(k, {}) if g[:-1] in index]
        grams.sort(key=lambda g: index[g[:-1]] * vocab + g[-1])
        index = {g: n for n, g in enumerate(grams)}
        keys.append(np.array([r[0] for r in rows], dtype=np.int64))
        probs.append(np.array([r[1][0] for r in rows]))
        backs.append(np.array([r[1][1] for r in rows]))
    return NgramModel(
        vocab,
        keys,
        [p.astype(np.float32) for p in probs],
        [b.astype(np.float32) for b in backs[:-1]],
    )


def export_model_arpa(directory: Path, tokenizer: Tokenizer, path: Path) -> dict[str, Any]:
    """Write a model directory's n-gram as ARPA over its tokenizer's words; its order and counts."""
    from charlm.ngram.store import load_ngram, read_meta

    if read_meta(directory) is None:
        raise CharlmError(f"{directory} has no n-gram; build one with: charlm ngram build --model {directory}")
    ngram = load_ngram(directory)
    words = vocabulary_words(tokenizer.token_str, ngram.vocab_size, tokenizer.unk_id, tokenizer.eos_id)
    write_arpa(ngram, path, words)
    return {"path": str(path), "order": ngram.order, "ngrams": [int(k.size) for k in ngram.keys]}
