"""The checkpoint side of a training run: what trainer_state.pt holds and how a run returns to it.

``Checkpointing`` is mixed into the trainer: ``state_dict``/``restore`` capture and reinstate
everything a bitwise-exact resume needs (weights, optimizer, counters, data position, the carried
hidden state, validation tracker, step guard, RNG states); ``save_last`` writes a checkpoint (only
where ``is_main``); ``rollback`` returns to the last one with a lower learning rate.
"""

from __future__ import annotations

import math
import time
from typing import Any

from charlm import checkpoint as ckpt
from charlm.errors import CharlmError
from charlm.models.state import map_state
from charlm.training.resume import rng_state, set_rng_state
from charlm.training.schedule import LR_CUT, MAX_ROLLBACKS


class Checkpointing:
    """Methods of the trainer that write, read and return to checkpoints (see the module docstring)."""

    def _write_config(self) -> None:
        if not self.is_main:
            return
        summary = {
            "step": self.step,
            "tokens": self.tokens,
            "elapsed_s": round(self.elapsed, 2),
            "train_loss": self.train_loss,
            "best_val_loss": self.tracker.best,
            "best_step": self.tracker.best_step,
            "best_val_bpc": self.bpc(self.tracker.best),
            "precision": self.precision,
            "device": str(self.device),
            "parameters": self.model.num_parameters(),
            "skipped_steps": self.guard.skipped,
            "rollbacks": self.guard.rollbacks,
            "clipped_steps": self.clipped,
        }
        summary = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in summary.items()}
        ckpt.write_config(
            self.run_dir,
            {
                "model": self.model_config.to_dict(),
                "tokenizer": {
                    "kind": self.tokenizer.kind,
                    "vocab_size": self.tokenizer.vocab_size,
                    "fingerprint": ckpt.fingerprint(self.tokenizer),
                },
                "train": self.config.to_dict(),
                "data": self.data_info,
                "summary": summary,
            },
        )

    def state_dict(self, hidden: Any = None) -> dict[str, Any]:
        """Everything a resume needs; ``hidden`` is the full-batch state (see :meth:`save_last`)."""
        return {
            "format": 2,
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
            "hidden": map_state(lambda t: t.cpu(), hidden),
            "tracker": self.tracker.state_dict(),
            "guard": self.guard.state_dict(),
            "rng": rng_state(),
        }

    def restore(self, state: dict[str, Any], rollback: bool = False) -> None:
        """Put the run back exactly where ``state`` was saved (a roll back keeps the lowered LR)."""
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step, self.tokens, self.elapsed = state["step"], state["tokens"], state["elapsed"]
            self.clipped, self.train_loss, self.last_val = state["clipped"], state["train_loss"], state["last_val"]
            self.stream.pos, self.stream.epoch = state["pos"], state["epoch"]
            self.hidden = self.dist.shard_state(map_state(lambda t: t.to(self.device), state["hidden"]))
            self.tracker.load_state_dict(state["tracker"])
            if not rollback:
                self.guard.load_state_dict(state["guard"])
            set_rng_state(state["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError):
            raise CharlmError(
                f"{self.run_dir / ckpt.TRAINER_STATE} does not fit this run (another charlm version "
                "or model); start a new run or use --init-from"
            ) from None

    def save_last(self) -> None:
        hidden = self.dist.gather_state(self.hidden)  # every rank joins: the saved state is the full batch's
        if self.is_main:
            ckpt.save_weights(self.model, self.run_dir / ckpt.LAST)
            ckpt.save_trainer_state(self.run_dir, self.state_dict(hidden))
            self._write_config()
        self.last_save = time.perf_counter()
        self.emit({"event": "save", "step": self.step, "path": str(self.run_dir)})

    def rollback(self, why: str) -> None:
        """Repeated bad steps: reload the last good checkpoint and lower the learning rate."""
        self.guard.rollbacks += 1
        if self.guard.rollbacks > MAX_ROLLBACKS:
            raise CharlmError(f"training diverged {MAX_ROLLBACKS} times ({why}); lower --lr or --clip and start again")
        self.guard.lr_scale *= LR_CUT
        self.guard.in_row = 0
        at = self.step
        self.restore(ckpt.load_trainer_state(self.run_dir), rollback=True)
        self.notice(
            "rollback",
            f"{why} repeated at step {at}: rolled back to step {self.step} and lowered the "
            f"learning rate to {self.lr():.2e}",
        )
