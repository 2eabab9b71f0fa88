"""``charlm serve``: the real server in a subprocess on 127.0.0.1 (ephemeral port), a real HTTP client.

Every endpoint, results equal to the CLI's, micro-batching equal to scoring alone, hostile requests
answered with one-line 4xx JSON errors (and the server healthy after them), SIGTERM exit 0.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

pytestmark = pytest.mark.slow
SENTENCES = ["the cat sat on the mat", "the mat sat on the cat", "a dog ate the pear", "zq", "the king is dead"]


class Server:
    """A ``charlm serve`` subprocess and a client for it."""

    def __init__(self, model: Path, *options: str) -> None:
        env = {**os.environ, "CHARLM_THREADS": "1"}
        command = [sys.executable, "-m", "charlm", "serve", "--model", str(model), "--port", "0", *options]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        line = self.proc.stderr.readline() if self.proc.stderr else ""
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert found, f"no address on stderr: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}"
        self.url = f"http://127.0.0.1:{found.group(1)}"
        self.client = httpx.Client(base_url=self.url, timeout=60)
        self.wait_healthy()

    def wait_healthy(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "server exited"
            try:
                if self.client.get("/health").json() == {"status": "ok"}:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("server never became healthy")

    def stop(self) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def server(tiny_model: Path) -> Iterator[Server]:
    running = Server(
        tiny_model, "--batch-wait-ms", "50", "--max-samples", "2", "--max-sentences", "1000",
        "--max-sample-length", "1000000",
    )  # fmt: skip
    yield running
    assert running.stop() == 0
    assert "Traceback" not in (running.proc.stderr.read() if running.proc.stderr else "")


def cli_json(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "charlm", *args, "--json"], capture_output=True, text=True, check=True
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def close(a: Any, b: Any, tol: float = 1e-5) -> bool:
    """Equal, up to ``tol`` relative on floats (a different batch shape may move the last bits)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tol * max(1.0, abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b, strict=True))
    return a == b


def test_health_info_and_openapi(server: Server, tiny_model: Path) -> None:
    assert server.client.get("/health").json() == {"status": "ok"}
    info = server.client.get("/info").json()
    assert info["model"]["model"]["arch"] == "lstm" and info["limits"]["max_sentences"] == 1000
    assert "path" not in info["model"] and "train" not in info["model"]  # nothing about the host's files (B12)
    spec = server.client.get("/openapi.json").json()
    assert {"/score", "/eval", "/sample", "/info", "/health"} <= set(spec["paths"])
    assert "openapi.json" in server.client.get("/docs").text


def test_score_equals_cli(server: Server, tiny_model: Path) -> None:
    body = {"sentences": SENTENCES, "normalize": "token", "per_token": True}
    got = server.client.post("/score", json=body).json()["scores"]
    want = cli_json("score", *SENTENCES, "--model", str(tiny_model), "--normalize", "token", "--per-token")
    assert got == want


def test_eval_equals_cli(server: Server, tiny_model: Path, tmp_path: Path) -> None:
    text = "the cat sat on the mat\nthe dog ate the pear\n" * 5
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    for independent in (False, True):
        got = server.client.post("/eval", json={"text": text, "independent": independent}).json()
        want = cli_json("eval", str(path), "--model", str(tiny_model), *(["--independent"] if independent else []))[0]
        assert got.pop("path") == "<request>" and want.pop("path") == str(path)
        assert got == want


def test_sample_streams_lines_and_repeats_the_api(server: Server, tiny_model: Path) -> None:
    from charlm.api import load

    body = {"prime": "the ", "length": 40, "seed": 7, "temperature": 0.8}
    with server.client.stream("POST", "/sample", json=body) as response:
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines[0] == {"prime": "the ", "num": 1}
    pieces = "".join(line["text"] for line in lines[1:-1])
    final = lines[-1]["samples"][0]
    assert lines[-1]["done"] and pieces == final["text"]
    expected = load(tiny_model, device="cpu").sample("the ", length=40, seed=7, temperature=0.8)[0]
    assert final["text"] == expected.text and final["tokens"] == expected.tokens


def test_concurrent_requests_are_batched_and_equal_scoring_alone(server: Server, tiny_model: Path) -> None:
    from charlm.api import load

    model = load(tiny_model, device="cpu")
    requests = [SENTENCES[i % 5 :] + [f"the cat {i}"] for i in range(24)]
    before = server.client.get("/info").json()["batches"]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda s: server.client.post("/score", json={"sentences": s}).json(), requests))
    batches = server.client.get("/info").json()["batches"] - before
    assert batches < len(requests), "no two requests shared a batch"
    for sentences, answer in zip(requests, answers, strict=True):
        alone = [s.to_dict() for s in model.score(sentences)]
        assert close(answer["scores"], alone)
        assert [s["rank"] for s in answer["scores"]] == [s["rank"] for s in alone]


JSON = {"content-type": "application/json"}
HOSTILE: list[tuple[str, str, dict[str, Any], int, str]] = [
    (
        "bad json",
        "/score",
        {"content": b'{"sentences": [', "headers": JSON},
        422,
        "JSON",
    ),
    ("not an object", "/score", {"json": [1, 2]}, 422, "body"),
    ("wrong type", "/score", {"json": {"sentences": "one"}}, 422, "sentences"),
    ("wrong item type", "/score", {"json": {"sentences": ["a", 3]}}, 422, "sentences.1"),
    ("unknown field", "/score", {"json": {"sentences": ["a"], "evil": 1}}, 422, "evil"),
    ("bad normalize", "/score", {"json": {"sentences": ["a"], "normalize": "x"}}, 422, "normalize"),
    ("bool as string", "/score", {"json": {"sentences": ["a"], "per_token": "yes"}}, 422, "per_token"),
    ("non-utf8", "/score", {"content": b'{"sentences": ["\xff\xfe"]}', "headers": JSON}, 400, "UTF-8"),
    ("lone surrogate", "/score", {"content": b'{"sentences": ["\\ud800"]}', "headers": JSON}, 422, "surrogate"),
    ("huge body", "/score", {"content": b"x" * (2 << 20), "headers": JSON}, 413, "--max-body"),
    ("many sentences", "/score", {"json": {"sentences": ["a"] * 5000}}, 413, "--max-sentences"),
    ("long sentence", "/score", {"json": {"sentences": ["a" * 5000]}}, 413, "--max-chars"),
    ("unk error", "/score", {"json": {"sentences": ["\u2603"], "unk": "error"}}, 400, "vocabulary"),
    ("deep json", "/score", {"content": b"[" * 100000 + b"]" * 100000, "headers": JSON}, 400, "JSON"),
    ("form body", "/score", {"content": b"sentences=a"}, 415, "Content-Type"),
    ("empty eval", "/eval", {"json": {"text": ""}}, 400, "empty"),
    ("eval wrong type", "/eval", {"json": {"text": None}}, 422, "text"),
    ("negative length", "/sample", {"json": {"length": -1}}, 422, "length"),
    ("huge length", "/sample", {"json": {"length": 10**9}}, 422, "length: must be in [1, 1_000_000]"),
    ("huge seed", "/sample", {"json": {"seed": 10**30}}, 422, "seed: must be in"),
    ("bad temperature", "/sample", {"json": {"temperature": -2}}, 422, "temperature: must be in"),
    ("bad top_p", "/sample", {"json": {"top_p": 7}}, 422, "top_p: must be in (0, 1]"),
    ("too many samples", "/sample", {"json": {"num": 1000}}, 422, "--max-sample-num"),
    ("unknown path", "/nothing", {"json": {}}, 404, "Not Found"),
]


@pytest.mark.parametrize(("name", "path", "request_kw", "status", "says"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_requests_get_one_line_errors(
    server: Server, name: str, path: str, request_kw: dict[str, Any], status: int, says: str
) -> None:
    response = server.client.post(path, **request_kw)
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"error"} and says in payload["error"] and "\n" not in payload["error"]
    assert "Traceback" not in response.text
    assert server.client.get("/health").json() == {"status": "ok"}


def test_wrong_method_and_thousands_of_sentences_within_the_limit(server: Server) -> None:
    assert server.client.get("/score").status_code == 405
    scores = server.client.post("/score", json={"sentences": ["the cat"] * 1000}).json()["scores"]
    assert len(scores) == 1000 and len({s["logprob"] for s in scores}) == 1


def test_concurrent_samples_over_the_limit_get_429(server: Server) -> None:
    body = {"prime": "the", "length": 1_000_000}  # long enough to be running still on a fast, quiet machine
    with (
        server.client.stream("POST", "/sample", json=body) as one,
        server.client.stream("POST", "/sample", json=body) as two,
    ):
        next(one.iter_lines()), next(two.iter_lines())
        third = server.client.post("/sample", json=body)
        assert third.status_code == 429 and "--max-samples" in third.json()["error"]
    deadline = time.monotonic() + 30  # the clients went away: their samples stop and free their places
    while (status := server.client.post("/sample", json={"length": 5}).status_code) == 429:
        assert time.monotonic() < deadline, "abandoned samples never released their places"
        time.sleep(0.2)
    assert status == 200
    assert server.client.get("/health").json() == {"status": "ok"}


def test_sigterm_finishes_requests_in_flight_and_exits_0(tiny_model: Path) -> None:
    running = Server(tiny_model)
    with running.client.stream("POST", "/sample", json={"prime": "the", "length": 600, "seed": 1}) as response:
        lines = response.iter_lines()
        assert json.loads(next(lines))["num"] == 1
        running.proc.send_signal(signal.SIGTERM)
        rest = [json.loads(line) for line in lines if line]
    assert rest[-1]["done"] and rest[-1]["samples"][0]["tokens"] == 600
    assert running.proc.wait(timeout=60) == 0


def test_two_workers_serve_and_stop_cleanly(tiny_model: Path) -> None:
    running = Server(tiny_model, "--workers", "2")
    answers = {
        running.client.post("/score", json={"sentences": ["the cat"]}).json()["scores"][0]["logprob"] for _ in range(6)
    }
    assert len(answers) == 1
    assert running.stop() == 0


def test_bad_model_and_busy_port_are_one_line_errors(tiny_model: Path, tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "charlm", "serve", "--model", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and missing.stderr.startswith("charlm: error:") and "Traceback" not in missing.stderr
    running = Server(tiny_model)
    try:
        port = running.url.rsplit(":", 1)[1]
        busy = subprocess.run(
            [sys.executable, "-m", "charlm", "serve", "--model", str(tiny_model), "--port", port],
            capture_output=True,
            text=True,
        )
        assert busy.returncode == 1 and "cannot listen" in busy.stderr and "Traceback" not in busy.stderr
    finally:
        assert running.stop() == 0


def test_help_imports_neither_fastapi_nor_onnx() -> None:
    code = "import sys, charlm.cli.app; print(sorted(m for m in ('fastapi', 'uvicorn', 'onnx', 'onnxruntime') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
