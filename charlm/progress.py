"""How a long pass over a corpus reports how far it is: one callback type for every layer.

A pass (counting characters or words, encoding the token cache, counting n-grams, merging spilled
runs, evaluating a file) calls ``progress(stage, done, total, unit)`` now and then; the library never
prints, the command line draws it (:class:`charlm.cli.progress.PassProgress`: a bar with rate and
ETA on a terminal, one plain line per update in a pipe). ``total`` 0 means unknown.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """``stage`` (``"counting characters"``), ``done`` of ``total`` in ``unit`` (``"bytes"`` or ``"tokens"``)."""

    def __call__(self, stage: str, done: int, total: int, unit: str = "bytes") -> None: ...


def silent(stage: str, done: int, total: int, unit: str = "bytes") -> None:
    """A :class:`Progress` that reports nothing (the library's default)."""
