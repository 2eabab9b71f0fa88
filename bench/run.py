"""Run the benchmark suite and write ``bench/results/<time>.json`` and ``bench/results/latest.md``.

``python -m bench.run`` (about 15 minutes on 2 cores; 10 of them are the quality-at-a-budget run)
or ``python -m bench.run --quick`` (about 6 minutes: fewer rounds, a 2-minute quality run). Training
speed is timed interleaved after a warm-up (:mod:`bench.interleave`): median and min-max per contender.
Each measurement is a subprocess; its peak RSS comes from ``os.wait4``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import SHAKESPEARE
from bench.report import markdown

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def child(argv: list[str], cwd: Path | None = None) -> dict[str, Any]:
    """Run ``argv`` to the end; its wall time, its own peak RSS (MiB, via ``os.wait4``), exit code, output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd or ROOT, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "wall_s": wall,
            "peak_rss_mib": usage.ru_maxrss / 1024.0,
            "rc": proc.returncode,
            "stdout": out.read(),
            "stderr": err.read()[-2000:],
        }


def workload(name: str, *args: object) -> dict[str, Any]:
    """A bench.workloads measurement in its own process: its JSON plus wall time and peak RSS."""
    run = child([sys.executable, "-m", "bench.workloads", name, *map(str, args)])
    if run["rc"] != 0:
        return {"error": run["stderr"].strip().splitlines()[-1:] or ["failed"], "peak_rss_mib": run["peak_rss_mib"]}
    return {
        **json.loads(run["stdout"].strip().splitlines()[-1]),
        "wall_s": run["wall_s"],
        "peak_rss_mib": run["peak_rss_mib"],
    }


def quality(minutes: float) -> dict[str, Any]:
    """``charlm train input.txt --time Nm`` with every other option at its default (the recipe for N minutes)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        run = child(
            [
                sys.executable,
                "-m",
                "charlm",
                "train",
                str(SHAKESPEARE),
                "--out",
                str(out),
                "--time",
                f"{minutes * 60:g}s",
            ],
            cwd=Path(tmp),
        )
        if run["rc"] != 0:
            return {"error": run["stderr"].strip().splitlines()[-1:], "peak_rss_mib": run["peak_rss_mib"]}
        config = json.loads((out / "config.json").read_text())
    summary = config["summary"]
    return {
        "minutes": minutes,
        "val_nats": summary["best_val_loss"],
        "val_bpc": summary["best_val_bpc"],
        "steps": summary["step"],
        "precision": summary["precision"],
        "parameters": summary["parameters"],
        "recipe": {
            "name": (config["train"].get("recipe") or {}).get("name", "default recipe"),
            **{
                k: config["train"][k]
                for k in (
                    "layers",
                    "hidden",
                    "embed",
                    "seq_len",
                    "batch_size",
                    "lr",
                    "dropout",
                    "schedule",
                    "precision",
                )
            },
        },
        "wall_s": run["wall_s"],
        "peak_rss_mib": run["peak_rss_mib"],
    }


def startup(model_dir: Path) -> dict[str, Any]:
    """Best-of-3 wall time and peak RSS of ``charlm --help`` and ``charlm score "one sentence"``.

    A bare ``python -c pass`` is timed beside them: the interpreter's own start-up on this machine.
    """
    cli = [sys.executable, "-m", "charlm"]
    out = {}
    for name, argv in (
        ("python", [sys.executable, "-c", "pass"]),
        ("help", [*cli, "--help"]),
        ("score", [*cli, "score", "one sentence", "--model", str(model_dir)]),
    ):
        runs = [child(argv) for _ in range(3)]
        best = min(runs, key=lambda r: r["wall_s"])
        out[name] = {"wall_s": best["wall_s"], "peak_rss_mib": best["peak_rss_mib"], "rc": best["rc"]}
    return out


def tiny_model(root: Path) -> Path:
    run = child(
        [
            sys.executable,
            "-m",
            "charlm",
            "train",
            str(SHAKESPEARE),
            "--out",
            str(root / "m"),
            "--steps",
            "1",
            "--hidden",
            "64",
            "--embed",
            "16",
        ],
        cwd=root,
    )
    if run["rc"] != 0:
        raise SystemExit(f"bench: could not build a model: {run['stderr'][-500:]}")
    return root / "m"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short version (under 4 minutes)")
    parser.add_argument("--minutes", type=float, default=None, help="quality budget [10; quick: 2]")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    args = parser.parse_args()
    os.environ["BENCH_DEVICE"] = args.device
    probe = _probe(args.device)
    gpu = probe["cuda"]
    if not SHAKESPEARE.exists():
        raise SystemExit(f"bench: {SHAKESPEARE} is missing (tinyshakespeare is needed)")
    # rounds x steps per round for each contender of the train workloads, after their warm-up rounds
    rounds, char_steps, word_steps = (5, 4, 4) if args.quick else (7, 8, 8)
    minutes = args.minutes or (2.0 if args.quick else 10.0)
    started = time.time()
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "device": probe["name"],
        },
    }
    steps = [
        ("peak", lambda: workload("peak")),
        ("train_char", lambda: workload("train", "char", rounds, char_steps)),
        ("train_word", lambda: workload("train", "word", rounds, word_steps)),
        *([("train_word3x1150", lambda: workload("train", "word3x1150", rounds, word_steps))] if gpu else []),
        ("score", lambda: workload("score", 1000)),
        ("sample", lambda: workload("sample", 600 if args.quick else 2000, 50 if args.quick else 200)),
        ("quality", lambda: quality(minutes)),
    ]
    for name, fn in steps:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        report[name] = fn()
    with tempfile.TemporaryDirectory() as tmp:
        report["startup"] = startup(tiny_model(Path(tmp)))
    report["total_s"] = time.time() - started
    write(report, args.out)


def _probe(device: str) -> dict[str, Any]:
    """Whether the bench runs on CUDA, and the device's name, asked of a child process: the parent
    never imports torch, or every child forked from it would start with torch's pages in its peak RSS."""
    code = (
        f"import json, platform, torch; from charlm.runtime import pick_device; d = pick_device({device!r}); "
        "print(json.dumps({'cuda': d.type == 'cuda', 'name': torch.cuda.get_device_name(d) "
        "if d.type == 'cuda' else platform.processor() or 'cpu'}))"
    )
    run = child([sys.executable, "-c", code])
    if run["rc"] != 0:
        raise SystemExit(f"bench: cannot use device {device!r}: {run['stderr'].strip().splitlines()[-1:]}")
    return json.loads(run["stdout"].strip().splitlines()[-1])


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stamp = report["when"].replace(":", "").replace("-", "")
    name = f"{stamp}{'-quick' if report['quick'] else ''}.json"
    (out / name).write_text(json.dumps(report, indent=1, default=str) + "\n")
    table = markdown(report)
    (out / "latest.md").write_text(table)
    print(table)
    print(f"bench: wrote {out / name}", file=sys.stderr)


if __name__ == "__main__":
    main()
