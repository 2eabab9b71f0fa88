"""What the service says about itself, and what it keeps to its log.

* :func:`public_info` is ``GET /info``: the model's architecture, tokenizer, data counts and summary,
  without the host's file system (no model path, no corpus path, no training config, whose fields
  are paths and the run's command line); any other absolute path is dropped too.
* :func:`public_message` is what an error tells a client: absolute paths (a model directory, a
  temporary file) become ``<path>``.
* :data:`log` is the server's log (stderr): every 500 and every stream that failed, with its traceback.
* :class:`QuietShutdown`: a request still running when ``--graceful`` runs out is cut off with one
  log line, not the CancelledError traceback uvicorn would print for it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from typing import Any

HIDDEN_KEYS = ("path", "train")  # the model directory; the training config (corpus, out, init_from, val ...)
_ABSOLUTE = re.compile(r"(?<![\w.~-])(?:/|[A-Za-z]:\\)[^\s'\"]*")

log = logging.getLogger("charlm.serve")


def setup_log() -> None:
    """Send the service's log to stderr once per process (each worker's own)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("charlm serve: %(levelname)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _is_host_path(value: Any) -> bool:
    return isinstance(value, str) and _ABSOLUTE.fullmatch(value) is not None


def _public(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if k not in HIDDEN_KEYS and not _is_host_path(v)}
    if isinstance(value, list):
        return [_public(v) for v in value if not _is_host_path(v)]
    return value


def public_info(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` (the model's ``charlm info --json``) without anything that names the host's files."""
    cleaned: dict[str, Any] = _public(info)
    return cleaned


def public_message(message: str) -> str:
    """An error line for a client: every absolute path replaced by ``<path>`` (punctuation after it kept)."""

    def hide(match: re.Match[str]) -> str:
        path = match.group(0)
        return "<path>" + path[len(path.rstrip(".,;:)")) :]

    return _ABSOLUTE.sub(hide, message)


class QuietShutdown:
    """ASGI wrapper: a request cancelled by the server's shutdown (``--graceful`` ran out) ends cleanly.

    uvicorn cancels the tasks still running when the graceful period is over; a cancelled task is the
    end of that request, not a fault: it is logged in one line instead of a CancelledError traceback,
    and its response is completed (a stream gets a last ``{"error": ...}`` line, a request whose
    answer had not started a 503), so uvicorn has no unfinished response to complain about.
    """

    LAST_LINE = b'{"error": "the server is shutting down (charlm serve --graceful ran out)"}\n'

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message.get("type") == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            log.warning(
                "%s %s cut off by the shutdown (charlm serve --graceful)", scope.get("method"), scope.get("path")
            )
            await self._finish(send, started)

    async def _finish(self, send: Any, started: bool) -> None:
        try:
            if not started:
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self.LAST_LINE)).encode()),
                ]
                await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": self.LAST_LINE, "more_body": False})
        except Exception:  # the client has gone too: nothing left to tell it
            return
