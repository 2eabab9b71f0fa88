"""How the corpus passes grow with the text: ``python -m bench.scale [--sizes 10M,100M,1G]`` (``make bench``).

For each size a text is written to a scratch directory (never committed): by default a seeded
generator of Zipf-distributed words (the same alphabet and vocabulary at every size, so only the
length changes), or with ``--source python`` the machine's Python sources concatenated (repeated
when they run out). On each text, in its own process (wall time and peak RSS from ``os.wait4``):

* ``charlm tokenize TEXT --json`` (char level: counting, then encoding for the statistics);
* ``charlm train TEXT --steps 20`` with a 1 x 64 model and ``--ngram-order 0``: train's corpus pass
  (vocabulary, token cache, split) plus 20 steps, validation and the end-of-run statistics;
* ``charlm ngram build`` of that run (its n-gram, counted from the token cache);
* ``charlm eval TEXT`` with that model (the whole text, streamed).

Per command: seconds per MB at each size, the slope of a least-squares line through (MB, seconds)
(the marginal cost, start-up excluded) and the ratio of seconds per MB at the largest size to that at
the smallest. Writes ``bench/results/scale-<time>.json`` and ``bench/results/scale.json`` (the
latest, which ``make docs`` draws into docs/performance.md). A 1 GB row needs about 3 GB of scratch
space and, on 2 cores, an hour or more (eval scores a billion tokens). Every command runs on
``--threads`` torch threads (default 1: a 1 x 64 model is fastest on one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.run import RESULTS, child

SIZES = "10M,100M,1G"
COMMANDS = ("tokenize", "train", "ngram", "eval")
MODEL = ["--layers", "1", "--hidden", "64", "--embed", "32", "--dropout", "0", "--seq-len", "64", "--batch-size", "32"]


def parse_size(text: str) -> int:
    """``10M`` -> 10,000,000 bytes (K, M, G: powers of 1000, as the issue's table counts them)."""
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:], 1)
    number = float(text[:-1] if text[-1:] in "KMG" else text)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"a size must be positive, got {text}")
    return int(number * scale)


def _generated(seed: int) -> Iterator[bytes]:
    """An endless seeded text: lines of 4-20 words drawn from a Zipf law over 20,000 made-up words."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    lengths = rng.integers(1, 10, size=20_000)
    words = np.array(["".join(rng.choice(letters, size=n)) for n in lengths])
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    while True:
        ids = rng.choice(len(words), size=200_000, p=weights)
        ends = np.cumsum(rng.integers(4, 21, size=len(ids) // 4))
        ends = ends[ends < len(ids)]
        lines = [" ".join(part) for part in np.split(words[ids], ends)]
        yield ("\n".join(lines) + "\n").encode()


def _python_sources() -> Iterator[bytes]:
    """The .py files under /usr/lib/python3* (else this Python's lib), sorted, repeated without end."""
    roots = sorted(Path("/usr/lib").glob("python3*")) or [Path(sys.base_prefix) / "lib"]
    files = sorted(f for root in roots for f in root.rglob("*.py") if f.is_file())
    if not files:
        raise SystemExit("bench.scale: no Python sources found; use --source generated")
    while True:
        for f in files:
            data = f.read_bytes().decode("utf-8", "replace").replace("\x00", "")
            yield (data if data.endswith("\n") else data + "\n").encode()


def write_text(path: Path, size: int, source: str, seed: int) -> int:
    """``size`` bytes of text (cut at a line end) from ``source``; the bytes written."""
    pieces = _generated(seed) if source == "generated" else _python_sources()
    written = 0
    with open(path, "wb") as fh:
        for piece in pieces:
            if written + len(piece) >= size:
                piece = piece[: size - written]
                piece = piece[: piece.rfind(b"\n") + 1]
                fh.write(piece)
                return written + len(piece)
            fh.write(piece)
            written += len(piece)
    return written


def _measure(argv: list[str], cwd: Path) -> dict[str, Any]:
    run = child([sys.executable, "-m", "charlm", *argv], cwd=cwd)
    out: dict[str, Any] = {"wall_s": round(run["wall_s"], 2), "peak_rss_mib": round(run["peak_rss_mib"], 1)}
    if run["rc"] != 0:
        out["error"] = (run["stderr"].strip().splitlines() or ["failed"])[-1]
    return out


def one_size(size: int, scratch: Path, source: str, seed: int) -> dict[str, Any]:
    """Write a text of ``size`` bytes and time tokenize, train, ngram build and eval on it."""
    text, run = scratch / f"text-{size}.txt", scratch / f"run-{size}"
    started = time.perf_counter()
    actual = write_text(text, size, source, seed)
    row: dict[str, Any] = {"size": size, "bytes": actual, "mb": actual / 1e6, "write_s": time.perf_counter() - started}
    model = ["--steps", "20", "--eval-every", "20", "--ngram-order", "0", "--device", "cpu", *MODEL]
    commands = {
        "tokenize": ["tokenize", str(text), "--json", "--top", "5"],
        "train": ["train", str(text), "--out", str(run), "--force", *model],
        "ngram": ["ngram", "build", "--model", str(run), "--json"],
        "eval": ["eval", str(text), "--model", str(run), "--json", "--device", "cpu"],
    }
    for name in COMMANDS:
        row[name] = _measure(commands[name], scratch)
        print(f"  {name}: {row[name]}", file=sys.stderr, flush=True)
    text.unlink(missing_ok=True)
    shutil.rmtree(run, ignore_errors=True)
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per command: seconds per MB at each size, the least-squares slope (s/MB) and the largest/smallest ratio."""
    out: dict[str, Any] = {}
    for name in COMMANDS:
        points = [(r["mb"], r[name]["wall_s"]) for r in rows if "error" not in r[name]]
        if not points:
            continue
        per_mb = [s / mb for mb, s in points]
        slope = float(np.polyfit(*zip(*points, strict=True), 1)[0]) if len(points) > 1 else per_mb[0]
        out[name] = {"s_per_mb": per_mb, "slope_s_per_mb": slope, "ratio_largest_smallest": per_mb[-1] / per_mb[0]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=SIZES, help=f"comma-separated sizes, K/M/G [default: {SIZES}]")
    parser.add_argument("--source", choices=("generated", "python"), default="generated", help="the text")
    parser.add_argument("--seed", type=int, default=1234, help="the generator's seed")
    parser.add_argument("--scratch", type=Path, default=None, help="where the texts go [default: a temp dir]")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every command [default: 1]")
    parser.add_argument("--note", default="", help="a sentence shown under the docs table (where it was run)")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = os.environ["CHARLM_THREADS"] = str(args.threads)  # the children inherit it
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    rows = []
    with tempfile.TemporaryDirectory(prefix="charlm-scale-", dir=args.scratch) as tmp:
        for size in sizes:
            print(f"bench.scale: {size / 1e6:g} MB", file=sys.stderr, flush=True)
            rows.append(one_size(size, Path(tmp), args.source, args.seed))
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": _cpus()},
        "source": args.source,
        "seed": args.seed,
        "model": " ".join(MODEL),
        "threads": args.threads,
        "note": args.note,
        "rows": rows,
        "summary": summarise(rows),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for path in (args.out / f"scale-{stamp}.json", args.out / "scale.json"):
        path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(args.out / "scale.json")
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    raise SystemExit(main())
