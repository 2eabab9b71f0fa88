"""Running the service: settings, the socket, uvicorn with one or several worker processes.

``charlm serve`` binds the socket itself (so ``--port 0`` picks a free port and the line on stderr
says which, once ``GET /health`` answers there), then hands it to uvicorn: one process, or with ``--workers N`` uvicorn's supervisor
and N processes that each load the model from its files and share nothing else. The settings
reach every worker through the environment (``CHARLM_SERVE``, JSON), read by :func:`app_from_env`.
SIGTERM or Ctrl-C: stop accepting, finish the requests in flight (up to ``--graceful`` seconds), exit 0.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from charlm.errors import CharlmError
from charlm.options import check_all
from charlm.serve.limits import Limits

ENV = "CHARLM_SERVE"


@dataclass(frozen=True)
class ServeConfig:
    """Where to listen, what to serve, and the limits."""

    model: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    device: str = "cpu"
    threads: int | None = None
    graceful: float = 30.0
    log_level: str = "warning"
    open: bool = False  # open the playground (GET /) in a browser once listening
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        check_all("serve", {"port": self.port, "workers": self.workers, "graceful": self.graceful})

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        payload = json.loads(text)
        return cls(**{**payload, "limits": Limits(**payload["limits"])})


def app_from_env() -> Any:
    """The ASGI app of one worker: load the model named in ``$CHARLM_SERVE`` (uvicorn's factory)."""
    from charlm.api import load
    from charlm.runtime import set_threads
    from charlm.serve.app import create_app

    config = ServeConfig.from_json(os.environ[ENV])
    set_threads(config.threads)
    return create_app(load(config.model, device=config.device), config.limits)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when the host is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CharlmError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def url(host: str, port: int) -> str:
    """``http://HOST:PORT``, an IPv6 address in brackets (``http://[::1]:8000``)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _probe_host(host: str) -> str:
    """Where to reach a server listening on ``host`` from this machine (a wildcard address: loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _answers(host: str, port: int) -> bool:
    """Whether ``GET /health`` on ``host:port`` answers 200 now."""
    try:
        with socket.create_connection((_probe_host(host), port), timeout=2) as conn:
            conn.sendall(b"GET /health HTTP/1.0\r\nHost: charlm\r\n\r\n")
            return conn.recv(64).split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]
    except (OSError, IndexError):
        return False


def _announce_when_ready(host: str, port: int, line: str, every: float = 0.05) -> None:
    """Print ``line`` once the server answers (with --workers N, once a worker has started, not before)."""
    while not _answers(host, port):
        time.sleep(every)
    print(line, file=sys.stderr, flush=True)


def _quiet_signals() -> None:
    """Let uvicorn's re-raised SIGTERM/SIGINT end the process with 0 after its graceful shutdown.

    uvicorn handles the signal (stop accepting, finish requests in flight), then restores the
    previous handler and raises the signal again; a handler that ignores it makes that a clean exit.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: None)


def open_page(host: str, port: int) -> None:
    """Open the playground in the user's browser shortly after the socket listens (a wildcard host: loopback)."""
    import threading
    import webbrowser

    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    url = f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"
    threading.Timer(0.5, webbrowser.open, (url,)).start()


def serve(config: ServeConfig) -> None:
    """Load the model (checked here first, so a bad --model fails before listening) and serve until SIGTERM."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from charlm.api import resolve_model_dir

    resolve_model_dir(config.model)
    os.environ[ENV] = config.to_json()
    app = app_from_env()  # fail here, with one line, on a model that does not load
    sock = bind(config.host, config.port)
    several = config.workers > 1  # each worker process loads the model again from its files
    settings = uvicorn.Config(
        "charlm.serve.server:app_from_env" if several else app,
        factory=several,
        workers=config.workers,
        log_level=config.log_level,
        timeout_graceful_shutdown=math.ceil(config.graceful),
        server_header=False,
    )
    port = sock.getsockname()[1]
    ready = f"charlm: serving on {url(config.host, port)} (playground: /, API page: /docs); SIGTERM or Ctrl-C stops"
    threading.Thread(target=_announce_when_ready, args=(config.host, port, ready), daemon=True).start()
    server = uvicorn.Server(settings)
    _quiet_signals()
    if config.open:
        open_page(config.host, port)
    if several:
        Multiprocess(settings, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])
