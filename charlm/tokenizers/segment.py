"""Word segmentation for languages written without spaces (Chinese), as part of the word tokenizer.

``--segment`` at word level:

* ``auto`` (default): segment with ``zh`` when the text is mostly Chinese/Japanese: its CJK characters
  outnumber its words in spaced scripts (a Han character is about a syllable, a Latin run a word;
  the share is taken on the first :data:`SAMPLE_CHARS` characters). Otherwise split on whitespace,
  and refuse text with few spaces (:func:`few_spaces`) in one line instead of making clause "words".
* ``none``: split on whitespace only, as charlm always did (one warning line on text with few spaces).
* ``zh``: cut each line with jieba (:class:`JiebaSegmenter`).

How spaces survive (so mixed Chinese/Latin text round-trips): jieba keeps every character, spaces
included, as pieces. A single space between two "spaced" ends (letters or digits of scripts written
with spaces: Latin, Cyrillic, digits...) is left out and put back by :func:`join_words`, so English
inside Chinese costs no extra tokens; every other whitespace (between Chinese and Latin, double
spaces, tabs) stays a token of its own. Pieces that touch with spaced ends on both sides (jieba cuts
``café`` as ``caf`` + ``é``) are merged back into one word, so the decoder never adds a space that
was not there::

    "用 Python 写 RNN 模型" -> 用 | " " | Python | " " | 写 | " " | RNN | " " | 模型
    "the cat sat。"        -> the | cat | sat | 。        (decode: "the cat sat。")

The segmenter's name, version and dictionary hash are saved in tokenizer.json (so they are in the
tokenizer's fingerprint); loading refuses, in one line, a segmenter that would cut differently.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import warnings
from typing import Any

from charlm.errors import BadOption, CharlmError, CharlmWarning, need
from charlm.tokenizers.base import UNK

SEGMENTS = ("auto", "none", "zh")
SAMPLE_CHARS = 200_000  # auto decides on this much of the start of the text
MAX_CHARS_PER_WORD = 10.0  # more than this per whitespace word: "few spaces" (English ~5, the seed notes ~17)
_CJK = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK_RE = re.compile(f"[{_CJK}]")
_SPACED_RUN_RE = re.compile(r"[^\W_]+")


def is_unspaced(ch: str) -> bool:
    """Whether ``ch`` is a Han or kana character (scripts written without spaces between words)."""
    return _CJK_RE.match(ch) is not None


def _spaced(ch: str) -> bool:
    return ch.isalnum() and not is_unspaced(ch)


def _touch(left: str, right: str) -> bool:
    """Whether the end of ``left`` and the start of ``right`` are both spaced letters/digits."""
    return _spaced(left[-1]) and _spaced(right[0])


def glued(left: str, right: str) -> bool:
    """Whether the decoder puts a space between tokens ``left`` and ``right``.

    ``<unk>`` stands for an unknown word, so it counts as spaced: "foo <unk> bar" but "猫<unk>鱼".
    """
    return _touch("a" if left == UNK else left, "a" if right == UNK else right)


def cjk_share(text: str) -> float:
    """CJK characters / (CJK characters + runs of spaced letters and digits): 0 for English, ~1 for Chinese."""
    cjk = len(_CJK_RE.findall(text))
    runs = len(_SPACED_RUN_RE.findall(_CJK_RE.sub(" ", text)))
    return cjk / max(cjk + runs, 1)


def chars_per_word(text: str) -> float:
    """Mean length of the whitespace-separated words of ``text``."""
    words = text.split()
    return sum(map(len, words)) / max(len(words), 1)


def few_spaces(text: str) -> bool:
    """Whether whitespace splitting would make clause-long "words" of ``text``."""
    return chars_per_word(text) > MAX_CHARS_PER_WORD


def pieces_to_words(pieces: list[str]) -> list[str]:
    """Segmenter pieces (every character kept) -> words: implied single spaces dropped, touching spaced pieces merged."""
    words: list[str] = []
    dropped = False  # a space the decoder puts back sits right before this piece
    last = len(pieces) - 1
    for n, piece in enumerate(pieces):
        if piece == " " and words and n < last and _touch(words[-1], pieces[n + 1]):
            dropped = True
            continue
        if words and not dropped and _touch(words[-1], piece):
            words[-1] += piece
        else:
            words.append(piece)
        dropped = False
    return words


def join_words(words: list[str]) -> str:
    """The inverse of :func:`pieces_to_words`: concatenate, with a space between spaced ends."""
    out: list[str] = []
    for n, word in enumerate(words):
        if n and glued(words[n - 1], word):
            out.append(" ")
        out.append(word)
    return "".join(out)


@functools.cache
def _jieba_cutter(jieba: Any) -> tuple[Any, str, str]:
    """A private ``jieba.Tokenizer``, its version and dictionary hash: the dictionary loads once per process."""
    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict..." chatter on stderr
    cutter = jieba.Tokenizer()
    with cutter.get_dict_file() as fh:
        dictionary = hashlib.sha256(fh.read()).hexdigest()
    return cutter, str(jieba.__version__), dictionary


class JiebaSegmenter:
    """Chinese words cut by jieba (accurate mode, HMM for unseen words) with its bundled dictionary.

    A private ``jieba.Tokenizer`` (one per process, shared by all segmenters) is used, so words
    another library adds to jieba's global one do not change how a model's text is cut.
    """

    name = "jieba"
    lang = "zh"

    def __init__(self) -> None:
        need("jieba", "zh", "Chinese word segmentation")
        import jieba  # type: ignore[import-untyped]

        self._cutter, self.version, self.dictionary = _jieba_cutter(jieba)

    def split(self, line: str) -> list[str]:
        """The pieces of one line; ``"".join`` of them is the line."""
        return list(self._cutter.cut(line, HMM=True))

    def words(self, line: str) -> list[str]:
        """The words (tokens) of one line."""
        return pieces_to_words(self.split(line))

    def to_json(self) -> dict[str, Any]:
        return {"lang": self.lang, "name": self.name, "version": self.version, "dictionary_sha256": self.dictionary}


def load_segmenter(saved: dict[str, Any]) -> JiebaSegmenter:
    """The segmenter recorded in a tokenizer.json, refused in one line if the installed one cuts differently."""
    if not isinstance(saved, dict):
        raise TypeError("segment must be an object")  # load_tokenizer: "damaged"
    if saved.get("name") != JiebaSegmenter.name:
        raise CharlmError(f"this model segments words with {saved.get('name')!r}, which this charlm does not know")
    need("jieba", "zh", f"this model (its words cut by jieba {saved.get('version')})")
    segmenter = JiebaSegmenter()
    if (segmenter.version, segmenter.dictionary) != (saved.get("version"), saved.get("dictionary_sha256")):
        raise CharlmError(
            f"this model's words were cut by jieba {saved.get('version')} (dictionary "
            f"{str(saved.get('dictionary_sha256'))[:12]}), but jieba {segmenter.version} (dictionary "
            f"{segmenter.dictionary[:12]}) is installed and may cut them differently; "
            f"pip install jieba=={saved.get('version')} to use this model"
        )
    return segmenter


def check_segment(level: str, segment: str) -> None:
    """Refuse an unknown ``--segment``, or ``zh`` at a level other than word."""
    if segment not in SEGMENTS:
        raise BadOption(f"unknown --segment {segment!r}; use one of {', '.join(SEGMENTS)}")
    if segment == "zh" and level != "word":
        raise BadOption(f"--segment zh cuts words, so it needs --level word (not {level})")


def choose_segmenter(segment: str, sample: str) -> JiebaSegmenter | None:
    """The segmenter ``--segment`` asks for on text starting with ``sample``; None = split on whitespace.

    ``auto`` refuses (and ``none`` warns about) text with few spaces that is not mostly CJK.
    """
    check_segment("word", segment)
    sample = sample[:SAMPLE_CHARS]
    if segment == "zh" or (segment == "auto" and cjk_share(sample) >= 0.5):
        return JiebaSegmenter()
    if few_spaces(sample):
        message = (
            f"word level: this text has few spaces ({chars_per_word(sample):.0f} characters per "
            "space-separated word), so its words would be whole clauses; use --segment zh (Chinese), "
            "--level char or --level unigram"
        )
        if segment == "auto":
            raise CharlmError(message)
        warnings.warn(message, CharlmWarning, stacklevel=2)
    return None
