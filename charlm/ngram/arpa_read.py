"""Reading an ARPA file strictly, onto a model's vocabulary (the words :func:`charlm.ngram.arpa.vocabulary_words` gives).

::

    \\data\\                     first non-blank line
    ngram 1=N1 ... ngram n=Nn   orders 1..n, in order; at most MAX_NGRAMS n-grams in all
    \\1-grams:                   then each section in order, exactly N_k lines of
    log10p  w1 .. wk  [log10bo] log10 p finite and <= 0, back-off finite, back-off only below order n
    \\end\\                      nothing but blank lines after it

Every refusal is one line naming ``file:line``. The reading is bounded: the header's counts cap the
lines read (a section longer than declared is refused as soon as it is), a line holds at most
``MAX_LINE`` bytes, and a file that is not a regular file (a device, a FIFO) is refused before it is
opened. The vocabulary is checked: a unigram that is not one of the model's tokens (an ARPA file over
another model's words) is refused, as is an n-gram whose prefix the file lacks. KenLM's ``<s>`` is
read as ``<eos>`` when it starts an n-gram (charlm conditions the first token on ``<eos>``); its
``-99`` unigram probability is ignored. Vocabulary tokens the file lacks get the file's ``<unk>``
probability.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from charlm.errors import CharlmError
from charlm.ngram.arpa import BOS_WORD, EOS_WORD, LN10, UNK_WORD
from charlm.ngram.model import NgramModel

MAX_NGRAMS = 100_000_000  # n-grams in all: the parsed entries are Python objects, so this bounds the memory
MAX_LINE = 1 << 16  # bytes in one line
MAX_ORDER = 20
_COUNT = re.compile(r"ngram\s+([0-9]+)\s*=\s*([0-9]+)")
_SECTION = re.compile(r"\\([0-9]+)-grams:")

Entries = dict[int, dict[tuple[int, ...], list[float]]]


class _Reader:
    """The non-blank lines of an ARPA file with their numbers; every error names ``file:line``."""

    def __init__(self, path: Path) -> None:
        self.path, self.number = path, 0
        self.fh = open(path, "rb")  # noqa: SIM115 (closed by read_arpa)

    def fail(self, message: str) -> CharlmError:
        return CharlmError(f"{self.path}:{self.number}: {message}")

    def lines(self) -> Iterator[str]:
        while True:
            raw = self.fh.readline(MAX_LINE + 1)
            if not raw:
                return
            self.number += 1
            if len(raw) > MAX_LINE:
                raise self.fail(f"a line of over {MAX_LINE:,} bytes; this is not an ARPA file")
            if b"\x00" in raw:
                raise self.fail("a NUL byte; this is not an ARPA file (binary data?)")
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise self.fail("not valid UTF-8; ARPA files charlm reads are UTF-8") from None
            if line:
                yield line


def _header(reader: _Reader, lines: Iterator[str]) -> tuple[list[int], str]:
    """The declared counts (order 1..n) and the first line after them."""
    first = next(lines, None)
    if first != "\\data\\":
        raise reader.fail(
            "expected \\data\\ (is this an ARPA file?)" if first is not None else "empty; not an ARPA file"
        )
    counts: list[int] = []
    for line in lines:
        match = _COUNT.fullmatch(line)
        if match is None:
            if not counts:
                raise reader.fail(f"expected 'ngram 1=N' after \\data\\, got {line[:40]!r}")
            return counts, line
        order, count = int(match.group(1)), int(match.group(2))
        if order != len(counts) + 1 or order > MAX_ORDER:
            raise reader.fail(f"'ngram {order}=' where 'ngram {len(counts) + 1}=' comes next")
        counts.append(count)
        if sum(counts) > MAX_NGRAMS:
            raise reader.fail(f"the header declares over {MAX_NGRAMS:,} n-grams, more than charlm reads")
    raise reader.fail("ends inside the \\data\\ header (truncated?)")


def _number(reader: _Reader, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise reader.fail(f"{what} {text[:20]!r} is not a number") from None
    if not math.isfinite(value):
        raise reader.fail(f"{what} {text} is not finite")
    return value


class _Parser:
    """Entries by order: gram (token ids) -> [ln p, ln back-off]."""

    def __init__(self, reader: _Reader, words: list[str]) -> None:
        self.reader = reader
        self.ids = {w: i for i, w in enumerate(words)}
        self.eos = self.ids[EOS_WORD]
        self.entries: Entries = {}

    def entry(self, k: int, order: int, line: str) -> None:
        fields = line.split()
        if len(fields) not in (k + 1, k + 2) or (len(fields) == k + 2 and k == order):
            allowed = f"{k + 1}" if k == order else f"{k + 1} or {k + 2}"
            raise self.reader.fail(f"a {k}-gram line has {len(fields)} fields, not {allowed}")
        prob = _number(self.reader, fields[0], "log10 probability")
        if prob > 0:
            raise self.reader.fail(f"log10 probability {fields[0]} is above 0")
        back = _number(self.reader, fields[k + 1], "log10 back-off") if len(fields) == k + 2 else 0.0
        names = fields[1 : k + 1]
        if k == 1 and names[0] not in self.ids and names[0] != BOS_WORD:
            raise self.reader.fail(
                f"{names[0]!r} is not a token of this model; is this ARPA file over another model's vocabulary?"
            )
        if any(n == BOS_WORD for n in names[1:]) or (names[0] == BOS_WORD and k == 1):
            if k == 1:  # <s> as a context only: its back-off is <eos>'s
                self.entries.setdefault(1, {}).setdefault((self.eos,), [math.nan, 0.0])[1] = back * LN10
            return
        gram = tuple(self.eos if n == BOS_WORD else self.ids.get(n, -1) for n in names)
        if -1 in gram:
            unknown = next(n for n in names if n not in self.ids and n != BOS_WORD)
            raise self.reader.fail(f"{unknown!r} is not among the file's unigrams")
        if k > 1 and gram[:-1] not in self.entries.get(k - 1, {}):
            raise self.reader.fail(f"the {k}-gram {' '.join(names)!r} has no {k - 1}-gram prefix in the file")
        slot = self.entries.setdefault(k, {}).setdefault(gram, [math.nan, 0.0])
        slot[0] = prob * LN10
        if len(fields) == k + 2:
            slot[1] = back * LN10

    def sections(self, counts: list[int], line: str | None, lines: Iterator[str]) -> None:
        order = len(counts)
        for k in range(1, order + 1):
            if line != f"\\{k}-grams:":
                raise self.reader.fail(f"expected \\{k}-grams:, got {str(line)[:40]!r}")
            seen = 0
            line = None
            for line in lines:
                if line.startswith("\\"):
                    break
                seen += 1
                if seen > counts[k - 1]:
                    raise self.reader.fail(f"more {k}-grams than the {counts[k - 1]:,} the \\data\\ header declares")
                self.entry(k, order, line)
            else:
                line = None
            if seen != counts[k - 1]:
                if line is None:
                    raise self.reader.fail(f"ends after {seen:,} of {counts[k - 1]:,} {k}-grams (truncated?)")
                raise self.reader.fail(f"{seen:,} {k}-grams where the \\data\\ header declares {counts[k - 1]:,}")
        if line != "\\end\\":
            if line is None:
                raise self.reader.fail("ends without \\end\\ (truncated?)")
            raise self.reader.fail(f"expected \\end\\, got {line[:40]!r}")
        for extra in lines:
            raise self.reader.fail(f"text after \\end\\: {extra[:40]!r}")


def read_arpa(path: str | Path, words: list[str]) -> NgramModel:
    """An ARPA file as an :class:`NgramModel` over the vocabulary whose ARPA words are ``words``."""
    path = Path(path)
    if not path.exists():
        raise CharlmError(f"no ARPA file at {path}")
    if not path.is_file():
        raise CharlmError(f"{path} is not a regular file (a directory, device or FIFO); give an ARPA file")
    reader = _Reader(path)
    try:
        lines = reader.lines()
        counts, line = _header(reader, lines)
        parser = _Parser(reader, words)
        parser.sections(counts, line, lines)
    except OSError as exc:
        raise CharlmError(f"cannot read {path} ({exc.strerror or exc})") from None
    finally:
        reader.fh.close()
    return _tables(parser.entries, len(words), parser.ids.get(UNK_WORD, 0), path)


def _tables(entries: Entries, vocab: int, unk: int, path: Path) -> NgramModel:
    """The trie arrays of parsed entries (every prefix is an n-gram of the file: the parser checked)."""
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
        grams = sorted(entries.get(k, {}), key=lambda g: index[g[:-1]] * vocab + g[-1])
        keys.append(np.array([index[g[:-1]] * vocab + g[-1] for g in grams], dtype=np.int64))
        probs.append(np.array([entries[k][g][0] for g in grams]))
        backs.append(np.array([entries[k][g][1] for g in grams]))
        index = {g: n for n, g in enumerate(grams)}
    return NgramModel(vocab, keys, [p.astype(np.float32) for p in probs], [b.astype(np.float32) for b in backs[:-1]])
