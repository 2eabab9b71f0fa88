"""Where a charlm training step spends its time beyond the plain reference's: torch.profiler on both.

``python -m bench.profile_step [--steps 4] [--warm 2] [--precision fp32] [--batch 64] [--hidden 512]``
warms both contenders of ``bench.workloads train char`` up, profiles ``--steps`` steps of each and
prints, per contender, the wall time per step and the operators with the most self CPU time; then
the operators whose time per step charlm spends more of than the reference (the overhead to look
at). Relative fractions survive a niced or loaded run; absolute times do not.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from torch.profiler import ProfilerActivity, profile

from bench.interleave import CharlmSteps, Contender
from bench.workloads import DEVICE, SHAPES, _charlm_config, reference_on_corpus


def per_op(contender: Contender, steps: int) -> tuple[float, dict[str, float]]:
    """Wall seconds per step and self CPU seconds per step of each operator, over ``steps`` steps."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEVICE.type == "cuda" else [])
    with profile(activities=activities) as prof:
        started = time.perf_counter()
        contender(steps)
        wall = (time.perf_counter() - started) / steps
    ops = {e.key: e.self_cpu_time_total / 1e6 / steps for e in prof.key_averages()}
    return wall, ops


def show(name: str, wall: float, ops: dict[str, float], top: int) -> None:
    print(f"\n{name}: {wall * 1000:.1f} ms/step (under the profiler)")
    for key, seconds in sorted(ops.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {seconds * 1000:8.2f} ms  {100 * seconds / wall:5.1f}%  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warm", type=int, default=2)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--batch", type=int, default=SHAPES["char"]["batch_size"])
    parser.add_argument("--hidden", type=int, default=SHAPES["char"]["hidden"])
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    shape: dict[str, Any] = {**SHAPES["char"], "batch_size": args.batch, "hidden": args.hidden}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus, ref = reference_on_corpus(root, shape)
        charlm = CharlmSteps(_charlm_config(corpus, root, shape, args.precision))
        try:
            ref(args.warm)
            charlm(args.warm)
            ref_wall, ref_ops = per_op(ref, args.steps)
            ch_wall, ch_ops = per_op(charlm, args.steps)
        finally:
            charlm.close()
    show("reference fp32", ref_wall, ref_ops, args.top)
    show(f"charlm {args.precision}", ch_wall, ch_ops, args.top)
    extra = {k: v - ref_ops.get(k, 0.0) for k, v in ch_ops.items()}
    print(f"\ncharlm - reference: {(ch_wall - ref_wall) * 1000:.1f} ms/step; operators charlm spends more on:")
    for key, seconds in sorted(extra.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {seconds * 1000:8.2f} ms  {key}")


if __name__ == "__main__":
    main()
