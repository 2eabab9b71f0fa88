"""The playground page of ``charlm serve`` and the two endpoints only it needed first.

::

    GET  /                 the page (static/index.html): type-ahead, fill the blank, surprisal, samples, the model
    GET  /static/NAME      its script and style, read from the installed package (no CDN, no build step)
    GET  /metrics?points=N the training curve: `charlm info --curve --json`'s "curve" ({"train", "val"})

``POST /score`` with ``alternatives: k`` (and ``per_token``) is answered here too, outside the
micro-batcher: :meth:`charlm.api.Model.score` with the network's top ``k`` tokens at each position.

The page is served with a Content-Security-Policy that allows only this origin's own files, so
nothing it shows can load or run anything else (it writes model text with ``textContent`` anyway).
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from charlm.api import Model
from charlm.options import ScoringOptions, declared
from charlm.serve.limits import RequestError, jsonable

STATIC = {"index.html": "text/html", "playground.js": "text/javascript", "playground.css": "text/css"}
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def static_file(name: str) -> bytes:
    """One of the page's files, read from the package (an editable install reads the checkout)."""
    return resources.files("charlm.serve").joinpath("static", name).read_bytes()


def _page_response(name: str) -> Response:
    headers = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
    return Response(static_file(name), media_type=f"{STATIC[name]}; charset=utf-8", headers=headers)


def playground_routes(app: FastAPI, model: Model) -> None:
    """``GET /``, ``GET /static/{name}`` and ``GET /metrics``."""

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return _page_response("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise RequestError(404, f"no file {name!r} (GET /static/{name})")
        return _page_response(name)

    @app.get("/metrics")
    async def metrics(points: int = declared("points").default) -> JSONResponse:
        problem = declared("points").problem(points)
        if problem is not None:
            raise RequestError(422, f"points: {problem}")
        return JSONResponse(jsonable(model.curve(points)))


async def alternatives(model: Model, body: Any, options: ScoringOptions) -> list[Any]:
    """``/score`` with ``alternatives``: the library call, in a worker thread."""
    call = lambda: model.score(  # noqa: E731
        body.sentences, body.normalize, body.per_token, options, alternatives=body.alternatives
    )
    return await asyncio.get_running_loop().run_in_executor(None, call)
