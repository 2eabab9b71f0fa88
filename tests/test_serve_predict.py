"""``POST /predict`` on ``charlm serve``: the real server in a subprocess on 127.0.0.1 (ephemeral port).

The same objects as ``charlm predict --json`` (tokens, words, blank, the n-gram weight), limits and
malformed requests answered with one-line 4xx JSON errors, and the server healthy after them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_serve import Server

pytest.importorskip("httpx")
pytest.importorskip("fastapi")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tiny_model: Path) -> Iterator[Server]:
    running = Server(tiny_model)
    yield running
    assert running.stop() == 0
    assert "Traceback" not in (running.proc.stderr.read() if running.proc.stderr else "")


def cli_predict(model: Path, *args: str) -> object:
    import json

    out = subprocess.run(
        [sys.executable, "-m", "charlm", "predict", "-m", str(model), *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def test_predict_equals_the_cli(server: Server, tiny_model: Path) -> None:
    cases = [
        ({"prefix": "the ca", "k": 5}, ["the ca", "-k", "5"]),
        ({"prefix": "the cat ", "k": 3, "words": True}, ["the cat ", "-k", "3", "--words"]),
        ({"prefix": "the ca", "k": 4, "ngram_weight": 0}, ["the ca", "-k", "4", "--ngram-weight", "0"]),
        ({"prefix": "the ca", "k": 4, "ngram_weight": 0.5}, ["the ca", "-k", "4", "--ngram-weight", "0.5"]),
        (
            {"prefix": "the ___ sat", "blank": True, "candidates": ["cat", "dog"]},
            ["the ___ sat", "--blank", "--candidates", "cat,dog"],
        ),
    ]
    for body, args in cases:
        reply = server.client.post("/predict", json=body)
        assert reply.status_code == 200, reply.text
        got, want = reply.json()["predictions"], cli_predict(tiny_model, *args)
        assert [p["text"] for p in got] == [p["text"] for p in want]  # type: ignore[union-attr]
        assert [p["logprob"] for p in got] == pytest.approx([p["logprob"] for p in want], abs=1e-6)  # type: ignore[union-attr]
    mixed = server.client.post("/predict", json={"prefix": "the ca", "k": 4, "ngram_weight": 0.5}).json()
    plain = server.client.post("/predict", json={"prefix": "the ca", "k": 4, "ngram_weight": 0}).json()
    assert mixed != plain


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ({"prefix": "the", "k": 0}, 422, "k: must be in [1, 100_000]"),
        ({"prefix": "the", "k": 10_000}, 422, "k: 10,000 is over the limit of 100 (charlm serve --max-predict-k)"),
        ({"prefix": "the", "k": 10**6}, 422, "k: must be in [1, 100_000]"),
        ({"prefix": "x" * 5000}, 413, "--max-chars"),
        ({"prefix": "the", "ngram_weight": 2}, 422, "ngram_weight: must be in [0, 1]"),
        ({"prefix": "the", "ngram_weight": "sometimes"}, 422, "ngram_weight"),
        ({"prefix": "the", "candidates": ["a"]}, 422, "blank"),
        ({"prefix": "no gap", "blank": True, "candidates": ["a"]}, 400, "___"),
        ({"prefix": "the", "colour": "red"}, 422, "colour"),
        ({"prefix": 3}, 422, "prefix"),
        ({}, 422, "prefix"),
    ],
)
def test_bad_predict_requests_are_one_line_4xx(
    server: Server, body: dict[str, object], status: int, names: str
) -> None:
    reply = server.client.post("/predict", json=body)
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert names in error and "\n" not in error and "Traceback" not in error
    assert server.client.get("/health").json() == {"status": "ok"}


def test_predict_rejects_a_body_that_is_not_json(server: Server) -> None:
    reply = server.client.post("/predict", content=b"{prefix", headers={"content-type": "application/json"})
    assert reply.status_code in (400, 422) and "JSON" in reply.json()["error"]
    assert server.client.get("/health").json() == {"status": "ok"}
