"""Validating value types for command-line options: every option value is checked where it is declared.

Each :class:`Value` is a Typer ``parser``: it turns the typed string into a value or raises
``typer.BadParameter`` with one line saying what is wrong, before the command body runs (so before
any file is written or any model loaded). Each type also lists ``bad`` examples of what it refuses,
which the hostile-input suite (tests/test_hostile_cli.py) feeds to every option of every command,
so a new option is covered as soon as it is declared with one of these types.

Rules: numbers are finite and in range (integers also below a cap, so no allocator or overflow
crash); choices are one of a known list; free text holds no undecodable bytes; input files exist,
are readable files (a pipe is read once, into a temporary file); output files are PNGs in an
existing directory; model directories exist.
"""

from __future__ import annotations

import abc
import math
import re
import sys
from collections.abc import Sequence
from typing import Any

import typer

from charlm.errors import CharlmError

INT_CAP = 10**12  # above any sensible count; keeps huge literals from reaching torch or the allocator


class Value(abc.ABC):
    """A parser for one kind of option value, with examples of values it must refuse."""

    __name__ = "VALUE"
    bad: tuple[str, ...] = ()

    def __call__(self, text: str) -> Any:
        if not isinstance(text, str):
            return text  # a declared default, not typed by the user
        try:
            return self.parse(text)
        except CharlmError as exc:
            raise typer.BadParameter(str(exc)) from None

    @abc.abstractmethod
    def parse(self, text: str) -> Any:
        """The value ``text`` stands for; :class:`~charlm.errors.CharlmError` when it stands for none."""


def _num(x: float) -> str:
    return f"{int(x):,}".replace(",", "_") if float(x).is_integer() and abs(x) >= 10_000 else f"{x:g}"


def _range_text(low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    if high == math.inf or high >= INT_CAP:
        return f"{'above' if low_open else 'at least'} {_num(low)}"
    return f"in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"


class Int(Value):
    """An integer in ``[low, high]``; digits only (no ``1.5``, no ``²``)."""

    __name__ = "INTEGER"

    def __init__(self, low: int, high: int = INT_CAP) -> None:
        self.low, self.high = low, high
        self.bad = ("1.5", str(low - 1), "99999999999999999999999")
        if high < INT_CAP:
            self.bad += (str(high + 1),)

    def parse(self, text: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
            raise CharlmError(f"{text!r} is not a whole number")
        value = int(text)
        if not self.low <= value <= self.high:
            raise CharlmError(f"must be {_range_text(self.low, self.high)} (got {text})")
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
            raise CharlmError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise CharlmError(f"must be a finite number (got {text})")
        low_ok = value > self.low if self.low_open else value >= self.low
        high_ok = value < self.high if self.high_open else value <= self.high
        if not (low_ok and high_ok):
            raise CharlmError(f"must be {_range_text(self.low, self.high, self.low_open, self.high_open)} (got {text})")
        return value


class Temperature(Float):
    """Softmax temperature: 0 (greedy) or in [0.01, 100] (below that the softmax underflows)."""

    def __init__(self) -> None:
        super().__init__(0.0, 100.0)
        self.bad += ("1e-40",)

    def parse(self, text: str) -> float:
        value = super().parse(text)
        if 0 < value < 0.01:
            raise CharlmError(f"must be 0 (greedy) or at least 0.01 (got {text})")
        return value


class Choice(Value):
    """One of a fixed list of words."""

    __name__ = "CHOICE"

    def __init__(self, choices: Sequence[str]) -> None:
        self.choices = tuple(choices)
        self.bad = ("bogus",)

    def parse(self, text: str) -> str:
        if text not in self.choices:
            raise CharlmError(f"{text!r} is not one of {', '.join(self.choices)}")
        return text


class Device(Choice):
    """auto, cpu, cuda or cuda:N."""

    def __init__(self) -> None:
        super().__init__(("auto", "cpu", "cuda"))
        self.bad = ("cuda:x",)

    def parse(self, text: str) -> str:
        if re.fullmatch(r"cuda:[0-9]{1,3}", text):
            return text
        return super().parse(text)


def check_text_arg(text: str) -> str:
    """Refuse text with undecodable bytes (lone surrogates from a non-UTF-8 terminal) or NUL."""
    if "\x00" in text:
        raise CharlmError("the text holds a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CharlmError(
            f"the text is not valid UTF-8 (bad byte at character {exc.start}); check the terminal encoding"
        ) from None
    return text


class Text(Value):
    """Free text: anything decodable (``nonempty``: and not blank)."""

    __name__ = "TEXT"

    def __init__(self, nonempty: bool = False) -> None:
        self.nonempty = nonempty
        self.bad = ("ab\udcffc", "", "  ") if nonempty else ("ab\udcffc",)

    def parse(self, text: str) -> str:
        if self.nonempty and not text.strip():
            raise CharlmError("is empty; give some text")
        return check_text_arg(text)


class Duration(Value):
    """A duration such as 90s, 10m, 1h30m (kept as text; the library parses it)."""

    __name__ = "DURATION"
    bad = ("5q", "99999999999999999999999")

    def parse(self, text: str) -> str:
        from charlm.training.config import parse_duration

        parse_duration(text)
        return text


class SaveEvery(Value):
    """``--save-every``: 200, 10m or 200,10m (kept as text; the library parses it)."""

    __name__ = "STEPS[,TIME]"
    bad = ("²", "99999999999999999999999")

    def parse(self, text: str) -> str:
        from charlm.training.config import parse_save_every

        parse_save_every(text)
        return text


class Cutoffs(Value):
    """``--cutoffs``: increasing word counts, e.g. 2000,10000 (kept as text; the library parses it)."""

    __name__ = "N[,N...]"
    bad = ("bogus", "10000,2000", "1", "2000,,", "-5", "99999999999999999999999")

    def parse(self, text: str) -> str:
        from charlm.models.softmax import parse_cutoffs

        parse_cutoffs(text)
        return text


class Encoding(Value):
    """A known *text* codec (hex, rot13, base64 ... are refused)."""

    __name__ = "ENCODING"
    bad = ("bogus", "hex")

    def parse(self, text: str) -> str:
        from charlm.io import check_codec

        if not text:
            raise CharlmError("is empty; give an encoding such as utf-8")
        check_codec(text, "strict")
        return text


def stdin_is_piped() -> bool:
    """Whether stdin is a pipe or file (not a terminal) that sentences can be read from."""
    try:
        return not sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


class NgramWeight(Value):
    """``--ngram-weight``: auto, or a number in [0, 1] (kept as text; the library reads it)."""

    __name__ = "auto|WEIGHT"
    bad = ("bogus", "nan", "-0.5", "1.5")

    def parse(self, text: str) -> str:
        if text.strip() != "auto":
            Float(0.0, 1.0).parse(text)
        return text.strip()
