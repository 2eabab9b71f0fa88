"""The ``serve`` command: a model as an HTTP service (FastAPI + uvicorn, the ``serve`` extra).

Thin like the rest of the CLI: options -> :func:`charlm.serve.server.serve`. FastAPI and uvicorn
are imported only inside the command, so ``charlm --help`` stays fast and works without the extra.
"""

from __future__ import annotations

from typing import Annotated

import typer

from charlm.cli.options import ModelOpt, friendly
from charlm.cli.values import Device, Float, Int, Text
from charlm.errors import need


@friendly
def serve(
    model: ModelOpt = None,
    host: Annotated[
        str, typer.Option(parser=Text(nonempty=True), help="Address to listen on; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(parser=Int(0, 65535), help="TCP port (0 picks a free one; the line on stderr says which).")
    ] = 8000,
    workers: Annotated[
        int, typer.Option(parser=Int(1, 1024), help="Worker processes, each with its own copy of the model.")
    ] = 1,
    max_batch: Annotated[
        int, typer.Option(parser=Int(1, 1_000_000), help="Most sentences scored together in one micro-batch.")
    ] = 64,
    batch_wait_ms: Annotated[
        float, typer.Option(parser=Float(0.0, 60_000.0), help="How long /score waits to gather concurrent requests.")
    ] = 5.0,
    max_body: Annotated[
        int, typer.Option(parser=Int(1, 1 << 40), help="Largest request body in bytes (413 above).")
    ] = 1 << 20,
    max_sentences: Annotated[
        int, typer.Option(parser=Int(1, 1_000_000), help="Most sentences in one /score request.")
    ] = 256,
    max_chars: Annotated[
        int, typer.Option(parser=Int(1, 1 << 30), help="Most characters in one sentence or prime.")
    ] = 2000,
    max_eval_chars: Annotated[
        int, typer.Option(parser=Int(1, 1 << 40), help="Most characters of text in one /eval request.")
    ] = 1 << 20,
    max_sample_length: Annotated[
        int, typer.Option(parser=Int(1, 1_000_000), help="Most tokens one /sample may draw.")
    ] = 2000,
    max_sample_num: Annotated[
        int, typer.Option(parser=Int(1, 10_000), help="Most samples drawn together by one /sample.")
    ] = 8,
    max_samples: Annotated[
        int, typer.Option(parser=Int(1, 10_000), help="/sample requests running at once (429 above).")
    ] = 4,
    graceful: Annotated[
        float, typer.Option(parser=Float(0.0, 86_400.0), help="On SIGTERM, seconds to let requests in flight finish.")
    ] = 30.0,
    threads: Annotated[
        int | None, typer.Option(parser=Int(1, 4096), help="Torch threads per worker [default: all cores].")
    ] = None,
    device: Annotated[str, typer.Option(parser=Device(), help="cpu or cuda (each worker loads its own copy).")] = "cpu",
) -> None:
    """Serve a model over HTTP: POST /score, /eval, /predict, /sample; GET /info, /health; the API page at /docs.

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
    )
    run(config)
