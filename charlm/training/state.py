"""RunState: everything about a training run that changes from step to step, and its state_dict.

The trainer reads and writes only this object between steps, so what trainer_state.pt holds is
exactly what the run is: the weights, the optimizer, the counters, the data position, the carried
recurrent state (``carried``: the state at the end of the last window, per batch row), the
validation tracker, the step guard, the coin flips of ``--reset-at-eos`` and every global RNG.
``state_dict``/``load_state_dict`` capture and reinstate it for a bitwise-exact resume or a roll back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from charlm.models.base import AnyLM
from charlm.models.config import State
from charlm.models.state import map_state
from charlm.training.resume import rng_state, set_rng_state
from charlm.training.schedule import StepGuard, ValTracker
from charlm.training.windows import WindowStream

FORMAT = 2


@dataclass
class ResetDraws:
    """The coin flips of ``--reset-at-eos P``: a generator of their own, saved in every checkpoint.

    Each window draws one number per (row, position) of the whole batch (every rank's rows), whether
    or not the position holds ``<eos>``, so the draws depend only on the step: a resumed run (or a
    run with another number of ranks) resets the same rows at the same places.
    """

    p: float
    seed: int
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)

    def mask(self, inputs: Tensor, eos_id: int, world: int, rows: Callable[[Tensor], Tensor]) -> Tensor | None:
        """``(B,T)`` bool: row b starts afresh before step t (its input is ``<eos>``); None when P=0."""
        if self.p <= 0.0:
            return None
        batch, steps = inputs.shape
        draws = rows(torch.rand(batch * world, steps, generator=self.generator))  # (B,T): this rank's rows
        return (draws.to(inputs.device) < self.p) & (inputs == eos_id)  # (B,T)

    def state_dict(self) -> Tensor:
        return self.generator.get_state()

    def load_state_dict(self, state: Tensor) -> None:
        self.generator.set_state(state)


@dataclass
class RunState:
    """The mutable state of one run (see the module docstring); the trainer's only memory between steps."""

    model: AnyLM
    optimizer: torch.optim.Optimizer
    stream: WindowStream
    resets: ResetDraws
    step: int = 0
    tokens: int = 0  # global tokens trained on (all ranks)
    elapsed: float = 0.0  # seconds of training, summed over sessions
    clipped: int = 0  # steps whose gradient norm was clipped
    train_loss: float = math.nan  # running average of the training loss (nats per token)
    last_val: float = math.inf
    last_val_lines: float = math.nan  # the last per-line validation loss (every line from the start state)
    best_val_lines: float = math.nan  # the per-line validation loss of the best (streamed) checkpoint
    carried: State = None  # the recurrent state carried to the next window (None: the model's start state)
    tracker: ValTracker = field(default_factory=ValTracker)
    guard: StepGuard = field(default_factory=StepGuard)

    def state_dict(self, carried: State = None) -> dict[str, Any]:
        """Everything a resume needs; ``carried`` is the full batch's state (all ranks' rows gathered)."""
        return {
            "format": FORMAT,
            "step": self.step,
            "tokens": self.tokens,
            "elapsed": self.elapsed,
            "clipped": self.clipped,
            "train_loss": self.train_loss,
            "last_val": self.last_val,
            "val_lines": [self.last_val_lines, self.best_val_lines],
            "pos": self.stream.pos,
            "epoch": self.stream.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "hidden": map_state(lambda t: t.cpu(), carried),
            "tracker": self.tracker.state_dict(),
            "guard": self.guard.state_dict(),
            "resets": self.resets.state_dict(),
            "rng": rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any], place: Callable[[State], State], rollback: bool = False) -> None:
        """Return to ``state``; ``place`` puts the saved full-batch carried state on this rank's device and rows.

        A roll back keeps the step guard (its lowered learning rate and counts). Raises KeyError,
        TypeError, ValueError or RuntimeError when ``state`` does not fit this run.
        """
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.tokens, self.elapsed = state["step"], state["tokens"], state["elapsed"]
        self.clipped, self.train_loss, self.last_val = state["clipped"], state["train_loss"], state["last_val"]
        self.last_val_lines, self.best_val_lines = state.get("val_lines", [math.nan, math.nan])
        self.stream.pos, self.stream.epoch = state["pos"], state["epoch"]
        self.carried = place(state["hidden"])
        self.tracker.load_state_dict(state["tracker"])
        if not rollback:
            self.guard.load_state_dict(state["guard"])
        if "resets" in state:  # checkpoints from before --reset-at-eos drew no coins
            self.resets.load_state_dict(state["resets"])
        set_rng_state(state["rng"])
