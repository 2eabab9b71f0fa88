"""``POST /sample`` as a stream: tokens go out as newline-delimited JSON while they are drawn.

::

    {"prime": "ROMEO:", "num": 1}                         first line, once the options are accepted
    {"row": 0, "text": "\\nI"}                             each piece of text as soon as it is settled
    ...
    {"done": true, "samples": [{"text", "logprob", "tokens", "ended", "ppl"}]}     last line
    {"error": "..."}                                       instead of the last line if sampling failed

The sampler runs in its own thread and hands pieces to the event loop; a client that goes away
stops it at the next token. A semaphore (``--max-samples``) bounds the samples running at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

from charlm.api import Model, Sample
from charlm.errors import CharlmError
from charlm.options import check_all
from charlm.serve.limits import jsonable
from charlm.serve.public import log, public_message

_END = object()


class _Stopped(Exception):
    """Raised inside the sampling thread when its client has gone."""


def _line(payload: dict[str, Any]) -> bytes:
    return (json.dumps(jsonable(payload), ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _summary(s: Sample) -> dict[str, Any]:
    return {"text": s.text, "logprob": s.logprob, "tokens": s.tokens, "ended": s.ended, "ppl": s.ppl}


class SampleThreads:
    """The sampling threads of the streams in flight, so a shutting-down server stops and joins them.

    A thread still inside torch when the interpreter exits aborts the process ("terminate called
    without an active exception"); :meth:`stop` (the app's shutdown) tells each to stop at its next
    token and waits for it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[threading.Thread, threading.Event] = {}

    def start(self, work: Any, gone: threading.Event) -> None:
        def run() -> None:
            try:
                work()
            finally:
                with self._lock:
                    self._running.pop(threading.current_thread(), None)

        thread = threading.Thread(target=run, name="charlm-sample", daemon=True)
        with self._lock:
            self._running[thread] = gone
        thread.start()

    async def stop(self, timeout: float = 30.0) -> None:
        with self._lock:
            running = dict(self._running)
        for gone in running.values():
            gone.set()

        def join() -> None:
            for thread in running:
                thread.join(timeout)

        await asyncio.to_thread(join)


async def sample_stream(
    model: Model,
    prime: str,
    options: dict[str, Any],
    running: asyncio.Semaphore,
    threads: SampleThreads | None = None,
) -> AsyncIterator[bytes]:
    """Lines of the stream; the first is yielded only after the options are checked (errors raise before it)."""
    if model.bidirectional:
        raise CharlmError("this is a --direction both model: it scores both ways and cannot sample left to right")
    check_all("sample", options)  # the declarations' verdicts, before the first line goes out
    await running.acquire()
    try:
        yield _line({"prime": prime, "num": options["num"]})
        async for line in _draw(model, prime, options, threads or SampleThreads()):
            yield line
    finally:
        running.release()


async def _draw(model: Model, prime: str, options: dict[str, Any], threads: SampleThreads) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[Any] = asyncio.Queue()
    gone = threading.Event()

    def hand_over(item: tuple[Any, Any]) -> None:
        try:
            loop.call_soon_threadsafe(pieces.put_nowait, item)
        except RuntimeError:  # the event loop is closed: the server has shut down
            gone.set()
            raise _Stopped from None

    def on_token(row: int, text: str) -> None:
        if gone.is_set():
            raise _Stopped
        hand_over((row, text))

    def work() -> None:
        try:
            result: Any = model.sample(prime, on_token=on_token, **options)
        except _Stopped:
            result = None
        except Exception as exc:  # reported on the stream's last line (never a traceback); logged with it
            if not isinstance(exc, CharlmError):
                log.error("a /sample stream failed", exc_info=exc)
            result = exc
        with contextlib.suppress(_Stopped):
            hand_over((_END, result))

    threads.start(work, gone)
    try:
        while True:
            row, item = await pieces.get()
            if row is not _END:
                yield _line({"row": row, "text": item})
                continue
            if isinstance(item, Exception):
                message = (
                    public_message(str(item))
                    if isinstance(item, CharlmError)
                    else "internal error (see the server's log)"
                )
                yield _line({"error": message})
            elif item is not None:
                yield _line({"done": True, "samples": [_summary(s) for s in item]})
            return
    finally:
        gone.set()
