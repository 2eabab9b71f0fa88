"""The ``serve`` command: a model as an HTTP service (FastAPI + uvicorn, the ``serve`` extra).

Thin like the rest of the CLI: options -> :func:`charlm.serve.server.serve`. FastAPI and uvicorn
are imported only inside the command, so ``charlm --help`` stays fast and works without the extra.
"""

from __future__ import annotations

from typing import Annotated

from charlm.cli.declared import default, option
from charlm.cli.options import ModelOpt, friendly
from charlm.errors import need


@friendly
def serve(
    model: ModelOpt = None,
    host: Annotated[str, option("host")] = default("host"),
    port: Annotated[int, option("port")] = default("port"),
    workers: Annotated[int, option("workers")] = default("workers"),
    max_batch: Annotated[int, option("max_batch")] = default("max_batch"),
    batch_wait_ms: Annotated[float, option("batch_wait_ms")] = default("batch_wait_ms"),
    max_body: Annotated[int, option("max_body")] = default("max_body"),
    max_sentences: Annotated[int, option("max_sentences")] = default("max_sentences"),
    max_chars: Annotated[int, option("max_chars")] = default("max_chars"),
    max_eval_chars: Annotated[int, option("max_eval_chars")] = default("max_eval_chars"),
    max_sample_length: Annotated[int, option("max_sample_length")] = default("max_sample_length"),
    max_sample_num: Annotated[int, option("max_sample_num")] = default("max_sample_num"),
    max_samples: Annotated[int, option("max_samples")] = default("max_samples"),
    max_predict_k: Annotated[int, option("max_predict_k")] = default("max_predict_k"),
    graceful: Annotated[float, option("graceful")] = default("graceful"),
    open_page: Annotated[bool, option("open")] = default("open"),
    threads: Annotated[int | None, option("serve.threads")] = default("serve.threads"),
    device: Annotated[str, option("serve.device")] = default("serve.device"),
) -> None:
    """Serve a model over HTTP: POST /score, /eval, /predict, /sample; GET /info, /metrics, /health; the API page at /docs.

    GET / is the playground: type-ahead, fill the blank, surprisal heatmaps, streamed samples and the
    model's training curve, in a browser (--open opens it), offline (its files: GET /static/{name}).

    Concurrent /score requests are gathered into micro-batches (--max-batch, --batch-wait-ms); every
    request is checked against the limits and gets a JSON error naming the problem. Binds to loopback
    unless --host says otherwise. SIGTERM finishes the requests in flight and exits 0.

    Example: charlm serve --model checkpoints/latest --port 8000
    """
    need("fastapi", "serve")
    need("uvicorn", "serve")
    from charlm.serve.limits import Limits
    from charlm.serve.server import ServeConfig
    from charlm.serve.server import serve as run

    limits = Limits(
        max_body=max_body,
        max_sentences=max_sentences,
        max_chars=max_chars,
        max_eval_chars=max_eval_chars,
        max_sample_length=max_sample_length,
        max_sample_num=max_sample_num,
        max_samples=max_samples,
        max_predict_k=max_predict_k,
        max_batch=max_batch,
        batch_wait_ms=batch_wait_ms,
    )
    config = ServeConfig(
        model=str(model) if model is not None else None,
        host=host,
        port=port,
        workers=workers,
        device=device,
        threads=threads,
        graceful=graceful,
        limits=limits,
        open=open_page,
    )
    run(config)
