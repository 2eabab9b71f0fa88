"""The HTTP service of ``charlm serve``: a FastAPI app over one loaded :class:`charlm.api.Model`.

::

    POST /score    {"sentences": [...]}          -> {"scores": [the objects `charlm score --json` prints]}
    POST /eval     {"text": "..."}               -> the object `charlm eval --json` prints (path "<request>")
    POST /predict  {"prefix": "...", "k": N}     -> {"predictions": [the objects `charlm predict --json` prints]}
    POST /sample   {"prime": "...", "length": N} -> NDJSON: {"row", "text"} per new piece, then {"done", "samples"}
    GET  /info     the model's `charlm info --json` object (without paths or the training config) and the limits
    GET  /metrics  ?points=N: the training curve, as `charlm info --curve --json` gives it under "curve"
    GET  /         the playground page (charlm.serve.playground), its files under /static/
    GET  /health   {"status": "ok"}
    GET  /docs     an API page rendering /openapi.json, served from the package (works offline: no CDN)

Errors are ``{"error": "one line"}`` with a 4xx status for the client's mistakes and 500 "internal
error" for ours, logged with its traceback on the server's stderr; no traceback and no host path
ever reaches a client (:mod:`charlm.serve.public`). Request bodies are strict: unknown fields and
wrong types are refused (422). Non-finite numbers are written as null (strict JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from charlm.api import Model
from charlm.errors import CharlmError
from charlm.options import ScoringOptions
from charlm.serve.batching import MicroBatcher
from charlm.serve.limits import BodyLimit, Limits, RequestError, check_unicode, jsonable, over
from charlm.serve.playground import alternatives as _alternatives
from charlm.serve.playground import playground_routes
from charlm.serve.public import QuietShutdown, log, public_info, public_message, setup_log
from charlm.serve.requests import EvalRequest, PredictRequest, SampleRequest, ScoreRequest
from charlm.serve.streaming import SampleThreads, sample_stream

DOCS_PAGE = (resources.files("charlm.serve") / "docs.html").read_text(encoding="utf-8")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    """One line naming where the body is wrong and how, from the first few validation errors."""
    parts = []
    for err in exc.errors()[:3]:
        if err.get("type") == "json_invalid":
            at = err.get("loc", ("body", "?"))[-1]
            return f"the body is not valid JSON (at character {at}): {err.get('ctx', {}).get('error', 'decode error')}"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        where = f" ({request.method} {request.url.path})" if exc.status_code in (404, 405) else ""
        detail = "the body could not be parsed as JSON" if "parsing the body" in str(exc.detail) else exc.detail
        return JSONResponse({"error": f"{detail}{where}"}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(CharlmError)
    async def bad_input(request: Request, exc: CharlmError) -> JSONResponse:
        return _error(400, public_message(str(exc)))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("500 on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal error (see the server's log)")


def _check_sentences(texts: list[str], limits: Limits) -> None:
    if len(texts) > limits.max_sentences:
        raise over("sentences in one request", len(texts), limits.max_sentences, "--max-sentences")
    for i, text in enumerate(texts):
        if len(text) > limits.max_chars:
            raise over(f"sentences.{i} characters", len(text), limits.max_chars, "--max-chars")
        check_unicode(f"sentences.{i}", text)


def create_app(model: Model, limits: Limits | None = None) -> Any:
    """The ASGI application (FastAPI inside the body-size guard) serving ``model``."""
    limits = limits or Limits()
    batcher = MicroBatcher(model, limits.max_batch, limits.batch_wait_ms)
    samples = asyncio.Semaphore(limits.max_samples)
    threads = SampleThreads()  # the /sample streams' threads: stopped and joined at shutdown

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await threads.stop()
        await batcher.stop()

    # docs_url/redoc_url None: FastAPI's pages load Swagger UI from a CDN; charlm's own page works offline
    summary = "Score, evaluate and sample with a charlm model."
    app = FastAPI(title="charlm", summary=summary, lifespan=lifespan, docs_url=None, redoc_url=None)
    setup_log()
    _install_errors(app)
    _status_routes(app, model, limits, batcher)
    _reading_routes(app, model, limits)
    playground_routes(app, model)

    @_post(app, "/score", ScoreRequest)
    async def score(body: Any) -> JSONResponse:
        _check_sentences(body.sentences, limits)
        if model.bidirectional:
            raise RequestError(400, "this is a --direction both model; score it with `charlm score` (not served)")
        options = _options(body, "unk", "ngram_weight", "precision")
        if body.alternatives:  # a playground's question, not batched: the alternatives need a forward pass of their own
            scores = await _alternatives(model, body, options)
        elif body.sentences:
            scores = await batcher.score(body.sentences, body.normalize, body.per_token, options)
        else:
            scores = []
        return JSONResponse({"scores": jsonable([s.to_dict() for s in scores])})  # already plain JSON: no re-encoding

    @_post(app, "/sample", SampleRequest)
    async def sample(body: Any) -> StreamingResponse:
        _check_sample(body, limits)
        if samples.locked():
            raise RequestError(429, f"{limits.max_samples} samples are running already (charlm serve --max-samples)")
        view = model.using(_options(body, "unk", "ngram_weight", "precision"))
        options = body.model_dump(exclude={"unk", "prime", "ngram_weight", "precision"})
        stream = sample_stream(view, view.prepare(body.prime), options, samples, threads)
        first = await anext(stream)  # errors in the options surface here, as a 4xx, before streaming starts
        return StreamingResponse(_chain(first, stream), media_type="application/x-ndjson")

    return QuietShutdown(BodyLimit(app, limits.max_body))


def _reading_routes(app: FastAPI, model: Model, limits: Limits) -> None:
    """``POST /eval`` and ``POST /predict``: one request at a time each, in a worker thread."""
    predicting = asyncio.Lock()  # one prediction at a time: the model's stateful scorer is not shared across threads

    @_post(app, "/eval", EvalRequest)
    async def evaluate(body: Any) -> dict[str, Any]:
        if len(body.text) > limits.max_eval_chars:
            raise over("text characters", len(body.text), limits.max_eval_chars, "--max-eval-chars")
        check_unicode("text", body.text)
        view = model.using(_options(body, "unk", "ngram_weight", "precision"))
        result = await asyncio.get_running_loop().run_in_executor(None, _eval, view, body.text, body.independent)
        return jsonable(result)

    @_post(app, "/predict", PredictRequest)
    async def predict(body: Any, request: Request) -> JSONResponse:
        _check_predict(body, limits)
        async with predicting:
            if await request.is_disconnected():  # a type-ahead request the page has since aborted: skip its work
                return _error(499, "the client closed the request")
            found = await asyncio.get_running_loop().run_in_executor(None, _predict, model, body)
        return JSONResponse({"predictions": jsonable(found)})


def _status_routes(app: FastAPI, model: Model, limits: Limits, batcher: MicroBatcher) -> None:
    """``GET /health`` and ``GET /info``."""

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info")
    async def info() -> dict[str, Any]:
        described = public_info(model.info().to_dict())  # nothing about the host's files
        return jsonable({"model": described, "limits": limits.to_dict(), "batches": batcher.batches})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)


def _post(app: FastAPI, path: str, body: type) -> Any:
    """``app.post(path)`` for an endpoint whose ``body`` parameter is the request model ``body``
    (built at import from the declarations, so it is set here rather than written in the signature)."""

    def register(endpoint: Any) -> Any:
        endpoint.__annotations__["body"] = body
        return app.post(path)(endpoint)

    return register


def _options(body: Any, *names: str) -> ScoringOptions:
    """The scoring options a request body sets (the rest: the model's)."""
    return ScoringOptions.of(**{name: getattr(body, name) for name in names})


def _check_predict(body: Any, limits: Limits) -> None:
    if body.k > limits.max_predict_k:
        raise over("k", body.k, limits.max_predict_k, "--max-predict-k", status=422)
    if len(body.prefix) > limits.max_chars:
        raise over("prefix characters", len(body.prefix), limits.max_chars, "--max-chars")
    if body.candidates and not body.blank:
        raise RequestError(422, "candidates go with blank: true (and a ___ in the prefix)")
    _check_sentences(body.candidates, limits)
    check_unicode("prefix", body.prefix)


def _predict(model: Model, body: Any) -> list[dict[str, Any]]:
    """``charlm predict --json`` of the request: the same library calls, the same objects."""
    view = model.using(ngram_weight=body.ngram_weight)
    if body.blank:
        found = view.fill_blank(body.prefix, body.candidates, body.k)
    else:
        found = view.predict(body.prefix, body.k, body.words, body.keep_unk)
    return [p.to_dict() for p in found]


def _check_sample(body: Any, limits: Limits) -> None:
    if not 1 <= body.length <= limits.max_sample_length:
        raise RequestError(422, f"length must be in [1, {limits.max_sample_length}] (charlm serve --max-sample-length)")
    if not 1 <= body.num <= limits.max_sample_num:
        raise RequestError(422, f"num must be in [1, {limits.max_sample_num}] (charlm serve --max-sample-num)")
    if len(body.prime) > limits.max_chars:
        raise over("prime characters", len(body.prime), limits.max_chars, "--max-chars")
    if len(body.stop) > 16 or any(len(s) > limits.max_chars or not s for s in body.stop):
        raise RequestError(422, f"stop: at most 16 non-empty strings of at most {limits.max_chars} characters")
    for what, text in [("prime", body.prime), *(("stop", s) for s in body.stop)]:
        check_unicode(what, text)


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for line in rest:
        yield line


def _eval(model: Model, text: str, independent: bool) -> dict[str, Any]:
    """``charlm eval --json`` of ``text``: :meth:`Model.eval_text`, the same code path as a file."""
    return {**model.eval_text(text, independent=independent).to_dict(), "path": "<request>"}
