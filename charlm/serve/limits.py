"""What a client may ask of ``charlm serve``: the limits, their defaults, the body-size guard, strict JSON.

Every limit has a command-line option (``charlm serve --help``); a request over one gets a 4xx JSON
error ``{"error": "..."}`` that names the limit and its option. The body limit is enforced before the
request reaches the framework (:class:`BodyLimit`), so a huge or endless body is cut off early.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from charlm.options import check, default

Scope = dict[str, Any]
Message = dict[str, Any]


@dataclass(frozen=True)
class Limits:
    """Per-request and per-server limits, declared with charlm serve's options (:mod:`charlm.options.use`)."""

    max_body: int = default("max_body")  # bytes in a request body
    max_sentences: int = default("max_sentences")  # sentences in one /score request
    max_chars: int = default("max_chars")  # characters in one sentence (/score) or prime (/sample)
    max_eval_chars: int = default("max_eval_chars")  # characters of text in one /eval request
    max_sample_length: int = default("max_sample_length")  # tokens one /sample may draw
    max_sample_num: int = default("max_sample_num")  # samples drawn together in one /sample request
    max_samples: int = default("max_samples")  # /sample requests running at once; more get 429
    max_predict_k: int = default("max_predict_k")  # proposals one /predict may ask for
    max_batch: int = default("max_batch")  # sentences gathered into one micro-batch
    batch_wait_ms: float = default("batch_wait_ms")  # how long the batcher waits to gather concurrent /score requests

    def __post_init__(self) -> None:
        for f in fields(self):  # each limit by its declaration (charlm serve --help shows the same bounds)
            object.__setattr__(self, f.name, check(f.name, getattr(self, f.name)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestError(Exception):
    """A client's mistake: an HTTP status and one line naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def jsonable(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (strict JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def check_unicode(what: str, text: str) -> None:
    """Refuse text that cannot be written back as UTF-8 (a lone surrogate escaped in the JSON)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(422, f"{what}: not valid Unicode (a lone surrogate such as \\ud800)") from None


def over(what: str, got: int, limit: int, option: str, status: int = 413) -> RequestError:
    return RequestError(status, f"{what}: {got:,} is over the limit of {limit:,} (charlm serve {option})")


async def send_json(send: Any, status: int, payload: dict[str, Any]) -> None:
    """A complete JSON response straight on the ASGI channel."""
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: read the whole body up to ``max_body`` bytes, else answer 413 without reading on."""

    def __init__(self, app: Any, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope.get("method") == "POST" and kind != b"application/json":
            await send_json(
                send, 415, {"error": "send the body as JSON with the header Content-Type: application/json"}
            )
            return
        if declared is not None:
            if not declared.isdigit():
                await send_json(send, 400, {"error": "the Content-Length header is not a number"})
                return
            if int(declared) > self.max_body:
                await send_json(
                    send, 413, {"error": str(over("request body bytes", int(declared), self.max_body, "--max-body"))}
                )
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                await send_json(
                    send, 413, {"error": str(over("request body bytes", size, self.max_body, "--max-body"))}
                )
                return
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            await send_json(send, 400, {"error": f"the request body is not valid UTF-8 (byte {exc.start})"})
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Any) -> Any:
    """A receive channel that hands out the buffered body once, then waits on the real one (disconnects)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
