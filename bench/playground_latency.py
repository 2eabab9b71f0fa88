"""Keystroke-to-list latency of the playground's type-ahead, in headless Chromium against ``charlm serve``.

    python -m bench.playground_latency --model DIR [--gap-ms 120] [--threads 2]

Starts ``charlm serve`` on 127.0.0.1 (a free port), opens ``GET /`` and types a paragraph into the
type-ahead box one key at a time, ``--gap-ms`` apart (a brisk typist). The page records, for each
list it shows, the time from the keystroke that produced its text to the list being in the page
(``window.charlmLatencies``: the first list, the next characters; a char model's whole words
follow). Keystrokes overtaken by the next one before their answer came are cancelled (the page
aborts them, the server skips them) and have no list; their count is reported. Also reports the
page's total size: the bytes of ``/``, its script and its style as served. Writes
``bench/results/playground_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PARAGRAPH = (
    "First Citizen: Before we proceed any further, hear me speak. You are all resolved rather to die "
    "than to famish? Let us kill him, and we'll have corn at our own price."
)


def page_bytes(url: str) -> dict[str, int]:
    """Bytes of each file the page loads, as served (GET /, its script and its style)."""
    sizes = {}
    for path in ("/", "/static/playground.js", "/static/playground.css"):
        with urllib.request.urlopen(url + path) as response:
            sizes[path] = len(response.read())
    return sizes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(model: str, gap_ms: float, threads: int | None) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests import browser
    from tests.test_serve import Server

    why = browser.missing()
    if why is not None:
        raise SystemExit(f"playground_latency: {why}")
    server = Server(Path(model), *(("--threads", str(threads)) if threads else ()))
    driver = browser.chromium()
    try:
        driver.get(server.url + "/")
        ready = lambda: driver.find_element("tag name", "body").get_attribute("data-ready") == "true"  # noqa: E731
        while not ready():
            time.sleep(0.05)
        box = driver.find_element("css selector", "[data-testid=prefix]")
        for key in PARAGRAPH:
            box.send_keys(key)
            time.sleep(gap_ms / 1000)
        time.sleep(1.0)
        latencies = driver.execute_script("return window.charlmLatencies")
        sizes = page_bytes(server.url)
    finally:
        driver.quit()
        server.stop()
    return {
        "model": model,
        "keystrokes": len(PARAGRAPH),
        "lists": len(latencies),
        "gap_ms": gap_ms,
        "median_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies),
        "page_bytes": sum(sizes.values()),
        "files": sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model directory to serve")
    parser.add_argument("--gap-ms", type=float, default=120.0, help="time between keystrokes")
    parser.add_argument("--threads", type=int, default=None, help="the server's torch threads")
    args = parser.parse_args()
    result = measure(args.model, args.gap_ms, args.threads)
    out = ROOT / "bench" / "results" / "playground_latency.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
