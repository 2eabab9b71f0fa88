"""Kinds of option value, each with one rule that the command line, the library and the service share.

A :class:`Value` reads an option's value from text (:meth:`Value.parse`, the command line) and checks
a value given from Python or JSON (:meth:`Value.check`, the library and the service), with the same
words for the same mistake: ``parse("101")`` and ``check(101)`` both say "must be in [1, 100] (got
101)". Each kind also lists ``bad`` examples of text it refuses, which the contract tests and the
hostile-input suite feed to every surface, so a new option is covered as soon as it is declared.

Rules: numbers are finite and in range (integers also below a cap, so no allocator or overflow
crash); choices are one of a known list; free text holds no NUL and no undecodable characters.
"""

from __future__ import annotations

import abc
import math
import re
from collections.abc import Sequence
from typing import Any

from charlm.errors import BadOption

INT_CAP = 10**12  # above any sensible count; keeps huge literals from reaching torch or the allocator


class Value(abc.ABC):
    """One kind of option value: text parsed, values checked, examples of what it refuses."""

    __name__ = "VALUE"
    bad: tuple[str, ...] = ()

    @abc.abstractmethod
    def parse(self, text: str) -> Any:
        """The value ``text`` stands for; :class:`~charlm.errors.BadOption` (the problem alone) when none."""

    def problem_text(self, text: str) -> str | None:
        """What is wrong with the command-line text ``text``, or None."""
        try:
            self.parse(text)
        except BadOption as exc:
            return str(exc)
        return None

    def check(self, value: Any) -> Any:
        """``value`` given from Python or JSON, checked by the same rule (text goes through :meth:`parse`)."""
        if not isinstance(value, str):
            raise BadOption(f"must be text (got {shown(value)})")
        return self.parse(value)


def _num(x: float) -> str:
    return f"{int(x):,}".replace(",", "_") if float(x).is_integer() and abs(x) >= 10_000 else f"{x:g}"


def shown(value: Any) -> str:
    """A value as an error shows it (numbers as typed, within reason)."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _range_text(low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    if high == math.inf or high >= INT_CAP:
        return f"{'above' if low_open else 'at least'} {_num(low)}"
    return f"in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"


class Int(Value):
    """An integer in ``[low, high]``; digits only (no ``1.5``, no ``²``, no ``True``)."""

    __name__ = "INTEGER"

    def __init__(self, low: int, high: int = INT_CAP) -> None:
        self.low, self.high = low, high
        self.bad = ("1.5", str(low - 1), "99999999999999999999999")
        if high < INT_CAP:
            self.bad += (str(high + 1),)

    def parse(self, text: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
            if re.fullmatch(r"[+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?", text.strip()):
                raise BadOption(f"must be a whole number (got {shown(float(text))})")
            raise BadOption(f"{text!r} is not a whole number")
        return self.check(int(text))

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadOption(f"must be a whole number (got {shown(value)})")
        if not self.low <= value <= self.high:
            raise BadOption(f"must be {_range_text(self.low, self.high)} (got {shown(value)})")
        return value


class Float(Value):
    """A finite number in a range (``low_open``/``high_open``: the bound itself is refused)."""

    __name__ = "FLOAT"

    def __init__(self, low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open
        self.bad = ("nan", "-inf")
        self.bad += (repr(float(low)),) if low_open else (repr(float(low - 1)),)
        if high < math.inf:
            self.bad += (repr(float(high)),) if high_open else (repr(float(high + 1)),)

    def parse(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise BadOption(f"{text!r} is not a number") from None
        return self.check(value)

    def check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadOption(f"must be a number (got {shown(value)})")
        if not math.isfinite(value):
            raise BadOption(f"must be a finite number (got {shown(value)})")
        low_ok = value > self.low if self.low_open else value >= self.low
        high_ok = value < self.high if self.high_open else value <= self.high
        if not (low_ok and high_ok):
            where = _range_text(self.low, self.high, self.low_open, self.high_open)
            raise BadOption(f"must be {where} (got {shown(value)})")
        return float(value)


class Temperature(Float):
    """Softmax temperature: 0 (greedy) or in [0.01, 100] (below that the softmax underflows)."""

    def __init__(self) -> None:
        super().__init__(0.0, 100.0)
        self.bad += ("1e-40", "1e308", "1e-300")  # issue 22 B10: both refused before a /sample stream starts

    def check(self, value: Any) -> float:
        checked = super().check(value)
        if 0 < checked < 0.01:
            raise BadOption(f"must be 0 (greedy) or at least 0.01 (got {shown(value)})")
        return checked


class Flag(Value):
    """On or off (a command-line flag; JSON true/false)."""

    __name__ = "BOOLEAN"

    def parse(self, text: str) -> bool:
        words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        if text.strip().lower() not in words:
            raise BadOption(f"{text!r} is not true or false")
        return words[text.strip().lower()]

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise BadOption(f"must be true or false (got {shown(value)})")
        return value


class Choice(Value):
    """One of a fixed list of words."""

    __name__ = "CHOICE"

    def __init__(self, choices: Sequence[str]) -> None:
        self.choices = tuple(choices)
        self.bad = ("bogus",)

    def parse(self, text: str) -> str:
        if text not in self.choices:
            raise BadOption(f"{text!r} is not one of {', '.join(self.choices)}")
        return text


class Device(Choice):
    """auto, cpu, cuda or cuda:N."""

    def __init__(self, choices: Sequence[str] = ("auto", "cpu", "cuda")) -> None:
        super().__init__(choices)
        self.bad = ("cuda:x", "bogus")

    def parse(self, text: str) -> str:
        if re.fullmatch(r"cuda:[0-9]{1,3}", text) and "cuda" in self.choices:
            return text
        return super().parse(text)


def check_text_arg(text: str) -> str:
    """Refuse text with undecodable characters (lone surrogates from a non-UTF-8 terminal) or NUL."""
    if "\x00" in text:
        raise BadOption("the text holds a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadOption(
            f"the text is not valid UTF-8 (a lone surrogate at position {exc.start}); check the terminal encoding"
        ) from None
    return text


class Text(Value):
    """Free text: anything decodable, no NUL (``nonempty``: and not blank; ``blank``: blank allowed, not "")."""

    __name__ = "TEXT"

    def __init__(self, nonempty: bool = False, blank: bool = False) -> None:
        self.nonempty, self.blank = nonempty, blank  # blank: a stop string may be "\n\n" or " "
        self.bad = ("ab\udcffc", "", *(() if blank else ("  ",))) if nonempty else ("ab\udcffc",)

    def parse(self, text: str) -> str:
        if self.nonempty and not (text if self.blank else text.strip()):
            raise BadOption("is empty; give some text")
        return check_text_arg(text)


class Texts(Value):
    """A list of free texts (JSON arrays; on the command line, the option repeated)."""

    __name__ = "TEXT..."

    def __init__(self, item: Text) -> None:
        self.item = item
        self.bad = item.bad

    def parse(self, text: str) -> str:
        return self.item.parse(text)  # one occurrence of a repeated option

    def check(self, value: Any) -> list[str]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise BadOption(f"must be a list of texts (got {shown(value)})")
        return [self.item.check(v) for v in value]


class NgramWeight(Value):
    """``--ngram-weight``: auto, or a number in [0, 1]."""

    __name__ = "auto|WEIGHT"
    bad = ("bogus", "nan", "-0.5", "1.5")

    def parse(self, text: str) -> str | float:
        if text.strip() == "auto":
            return "auto"
        return Float(0.0, 1.0).parse(text)

    def check(self, value: Any) -> str | float:
        if isinstance(value, str):
            return self.parse(value)
        return Float(0.0, 1.0).check(value)


class Words(Value):
    """Comma-separated words on the command line (``French,German``); a list of words from Python or JSON.

    ``parse`` keeps the text (:func:`split_words` reads it); no word may be empty.
    """

    __name__ = "WORD[,WORD...]"
    bad = (",", "a,,b", " ")

    def parse(self, text: str) -> str:
        split_words(text)
        return text

    def check(self, value: Any) -> list[str]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise BadOption(f"must be a list of words, not one text (got {shown(value)})")
        words = [Text(nonempty=True).check(v) for v in value]
        return [w.strip() for w in words]


def split_words(text: str) -> list[str]:
    """The words of ``--candidates a,b,c``: each stripped, none empty."""
    check_text_arg(text)
    words = [w.strip() for w in text.split(",")]
    if not any(words) or not all(words):
        raise BadOption(f"{text!r} has an empty word; give comma-separated words such as French,German")
    return words
