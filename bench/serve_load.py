"""Load test of ``charlm serve`` on loopback: N concurrent clients for T seconds against one model.

    python -m bench.serve_load --model DIR [--clients 32] [--seconds 30] [--per-request 4] [--max-batch 64]

Starts the server in a subprocess on 127.0.0.1 (a free port), then N asyncio clients each post
``--per-request`` sentences (lines of tinyshakespeare validation) to ``/score`` in a loop for T
seconds. Reports served sentences/s, request latency p50/p99 and errors, beside the in-process
batched scoring throughput (``Model.score`` over the same sentences in batches of ``--max-batch``)
measured in the same run, and writes ``bench/results/serve_load.json``. The clients run on the same
machine as the server, so on a small machine they take part of its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import DATA

ROOT = Path(__file__).resolve().parents[1]


def sentences(data: Path, count: int = 4096) -> list[str]:
    text = (data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    lines = [line for line in text[int(len(text) * 0.95) :].split("\n") if line.strip()]
    return [lines[i % len(lines)] for i in range(count)]


def in_process(model: str, texts: list[str], batch: int, seconds: float) -> float:
    """Sentences/s of ``Model.score`` in batches of ``batch``, for about ``seconds``."""
    from charlm.api import load

    lm = load(model, device="cpu")
    lm.score(texts[:batch], batch_size=batch)  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        start = done % len(texts)
        chunk = texts[start : start + batch]  # one batch as the server forms it: no sorting across batches
        lm.score(chunk, batch_size=batch)
        done += len(chunk)
    return done / (time.perf_counter() - started)


def start_server(model: str, max_batch: int, threads: int | None, wait_ms: float) -> tuple[subprocess.Popen[str], str]:
    extra = ["--threads", str(threads)] if threads else []
    extra += ["--batch-wait-ms", str(wait_ms)]
    command = [sys.executable, "-m", "charlm", "serve", "--model", model, "--port", "0", "--max-batch", str(max_batch)]
    proc = subprocess.Popen([*command, *extra], stderr=subprocess.PIPE, text=True, env={**os.environ})
    line = proc.stderr.readline() if proc.stderr else ""
    found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not found:
        proc.kill()
        raise SystemExit(f"server did not start: {line}")
    return proc, f"http://127.0.0.1:{found.group(1)}"


async def clients(url: str, texts: list[str], n: int, seconds: float, per_request: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    served = 0
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        while True:  # wait until healthy
            try:
                if (await client.get("/health")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.2)
        stop = time.perf_counter() + seconds

        async def one(k: int) -> None:
            nonlocal served
            i = k * per_request
            while time.perf_counter() < stop:
                batch = [texts[(i + j) % len(texts)] for j in range(per_request)]
                i += n * per_request
                started = time.perf_counter()
                try:
                    response = await client.post("/score", json={"sentences": batch})
                    ok = response.status_code == 200 and len(response.json()["scores"]) == per_request
                except httpx.HTTPError as exc:
                    ok, response = False, exc
                latencies.append(time.perf_counter() - started)
                if ok:
                    served += per_request
                else:
                    errors.append(str(response)[:200])

        began = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(n)))
        elapsed = time.perf_counter() - began
        batches = (await client.get("/info")).json()["batches"]
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")  # noqa: E731
    return {
        "requests": len(latencies),
        "sentences_per_s": served / elapsed,
        "p50_ms": 1000 * pick(0.50),
        "p99_ms": 1000 * pick(0.99),
        "errors": len(errors),
        "error_samples": errors[:3],
        "batches": batches,
        "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--per-request", type=int, default=4)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--batch-wait-ms", type=float, default=5.0, help="The server's --batch-wait-ms.")
    parser.add_argument("--threads", type=int, default=None, help="Torch threads (in-process and server).")
    args = parser.parse_args()
    texts = sentences(args.data)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    baseline = in_process(args.model, texts, args.max_batch, min(args.seconds, 15.0))
    proc, url = start_server(args.model, args.max_batch, args.threads, args.batch_wait_ms)
    try:
        served = asyncio.run(clients(url, texts, args.clients, args.seconds, args.per_request))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    report = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "in_process_sentences_per_s": baseline,
        "served": served,
        "ratio": served["sentences_per_s"] / baseline,
        "server_exit_code": code,
    }
    print(
        f"{args.clients} clients x {served['seconds']:.0f} s, {args.per_request} sentences/request: "
        f"{served['sentences_per_s']:.1f} sentences/s served ({100 * report['ratio']:.0f}% of in-process "
        f"{baseline:.1f}/s), p50 {served['p50_ms']:.0f} ms, p99 {served['p99_ms']:.0f} ms, "
        f"{served['errors']} errors, {served['requests']} requests in {served['batches']} batches; server exit {code}"
    )
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "serve_load.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
