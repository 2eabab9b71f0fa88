"""Durations and checkpoint cadences as options: ``--time 1h30m``, ``--save-every 200,10m``."""

from __future__ import annotations

import re
from typing import Any

from charlm.errors import BadOption
from charlm.values import Float, Int, Value

MAX_DURATION_S = 366 * 24 * 3600.0

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def parse_duration(text: str) -> float:
    """Parse ``90``, ``90s``, ``10m``, ``1.5h`` or ``1h30m`` into seconds."""
    compact = re.sub(r"\s+", "", text.strip().lower())
    number = r"[0-9]{1,9}(?:\.[0-9]{1,9})?"
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", compact):  # seconds, as a number: the number's range rule
        return Float(0.0, MAX_DURATION_S, low_open=True).check(float(compact))
    if not re.fullmatch(f"(?:{number}[smh])+", compact):
        raise BadOption(f"cannot read duration {text!r}; write e.g. 90s, 10m or 1h30m")
    parts = re.findall(f"({number})([smh])", compact)
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not 0 < seconds <= MAX_DURATION_S:
        raise BadOption(f"duration {text!r} must be positive and at most a year")
    return seconds


def parse_save_every(text: str) -> tuple[int | None, float | None]:
    """``--save-every``: ``200`` (steps), ``10m`` (time) or both, ``200,10m``."""
    steps, seconds = None, None
    for part in (p.strip() for p in text.split(",")):
        if re.fullmatch(r"[0-9]+", part):
            steps = Int(1).check(int(part))
        else:
            seconds = parse_duration(part)
    if steps is None and seconds is None:
        raise BadOption(f"cannot read --save-every {text!r}; write e.g. 200, 10m or 200,10m")
    return steps, seconds


class Duration(Value):
    """A duration such as 90s, 10m, 1h30m on the command line; seconds (a number) from Python or JSON."""

    __name__ = "DURATION"
    bad = ("5q", "99999999999999999999999")

    def parse(self, text: str) -> float:
        return parse_duration(text)

    def check(self, value: Any) -> float:
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        return Float(0.0, MAX_DURATION_S, low_open=True).check(value)


class SaveEvery(Value):
    """``--save-every``: 200, 10m or 200,10m (kept as text; :func:`parse_save_every` reads it)."""

    __name__ = "STEPS[,TIME]"
    bad = ("²", "99999999999999999999999")

    def parse(self, text: str) -> str:
        parse_save_every(text)
        return text

    def check(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.parse(value)
        return Int(1).check(value)  # steps (TrainConfig.save_every; the seconds are save_every_s)
