"""Before/after of charlm's training step: the per-parameter AdamW (before) against foreach (now), interleaved.

``python -m bench.step_ab [--rounds 4] [--steps 2] [--precisions fp32,bf16]`` times the plain reference
and, per precision, charlm's loop step with ``foreach=False`` (the optimizer charlm used before) and as
it is now, on the char 2 x 512 shape of ``bench.workloads train char``, with the protocol of
:mod:`bench.interleave`, and prints one JSON object: per contender the median tokens/s with min-max and
the ratio of medians against the reference. The load average is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.interleave import CharlmSteps, interleave, ratios, spread, warm_up
from bench.workloads import SHAPES, _charlm_config, reference_on_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--max-warm", type=int, default=3)
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args()
    shape: dict[str, Any] = SHAPES["char"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus, ref = reference_on_corpus(root, shape)
        contenders: dict[str, tuple[Any, int]] = {"reference": (ref, ref.tokens_per_step)}
        runs = []
        for precision in args.precisions.split(","):
            for label, foreach in (("before", False), ("now", True)):
                where = root / f"{precision}-{label}"
                where.mkdir()
                steps = CharlmSteps(_charlm_config(corpus, where, shape, precision))
                for group in steps.trainer.run.optimizer.param_groups:
                    group["foreach"] = foreach
                runs.append(steps)
                contenders[f"{precision} {label}"] = (steps, steps.tokens_per_step)
        try:
            warm = warm_up(contenders, args.steps, max_warm=args.max_warm)
            rates = interleave(contenders, args.rounds, args.steps)
        finally:
            for steps in runs:
                steps.close()
    compared = ratios(rates)
    out = {
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "warmup_rounds": warm,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        **{name: {**spread(values), "ratio": compared[name]["ratio"]} for name, values in rates.items()},
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
