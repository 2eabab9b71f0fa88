"""Ctrl-C and SIGTERM that are never lost: the signal is raised as KeyboardInterrupt *and* remembered.

A signal handler that only raises ``KeyboardInterrupt`` loses the signal whenever the exception is
raised inside code that swallows it: a bare ``except:`` in a third-party module (Cython's generated
module init wraps ``collections.abc.Sequence.register`` in ``try: ... except: pass``, and numpy
imports ``numpy.random._generator`` lazily, at the first ``np.random.seed``), a ``__del__``, a
weakref callback. The process then runs on as if nothing had happened. So :func:`caught` installs a
handler that also records the signal, and the places that begin or commit work call :func:`check`,
which raises ``KeyboardInterrupt`` again when a signal arrived and its exception went missing.

``caught()`` owns SIGINT and SIGTERM for the duration of one command (the CLI's error boundary) and
restores the previous handlers afterwards, so an in-process caller (tests, notebooks) gets its own back.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []  # signals seen while a caught() block is active (cleared when it starts)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def pending() -> int | None:
    """The first signal received inside the current :func:`caught` block, or None."""
    return _received[0] if _received else None


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a signal arrived (even one whose exception something swallowed)."""
    if _received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def caught() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt and are remembered, for the block's duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    old: dict[int, Any] = {sig: signal.signal(sig, _on_signal) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        _received.clear()
