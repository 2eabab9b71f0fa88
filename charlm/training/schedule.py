"""Learning-rate schedules, validation tracking (best model, plateau, early stopping) and the step guard.

* ``lr_factor``: linear warm-up, then constant, cosine decay to 10% over the budget's progress, or
  (``plateau``) constant times the tracker's scale, halved after ``PLATEAU_EVALS`` evaluations
  without a new best.
* ``ValTracker``: best validation loss and step, evaluations since the best, ``--patience``.
* ``StepGuard``: a step whose loss or gradient is not finite, or whose loss jumps far above the
  running average (an explosion), is skipped; ``ROLLBACK_AFTER`` such steps in a row ask for a roll
  back to the last good checkpoint with the learning rate lowered by ``LR_CUT``.

All of their state is plain numbers (``state_dict``), saved in trainer_state.pt for exact resume.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

PLATEAU_EVALS = 2
PLATEAU_CUT = 0.5
ROLLBACK_AFTER = 3
MAX_ROLLBACKS = 5
LR_CUT = 0.5
SPIKE_NATS = 3.0


def lr_factor(schedule: str, warmup: int, step: int, progress: float, scale: float = 1.0) -> float:
    """The multiplier of the peak learning rate at ``step`` (``progress`` of the budget, 0..1)."""
    warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
    if schedule == "cosine":
        return scale * warm * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))))
    return scale * warm


@dataclass
class ValTracker:
    """Best validation loss so far, the plateau scale and early stopping."""

    best: float = math.inf
    best_step: int = 0
    since_best: int = 0
    plateau_scale: float = 1.0

    def update(self, val: float, step: int, schedule: str) -> bool:
        """Record an evaluation; True when it is a new best."""
        if val < self.best:
            self.best, self.best_step, self.since_best = val, step, 0
            return True
        self.since_best += 1
        if schedule == "plateau" and self.since_best % PLATEAU_EVALS == 0:
            self.plateau_scale *= PLATEAU_CUT
        return False

    def exhausted(self, patience: int | None) -> bool:
        return patience is not None and self.since_best >= patience

    def state_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


@dataclass
class StepGuard:
    """Decides whether a step's update is applied, and when to roll back."""

    skipped: int = 0  # all skipped steps of the run
    in_row: int = 0  # bad steps since the last good one
    rollbacks: int = 0
    lr_scale: float = 1.0  # lowered at each roll back, kept across resumes

    def verdict(self, loss: float, grad_norm: float, average: float, warmed_up: bool) -> str | None:
        """None for a good step, else why it is skipped ("non-finite loss", ...)."""
        if not math.isfinite(loss):
            return "non-finite loss"
        if not math.isfinite(grad_norm):
            return "non-finite gradient"
        if warmed_up and math.isfinite(average) and loss > average + max(average, SPIKE_NATS):
            return f"loss explosion ({loss:.2f} vs running {average:.2f})"
        return None

    def record(self, bad: bool) -> bool:
        """Count a step; True when bad steps have repeated enough to roll back."""
        if not bad:
            self.in_row = 0
            return False
        self.skipped += 1
        self.in_row += 1
        return self.in_row >= ROLLBACK_AFTER

    def state_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
