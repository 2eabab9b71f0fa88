"""Tune the neural cache (``charlm eval --cache``) on held-out text, then report it on other text.

``python -m bench.cache_sweep MODEL TUNE.txt REPORT.txt`` evaluates TUNE.txt without the cache and
over a grid of theta x lambda (at ``--size``), then over cache sizes at the best pair; then REPORT.txt
without and with the chosen settings. Prints a markdown table per file (perplexity, bits/char,
tokens/s relative to the plain run in the same process) and the chosen settings. Tune on text you
do not report on: choosing theta and lambda on the test file itself flatters the cache.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import charlm
from charlm.runtime import set_threads


def run(lm: charlm.Model, path: Path, size: int | None, theta: float, lam: float) -> dict[str, float]:
    start = time.perf_counter()
    score = lm.eval(path, cache=size, cache_theta=theta, cache_lambda=lam)
    seconds = time.perf_counter() - start
    return {"ppl": score.ppl, "bpc": score.bpc, "tps": score.tokens / seconds}


def table(title: str, rows: list[tuple[str, dict[str, float]]]) -> str:
    base = rows[0][1]["tps"]
    lines = [f"\n{title}\n", "| cache | perplexity | bits/char | speed vs no cache |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {r['ppl']:.2f} | {r['bpc']:.4f} | {r['tps'] / base:.2f}x |" for name, r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("tune", type=Path)
    parser.add_argument("report", type=Path)
    parser.add_argument("--size", type=int, default=2000, help="cache size for the theta x lambda grid")
    parser.add_argument("--thetas", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5, 0.8])
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2, 0.3])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000, 2000, 4000])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    lm = charlm.load(args.model, device="cpu")
    rows = [("none", run(lm, args.tune, None, 0.0, 0.0))]
    grid = {(t, la): run(lm, args.tune, args.size, t, la) for t, la in itertools.product(args.thetas, args.lambdas)}
    rows += [(f"N {args.size}, theta {t}, lambda {la}", r) for (t, la), r in grid.items()]
    theta, lam = min(grid, key=lambda p: grid[p]["ppl"])
    sized = [(n, run(lm, args.tune, n, theta, lam)) for n in args.sizes]
    rows += [(f"N {n}, theta {theta}, lambda {lam}", r) for n, r in sized]
    size = min(sized, key=lambda p: p[1]["ppl"])[0]
    print(table(f"tuning on {args.tune}", rows), flush=True)
    chosen = [("none", run(lm, args.report, None, 0.0, 0.0))]
    chosen += [
        (f"N {n}, theta {theta}, lambda {lam}", run(lm, args.report, n, theta, lam))
        for n in sorted({size, *args.sizes})
    ]
    print(table(f"reporting on {args.report} (chosen on {args.tune}: N {size}, theta {theta}, lambda {lam})", chosen))


if __name__ == "__main__":
    main()
