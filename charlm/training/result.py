"""What a run reports when it ends, the command that resumes it, and how much of its budget is spent."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from pathlib import Path

from charlm.errors import CharlmError
from charlm.training.claim import Claim, StartInterrupted
from charlm.training.config import TrainConfig
from charlm.training.state import RunState


@dataclass(frozen=True)
class TrainResult:
    """What a finished run achieved and where it lives."""

    run_dir: Path
    steps: int
    tokens: int
    elapsed_s: float
    train_loss: float
    best_val_loss: float
    best_val_bpc: float
    tokens_per_s: float
    reports: bool = True  # False in the other processes of a distributed run: only rank 0 reports
    best_val_lines_bpc: float = math.nan  # the best checkpoint's validation bits/char, every line from the start


def resume_command(run_dir: Path) -> str:
    return f"charlm train --resume {shlex.quote(str(run_dir))}"


def interrupted(claim: Claim | None, run_dir: Path, step: int) -> CharlmError:
    """Ctrl-C or SIGTERM that stopped the run at once: before its first checkpoint nothing was written
    (the staged run is abandoned: "rerun"), after it the last checkpoint is intact ("resume")."""
    if claim is not None and claim.staging is not None:
        return StartInterrupted(claim.final)
    return CharlmError(
        f"interrupted at step {step}; the last checkpoint is intact; resume with: {resume_command(run_dir)}", 130
    )


def budget_spent(config: TrainConfig, run: RunState, world: int) -> float:
    """How much of the budget is spent (the first of steps / epochs / time to run out ends the run)."""
    parts = [schedule_spent(config, run, world)]
    if config.time_budget:
        parts.append(run.elapsed / config.time_budget)
    return max(parts)


def schedule_spent(config: TrainConfig, run: RunState, world: int) -> float:
    """Progress the learning-rate schedule follows: steps/epochs when given (never the clock), else time."""
    parts = []
    if config.steps:
        parts.append(run.step / config.steps)
    if config.epochs:
        parts.append(run.tokens / (config.epochs * run.stream.numel * world))
    if not parts and config.time_budget:
        parts.append(run.elapsed / config.time_budget)
    return max(parts or [0.0])
