"""Interleaved training-speed timing: contenders warmed up until their rate is stable, then timed round by round.

A contender is a callable that runs ``n`` more training steps and returns when they are done (GPU
work synchronised); it keeps its model, optimizer and data position between calls, so a round costs
only its steps (no start-up). The protocol, used by ``bench.workloads train``:

1. warm-up: rounds of ``steps`` steps for every contender in turn, until each one's last two rounds
   agree within ``tolerance`` (5%), at most ``max_warm`` rounds;
2. timing: ``rounds`` rounds, each contender in turn within a round (reference, charlm fp32, charlm
   bf16, reference, ...), so a slow spell of the machine hits all of them;
3. report: per contender the median tokens/s and its spread (min-max), the ratio of medians against
   the reference, and the median and range of the per-round ratios (same round, same conditions).

:class:`CharlmSteps` drives charlm's own training loop step (:meth:`charlm.training.loop.Trainer.step`:
the step, its guard, the step event and its metrics line) on a real run directory.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Contender = Callable[[int], None]


def rate(contender: Contender, steps: int, tokens_per_step: int) -> float:
    """Tokens/s of ``steps`` more steps of ``contender``."""
    started = time.perf_counter()
    contender(steps)
    return tokens_per_step * steps / (time.perf_counter() - started)


def warm_up(
    contenders: dict[str, tuple[Contender, int]], steps: int, tolerance: float = 0.05, max_warm: int = 6
) -> int:
    """Run warm-up rounds until every contender's last two rounds agree within ``tolerance``; the rounds run."""
    seen: dict[str, list[float]] = {name: [] for name in contenders}
    for done in range(1, max_warm + 1):
        for name, (contender, tokens) in contenders.items():
            seen[name].append(rate(contender, steps, tokens))
        if done >= 2 and all(abs(r[-1] / r[-2] - 1.0) <= tolerance for r in seen.values()):
            return done
    return max_warm


def interleave(contenders: dict[str, tuple[Contender, int]], rounds: int, steps: int) -> dict[str, list[float]]:
    """Tokens/s of every contender in every round, each round running them in turn."""
    out: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, (contender, tokens) in contenders.items():
            out[name].append(rate(contender, steps, tokens))
    return out


def spread(values: list[float]) -> dict[str, float]:
    """Median, min, max and the range relative to the median."""
    mid = statistics.median(values)
    return {"median": mid, "min": min(values), "max": max(values), "rel_range": (max(values) - min(values)) / mid}


def ratios(rates: dict[str, list[float]], base: str = "reference") -> dict[str, dict[str, float]]:
    """Per contender: ratio of medians against ``base`` and the spread of the per-round ratios."""
    ref = rates[base]
    out = {}
    for name, values in rates.items():
        per_round = [v / r for v, r in zip(values, ref, strict=True)]
        out[name] = {"ratio": statistics.median(values) / statistics.median(ref), "per_round": spread(per_round)}
    return out


class CharlmSteps:
    """charlm's training loop as a contender: a real run (claimed directory, Trainer) stepped on demand."""

    def __init__(self, config: Any) -> None:
        from charlm.training.claim import claim_run_dir
        from charlm.training.loop import Trainer
        from charlm.training.setup import open_run

        self._stack = contextlib.ExitStack()
        claim = self._stack.enter_context(claim_run_dir(config))
        self.trainer = Trainer(*open_run(config, claim=claim), None)
        self.trainer.run.model.train()
        self.tokens_per_step = config.batch_size * config.seq_len
        self._started = time.perf_counter()

    def __call__(self, steps: int) -> None:
        from bench.reference import sync

        for _ in range(steps):
            self.trainer.step(self._started, 0.0, 0)
        sync(self.trainer.ctx.device)

    def val_loss(self) -> float:
        from charlm.training.data import evaluate

        ctx, model = self.trainer.ctx, self.trainer.run.model
        loss = evaluate(model, ctx.val_data, ctx.config.seq_len, ctx.precision)
        model.train()
        return loss

    @property
    def run_dir(self) -> Path:
        return self.trainer.ctx.run_dir

    def close(self) -> None:
        self._stack.close()
