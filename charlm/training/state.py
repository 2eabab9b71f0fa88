"""RunState: everything about a training run that changes from step to step, and its state_dict.

The trainer reads and writes only this object between steps, so what trainer_state.pt holds is
exactly what the run is: the weights, the optimizer, the counters, the data position, the carried
recurrent state (``carried``: the state at the end of the last window, per batch row), the
validation tracker, the step guard and every global RNG.
``state_dict``/``load_state_dict`` capture and reinstate it for a bitwise-exact resume or a roll back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from charlm.models.base import LanguageModel
from charlm.models.config import State
from charlm.models.state import map_state
from charlm.training.resume import rng_state, set_rng_state
from charlm.training.schedule import StepGuard, ValTracker
from charlm.training.windows import WindowStream

FORMAT = 2


@dataclass
class RunState:
    """The mutable state of one run (see the module docstring); the trainer's only memory between steps."""

    model: LanguageModel
    optimizer: torch.optim.Optimizer
    stream: WindowStream
    step: int = 0
    tokens: int = 0  # global tokens trained on (all ranks)
    elapsed: float = 0.0  # seconds of training, summed over sessions
    clipped: int = 0  # steps whose gradient norm was clipped
    train_loss: float = math.nan  # running average of the training loss (nats per token)
    last_val: float = math.inf
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
            "pos": self.stream.pos,
            "epoch": self.stream.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "hidden": map_state(lambda t: t.cpu(), carried),
            "tracker": self.tracker.state_dict(),
            "guard": self.guard.state_dict(),
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
        self.stream.pos, self.stream.epoch = state["pos"], state["epoch"]
        self.carried = place(state["hidden"])
        self.tracker.load_state_dict(state["tracker"])
        if not rollback:
            self.guard.load_state_dict(state["guard"])
        set_rng_state(state["rng"])
