"""Training: truncated BPTT with carried state, AdamW, clipping, evaluation and exactly resumable checkpoints.

``train(config, callback)`` starts a run, ``resume(run_dir, given, callback)`` continues one; the CLI
renders the events the callback receives. Nothing here prints. What the run is made of lives in a
:class:`~charlm.training.setup.RunContext`, what changes step to step in a :class:`~charlm.training.state.RunState`
(which owns the state_dict). A checkpoint (trainer_state.pt) is the single commit point, so a kill at
any moment loses at most the steps since the last one and a resumed run is bitwise the same run.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, cast

import torch

from charlm import checkpoint as ckpt
from charlm.errors import CharlmError
from charlm.models.state import detach_state
from charlm.runtime import autocast
from charlm.training.claim import claim_run_dir
from charlm.training.config import TrainConfig
from charlm.training.data import evaluate, write_dynamic_stats
from charlm.training.events import Callback, Event, pass_events
from charlm.training.lines import evaluate_lines
from charlm.training.loss import training_loss
from charlm.training.ngram import build_at_end
from charlm.training.recipes import with_recipe
from charlm.training.result import TrainResult, budget_spent, interrupted, resume_command, schedule_spent
from charlm.training.resume import find_run, resumed_config
from charlm.training.rundir import MetricsLog, StopSignals
from charlm.training.schedule import LR_CUT, MAX_ROLLBACKS, lr_factor
from charlm.training.setup import RunContext, bpc, open_run, restore, start_event, write_run_config
from charlm.training.start_fit import fit_at_end
from charlm.training.state import RunState

__all__ = ["TrainConfig", "TrainResult", "evaluate", "find_run", "resume", "train"]


class Trainer:
    """Drives one run: ``ctx`` says what it is made of, ``run`` where it stands (see the module docstring)."""

    def __init__(self, ctx: RunContext, run: RunState, resumed: bool, callback: Callback | None) -> None:
        self.ctx, self.run, self.resumed = ctx, run, resumed
        self.emit_fn = callback if callback is not None and ctx.is_main else (lambda event: None)  # rank 0 reports
        self.last: dict[str, float] = {}  # the last step's loss, gradient norm and learning rate
        self.last_save = time.perf_counter()

    # -- bookkeeping ---------------------------------------------------------------------------
    def progress(self) -> float:
        """How much of the budget is spent (the first of steps / epochs / time to run out ends the run)."""
        return budget_spent(self.ctx.config, self.run, self.ctx.dist.world)

    def schedule_progress(self) -> float:
        """Progress the LR schedule follows: steps/epochs when given (never the clock), else time."""
        return schedule_spent(self.ctx.config, self.run, self.ctx.dist.world)

    def lr(self) -> float:
        c, run = self.ctx.config, self.run
        scale = run.guard.lr_scale * run.tracker.plateau_scale
        return c.lr * lr_factor(c.schedule, c.warmup, run.step, self.schedule_progress(), scale)

    def emit(self, event: dict[str, Any], log: bool = False) -> None:
        if log and self.ctx.is_main:
            self.ctx.metrics.write(event)
        self.emit_fn(cast(Event, event))  # the dicts built here have the keys charlm.training.events declares

    def notice(self, kind: str, message: str) -> None:
        self.emit({"event": "notice", "kind": kind, "step": self.run.step, "message": message}, log=True)

    # -- checkpoints ---------------------------------------------------------------------------
    def save_last(self) -> None:
        ctx, run = self.ctx, self.run
        carried = ctx.dist.gather_state(run.carried)  # every rank joins: the saved state is the full batch's
        if ctx.is_main:
            ckpt.save_weights(run.model, ctx.run_dir / ckpt.LAST)
            ckpt.save_trainer_state(ctx.run_dir, run.state_dict(carried))
            write_run_config(ctx, run)
        self.last_save = time.perf_counter()
        self.emit({"event": "save", "step": run.step, "path": str(ctx.run_dir)})

    def rollback(self, why: str) -> None:
        """Repeated bad steps: reload the last good checkpoint and lower the learning rate."""
        guard = self.run.guard
        guard.rollbacks += 1
        if guard.rollbacks > MAX_ROLLBACKS:
            raise CharlmError(f"training diverged {MAX_ROLLBACKS} times ({why}); lower --lr or --clip and start again")
        guard.lr_scale *= LR_CUT
        guard.in_row = 0
        at = self.run.step
        restore(self.ctx, self.run, ckpt.load_trainer_state(self.ctx.run_dir), rollback=True)
        self.notice(
            "rollback",
            f"{why} repeated at step {at}: rolled back to step {self.run.step} and lowered the "
            f"learning rate to {self.lr():.2e}",
        )

    # -- evaluation ----------------------------------------------------------------------------
    def run_eval(self) -> None:
        ctx, run = self.ctx, self.run
        val = evaluate(run.model, ctx.val_data, ctx.config.seq_len, ctx.precision)
        val = ctx.dist.weighted_mean(val, ctx.val_data.shape[0] * (ctx.val_data.shape[1] - 1))
        lines, count = evaluate_lines(run.model, ctx.val_lines, ctx.config.seq_len, ctx.precision)
        run.last_val, run.last_val_lines = val, ctx.dist.weighted_mean(lines, count)
        improved = run.tracker.update(val, run.step, ctx.config.schedule)  # the best checkpoint: streamed loss
        if improved:
            run.best_val_lines = run.last_val_lines
        if improved and ctx.is_main:
            ckpt.save_weights(run.model, ctx.run_dir / ckpt.BEST)
            ckpt.point_latest(ctx.run_dir, Path(ctx.config.checkpoints))
        self.emit(
            {
                "event": "eval",
                "step": run.step,
                "val_loss": val,
                "val_bpc": bpc(ctx, val),
                "val_ppl": math.exp(min(val, 50.0)),
                "val_lines_loss": run.last_val_lines,  # every line from the start state (the score convention)
                "val_lines_bpc": bpc(ctx, run.last_val_lines),
                "best": improved,
                "lr": self.lr(),
                "time": round(run.elapsed, 2),
            },
            log=True,
        )
        if ctx.is_main:
            ctx.metrics.plot()

    # -- the step ------------------------------------------------------------------------------
    def train_step(self) -> None:
        ctx, run = self.ctx, self.run
        x, y, new_epoch = run.stream.next()  # (B,T), (B,T)
        if new_epoch:
            run.carried = None
        lr = self.lr()
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        resets = run.resets.mask(x, ctx.tokenizer.eos_id, ctx.dist.world, ctx.dist.rows)  # (B,T) or None (P=0)
        with autocast(ctx.device, ctx.precision):
            # The head's training loss (cross-entropy, or the adaptive softmax's cheap cluster loss).
            if resets is None:
                loss, state = ctx.ddp(x, run.carried, targets=y)  # ()
            else:
                loss, state = ctx.ddp(x, run.carried, resets, targets=y)  # (), rows start afresh where marked
        loss = training_loss(run.model, loss, x, y, ctx.device, ctx.precision)  # both halves if bidirectional
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = ctx.config.clip if ctx.config.clip > 0 else math.inf
        norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), clip)  # norm before clipping (on device)
        # The guard needs both numbers on the host: one transfer (one GPU sync) for the two, not one each.
        # Every rank must agree on skipping a bad step, so the loss is the mean over ranks.
        loss_value, grad_norm = torch.stack([ctx.dist.mean(loss).detach().float(), norm.float()]).tolist()
        why = run.guard.verdict(loss_value, grad_norm, run.train_loss, run.step >= ctx.config.warmup)
        run.step += 1
        run.tokens += y.numel() * ctx.dist.world  # global tokens (all ranks)
        self.last = {"loss": loss_value, "grad_norm": grad_norm, "lr": lr}
        if why is None:
            run.optimizer.step()
            run.clipped += grad_norm > clip
            run.train_loss = loss_value if math.isnan(run.train_loss) else 0.9 * run.train_loss + 0.1 * loss_value
            run.carried = detach_state(state)
        else:
            run.carried = None  # the state may carry the damage too
            self.notice("skip", f"step {run.step}: {why}; update skipped")
        if run.guard.record(why is not None):
            self.rollback(why or "bad steps")

    def step(self, started: float, base_elapsed: float, base_tokens: int) -> None:
        """One step as the loop runs it: train, advance the run's clock, report (bench.interleave times this)."""
        run = self.run
        self.train_step()
        run.elapsed = self.ctx.dist.agree(base_elapsed + time.perf_counter() - started)  # ranks stop together
        event = self._step_event(run.tokens - base_tokens, run.elapsed - base_elapsed)
        self.emit(event, log=run.step % self.ctx.config.log_every == 0)

    def _step_event(self, session_tokens: int, session_s: float) -> dict[str, Any]:
        run = self.run
        return {
            "event": "step",
            "step": run.step,
            "train_loss": run.train_loss,
            **self.last,
            "clipped": run.clipped,
            "skipped": run.guard.skipped,
            "tokens_per_s": session_tokens / max(session_s, 1e-9),
            "progress": self.progress(),
            "time": round(run.elapsed, 2),
        }

    def _save_due(self) -> bool:
        c = self.ctx.config
        by_steps = c.save_every is not None and self.run.step % c.save_every == 0
        by_time = c.save_every_s is not None and time.perf_counter() - self.last_save >= c.save_every_s
        return by_steps or by_time

    def _start_event(self) -> None:
        ctx = self.ctx
        self.emit(start_event(ctx, self.run, self.resumed))
        if ctx.config.init_from and not self.resumed and ctx.data_info["unk_rate"] > 0:
            rate, source = ctx.data_info["unk_rate"], ctx.config.init_from
            self.notice("oov", f"{rate:.2%} of the new text is <unk> to the tokenizer of {source}")

    def fit(self) -> TrainResult:
        ctx, run = self.ctx, self.run
        run.model.train()
        self._start_event()
        started, base_elapsed, base_tokens = time.perf_counter(), run.elapsed, run.tokens
        self.last_save = started
        try:
            with StopSignals() as stop:
                if not self.resumed:
                    self.save_last()  # step 0: a resume point and a roll-back target from the start
                    self._commit()
                self._loop(stop, started, base_elapsed, base_tokens)
        except OSError as exc:
            raise CharlmError(
                f"cannot write to {ctx.run_dir} ({exc.strerror or exc}); the last checkpoint is intact; "
                f"free space, then: {resume_command(ctx.run_dir)}"
            ) from None
        except KeyboardInterrupt:
            raise interrupted(ctx.claim, ctx.run_dir, run.step) from None
        result = TrainResult(
            ctx.run_dir,
            run.step,
            run.tokens,
            run.elapsed,
            run.train_loss,
            run.tracker.best,
            bpc(ctx, run.tracker.best),
            (run.tokens - base_tokens) / max(run.elapsed - base_elapsed, 1e-9),
            ctx.is_main,
            bpc(ctx, run.best_val_lines),
        )
        self.emit({"event": "end", **{k: str(v) if isinstance(v, Path) else v for k, v in result.__dict__.items()}})
        return result

    def _commit(self) -> None:
        """The first checkpoint exists: the staged run replaces --out as a whole (see charlm.training.claim)."""
        ctx = self.ctx
        if ctx.claim is not None:
            ctx.run_dir = ctx.claim.commit()
            ctx.metrics = MetricsLog(ctx.run_dir)
        ctx.run_dir = Path(str(ctx.dist.from_main(ctx.run_dir if ctx.is_main else None)))

    def _loop(self, stop: StopSignals, started: float, base_elapsed: float, base_tokens: int) -> None:
        c, run, evaluated = self.ctx.config, self.run, False
        while self.progress() < 1.0:
            self.step(started, base_elapsed, base_tokens)
            evaluated = run.step % c.eval_every == 0
            if evaluated:
                self.run_eval()
                if run.tracker.exhausted(c.patience):
                    self.notice(
                        "early-stop",
                        f"no better validation loss for {c.patience} evaluations; "
                        f"stopping at step {run.step} (best at step {run.tracker.best_step})",
                    )
                    break
            if self._save_due():
                self.save_last()
            if stop.signum:
                self.save_last()
                raise CharlmError(
                    f"stopped by {stop.name} at step {run.step}; checkpoint saved; resume with: "
                    f"{resume_command(self.ctx.run_dir)}",
                    130,
                )
        if not evaluated:
            self.run_eval()
        self.save_last()
        if self.ctx.is_main:
            self.ctx.metrics.plot(force=True)
            write_dynamic_stats(self.run.model, self.run.stream.data, self.ctx.run_dir)
            forward, fitted = fit_at_end(self.ctx, self.run)  # the best weights, start state fitted (if fitted)
            if fitted:
                self.notice("start-state", fitted)
            passes = pass_events(self.emit_fn)  # counting and merging report as the corpus passes did
            if message := build_at_end(self.ctx.run_dir, forward, self.ctx.tokenizer, self.ctx.config, passes):
                self.notice("ngram", message)


def train(config: TrainConfig, callback: Callback | None = None) -> TrainResult:
    """Train a language model as ``config`` says; events go to ``callback``; returns the result.

    Options left None ("from the recipe") are filled from the recipe for the budget and device first,
    exactly as ``charlm train`` does (:func:`charlm.training.recipes.with_recipe`).
    """
    config = with_recipe(config)
    with claim_run_dir(config) as claim:
        return _fit(Trainer(*open_run(config, claim=claim, progress=pass_events(callback)), callback))


def resume(run_dir: str | Path, given: dict[str, Any] | None = None, callback: Callback | None = None) -> TrainResult:
    """Continue the run in ``run_dir`` exactly where its last checkpoint left it.

    ``given`` holds TrainConfig fields to change (the budget, cadences, runtime); ``steps`` is the
    run's total, so resuming with the original command finishes the run.
    """
    run = Path(run_dir).resolve()
    config = resumed_config(run, given or {})
    with claim_run_dir(config, resume_dir=run) as claim:
        return _fit(Trainer(*open_run(config, run, claim, pass_events(callback)), callback))


def _fit(trainer: Trainer) -> TrainResult:
    ctx = trainer.ctx
    try:
        result = trainer.fit()
    except BaseException:
        ctx.ddp = trainer.run.model  # drop DDP, which holds the process group, so close() can free it
        ctx.dist.close()
        raise
    ctx.ddp = trainer.run.model
    ctx.dist.barrier()  # a finished rank keeps the group (and rank 0's store) up until every peer is done
    ctx.dist.close(settled=True)
    return result
