"""The service's cases of issue 22 (B10-B15): verdicts before the stream, 500s logged, quiet shutdowns,
nothing about the host's files, "serving on" only when it is true, an API page that works offline.

The in-process part uses the app itself (``create_app`` + Starlette's test client); the rest runs the
real ``charlm serve`` (tests/test_serve.py's :class:`Server`) on 127.0.0.1 with an ephemeral port.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

with warnings.catch_warnings():  # Starlette's advice to install httpx2: the client is httpx here, as elsewhere
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from charlm.api import load  # noqa: E402
from charlm.serve.app import create_app  # noqa: E402
from charlm.serve.public import log, public_info, public_message  # noqa: E402
from tests.test_serve import Server  # noqa: E402


@pytest.fixture(scope="module")
def client(tiny_model: Path) -> Iterator[tuple[TestClient, Any]]:
    model = load(tiny_model, device="cpu")
    with TestClient(create_app(model), raise_server_exceptions=False) as test_client:
        yield test_client, model


def _cli_verdict(tiny_model: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "charlm", "sample", "--model", str(tiny_model), "--length", "5", *options]
    return subprocess.run(command, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("field", "value", "flag"), [("temperature", 1e308, "--temp"), ("temperature", 1e-300, "--temp")]
)
def test_b10_sample_options_are_refused_before_the_stream_as_the_cli_refuses_them(
    client: tuple[TestClient, Any], tiny_model: Path, field: str, value: float, flag: str
) -> None:
    answer = client[0].post("/sample", json={"prime": "a", "length": 5, field: value})
    assert answer.status_code == 422, answer.text
    cli = _cli_verdict(tiny_model, flag, repr(value))
    assert cli.returncode == 2
    rule = re.search(r"must be [^(]*", answer.json()["error"])
    assert rule and rule.group(0).strip() in cli.stderr, (answer.json(), cli.stderr)


def test_b10_every_500_is_logged_with_its_traceback(
    client: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log.addHandler(handler)

    def broken() -> Any:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(client[1], "info", broken)
    try:
        answer = client[0].get("/info")
    finally:
        log.removeHandler(handler)
    assert answer.status_code == 500 and answer.json() == {"error": "internal error (see the server's log)"}
    assert records and records[0].exc_info is not None and "a bug of ours" in str(records[0].exc_info[1])


def test_b12_info_and_errors_say_nothing_about_the_host_files(client: tuple[TestClient, Any]) -> None:
    info = client[0].get("/info").json()
    text = json.dumps(info)
    assert "path" not in info["model"] and "train" not in info["model"]
    assert not re.search(r'"/[^"]*"', text), "an absolute path in /info"
    empty = client[0].post("/eval", json={"text": ""})
    assert empty.status_code == 400 and "/" not in empty.json()["error"] and "tmp" not in empty.json()["error"]


def test_public_info_and_messages_drop_every_absolute_path() -> None:
    info = {"path": "m", "train": {"corpus": "/data/c.txt"}, "data": {"corpus": "/home/u/c.txt", "tokens": 5}}
    assert public_info(info) == {"data": {"tokens": 5}}
    message = "cannot read /tmp/charlm-eval-x1/request.txt; run charlm ngram build --model /srv/models/m"
    assert public_message(message) == "cannot read <path>; run charlm ngram build --model <path>"
    assert public_message("a ratio 1/2 and ./relative/path stay") == "a ratio 1/2 and ./relative/path stay"


def test_b14_the_api_page_needs_no_network(client: tuple[TestClient, Any]) -> None:
    page = client[0].get("/docs")
    assert page.status_code == 200 and "openapi.json" in page.text
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", page.text), (
        "the page loads something from the network"
    )
    assert not re.findall(r"https?://", page.text)
    assert client[0].get("/openapi.json").status_code == 200


@pytest.mark.slow
def test_b11_sigterm_with_streams_in_flight_is_quiet(tiny_model: Path) -> None:
    running = Server(tiny_model, "--graceful", "0.5", "--max-sample-length", "1000000")
    body = {"prime": "the", "length": 1000000, "num": 4}
    got: list[str] = []

    def stream() -> None:
        try:
            with httpx.stream("POST", running.url + "/sample", json=body, timeout=60) as response:
                got.extend(line for line in response.iter_lines() if line)
        except httpx.HTTPError:
            got.append("cut")

    threads = [threading.Thread(target=stream) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.wait(timeout=60) == 0
    for thread in threads:
        thread.join(timeout=30)
    err = running.proc.stderr.read() if running.proc.stderr else ""
    assert "Traceback" not in err and "CancelledError" not in err and "terminate called" not in err, err
    assert "cut off by the shutdown" in err, err


@pytest.mark.slow
def test_b13_serving_on_is_printed_only_once_the_port_answers(tiny_model: Path) -> None:
    command = [sys.executable, "-m", "charlm", "serve", "--model", str(tiny_model), "--port", "0", "--workers", "2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline() if proc.stderr else ""
        port = int(re.search(r":(\d+) ", line).group(1))  # type: ignore[union-attr]
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # accepted at once: the line came after the port was ready
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


@pytest.mark.slow
def test_b15_an_ipv6_host_is_printed_as_a_url(tiny_model: Path) -> None:
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    command = [sys.executable, "-m", "charlm", "serve", "--model", str(tiny_model), "--port", "0", "--host", "::1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline() if proc.stderr else ""
        found = re.search(r"http://\[::1\]:(\d+) ", line)
        assert found, line
        assert httpx.get(f"http://[::1]:{found.group(1)}/health", timeout=10).json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
