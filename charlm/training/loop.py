"""Training: truncated BPTT with carried state, AdamW, clipping, evaluation and exactly resumable checkpoints.

``train(config, callback)`` starts a run and ``resume(run_dir, given, callback)`` continues one;
the CLI only renders the events the callback receives (``start``, ``step``, ``eval``, ``save``,
``notice``, ``end``). Nothing here prints. A checkpoint (trainer_state.pt: weights, optimizer,
schedule, data position, carried hidden state, RNG states) is the single commit point, so a kill at
any moment loses at most the steps since the last one and a resumed run is bitwise the same run.
Writes happen only where ``self.is_main`` (one process of a distributed run writes).
"""

from __future__ import annotations

import math
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from charlm import checkpoint as ckpt
from charlm.errors import CharlmError
from charlm.models.base import build_model
from charlm.models.config import STRUCTURE_FIELDS
from charlm.models.state import detach_state
from charlm.runtime import autocast, resolve_precision, seed_everything, set_threads
from charlm.training import distributed
from charlm.training.claim import Claim, claim_run_dir
from charlm.training.config import TrainConfig
from charlm.training.data import evaluate, get_tokenizer, prepare
from charlm.training.resume import find_run, resumed_config, truncate_metrics
from charlm.training.rundir import MetricsLog, StopSignals
from charlm.training.schedule import StepGuard, ValTracker, lr_factor
from charlm.training.state import Checkpointing
from charlm.training.windows import WindowStream, batchify

__all__ = ["TrainConfig", "TrainResult", "evaluate", "find_run", "resume", "train"]

Callback = Callable[[dict[str, Any]], None]
LN2 = math.log(2.0)


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


def resume_command(run_dir: Path) -> str:
    return f"charlm train --resume {shlex.quote(str(run_dir))}"


class _Trainer(Checkpointing):
    """The state of one run between steps; ``train``/``resume`` drive it."""

    def __init__(
        self, config: TrainConfig, callback: Callback | None, resume_dir: Path | None = None, claim: Claim | None = None
    ) -> None:
        self.emit_fn = callback or (lambda event: None)
        set_threads(config.threads)
        seed_everything(config.seed)
        self.dist = distributed.setup(config.device)  # torchrun: this rank's slice of a data-parallel job
        self.device, self.is_main = self.dist.device, self.dist.is_main
        if not self.is_main:
            self.emit_fn = lambda event: None  # only rank 0 reports
        self.precision = resolve_precision(config.precision, self.device)
        source = resume_dir or (ckpt.resolve_model_dir(config.init_from) if config.init_from else None)
        if config.init_from and not resume_dir:
            config = self._adopt_source(config, source)
        self.config, self.claim = config, claim
        self.tokenizer = get_tokenizer(config, source)
        self.run_dir = Path(str(self.dist.from_main(claim.path if claim is not None else None)))
        self.metrics = MetricsLog(self.run_dir)
        self._load_data(resuming=resume_dir is not None)
        self.model_config = config.model_config(self.tokenizer.vocab_size)
        self.model = build_model(self.model_config).to(self.device)
        self.ddp = self.dist.wrap(self.model)  # what the step runs: DDP all-reduces gradients across ranks
        if config.init_from and not resume_dir:
            best = source / ckpt.BEST
            ckpt.load_weights(self.model, best if best.exists() else source / ckpt.LAST, device=self.device)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr, betas=(0.9, 0.99), weight_decay=config.weight_decay
        )
        self.step, self.tokens, self.elapsed, self.clipped = 0, 0, 0.0, 0
        self.train_loss, self.last_val, self.hidden = math.nan, math.inf, None
        self.tracker, self.guard = ValTracker(), StepGuard()
        self._last: dict[str, float] = {}
        self.resumed = resume_dir is not None and (self.run_dir / ckpt.TRAINER_STATE).exists()
        if self.resumed:
            self.restore(ckpt.load_trainer_state(self.run_dir))
            if self.is_main:
                truncate_metrics(self.run_dir, self.step)
        elif self.is_main:
            self.metrics.clear()
            self.tokenizer.save(self.run_dir)
        self._write_config()

    def _load_data(self, resuming: bool) -> None:
        """Token memmaps -> the (B, L) training stream and the validation rows."""
        c = self.config
        world = self.dist.world
        if not self.is_main:
            self.dist.barrier()  # rank 0 writes the token cache first; the others then reuse it
        data = prepare(c, self.tokenizer, self.run_dir, resuming=resuming)
        if self.is_main:
            self.dist.barrier()
        self.data_info, self.val_chars_per_token = data.info, data.val_chars_per_token
        rows = batchify(data.train, c.batch_size * world)  # (B*W, L): rank r reads rows r*B .. (r+1)*B
        self.stream = WindowStream(self.dist.rows(rows), c.seq_len, device=self.device)
        val_batch = max(1, min(c.batch_size, len(data.val) // (c.seq_len + 1) // world)) * world
        self.val_data = self.dist.rows(batchify(data.val, val_batch))  # (B_val, L_val)

    def _adopt_source(self, config: TrainConfig, source: Path) -> TrainConfig:
        """Fine-tuning keeps the source model's shape and tokenizer; the optimizer starts afresh."""
        saved = ckpt.read_config(source)
        model = saved["model"]
        return replace(
            config,
            level=saved.get("tokenizer", {}).get("kind", config.level),
            arch=model["arch"],
            layers=model["layers"],
            hidden=model["hidden"],
            embed=model["embed"],
            tie_weights=model["tie_weights"],
            init_from=str(source),
            **{k: model[k] for k in STRUCTURE_FIELDS if k in model},
        )

    # -- bookkeeping ---------------------------------------------------------------------------
    def progress(self) -> float:
        """How much of the budget is spent (the first of steps / epochs / time to run out ends the run)."""
        c, parts = self.config, [self.schedule_progress()]
        if c.time_budget:
            parts.append(self.elapsed / c.time_budget)
        return max(parts)

    def schedule_progress(self) -> float:
        """Progress the LR schedule follows: steps/epochs when given (never the clock), else time."""
        c, parts = self.config, []
        if c.steps:
            parts.append(self.step / c.steps)
        if c.epochs:
            parts.append(self.tokens / (c.epochs * self.stream.numel * self.dist.world))
        if not parts and c.time_budget:
            parts.append(self.elapsed / c.time_budget)
        return max(parts or [0.0])

    def lr(self) -> float:
        c = self.config
        scale = self.guard.lr_scale * self.tracker.plateau_scale
        return c.lr * lr_factor(c.schedule, c.warmup, self.step, self.schedule_progress(), scale)

    def bpc(self, nats_per_token: float) -> float:
        return nats_per_token / (self.val_chars_per_token * LN2)

    def emit(self, event: dict[str, Any], log: bool = False) -> None:
        if log and self.is_main:
            self.metrics.write(event)
        self.emit_fn(event)

    def notice(self, kind: str, message: str) -> None:
        self.emit({"event": "notice", "kind": kind, "step": self.step, "message": message}, log=True)

    # -- evaluation ----------------------------------------------------------------------------
    def run_eval(self) -> None:
        val = evaluate(self.model, self.val_data, self.config.seq_len, self.precision)
        val = self.dist.weighted_mean(val, self.val_data.shape[0] * (self.val_data.shape[1] - 1))
        self.last_val = val
        improved = self.tracker.update(val, self.step, self.config.schedule)
        if improved and self.is_main:
            ckpt.save_weights(self.model, self.run_dir / ckpt.BEST)
            ckpt.point_latest(self.run_dir, Path(self.config.checkpoints))
        self.emit(
            {
                "event": "eval",
                "step": self.step,
                "val_loss": val,
                "val_bpc": self.bpc(val),
                "val_ppl": math.exp(min(val, 50.0)),
                "best": improved,
                "lr": self.lr(),
                "time": round(self.elapsed, 2),
            },
            log=True,
        )
        if self.is_main:
            self.metrics.plot()

    # -- the step ------------------------------------------------------------------------------
    def train_step(self) -> None:
        x, y, new_epoch = self.stream.next()  # (B,T), (B,T)
        if new_epoch:
            self.hidden = None
        lr = self.lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with autocast(self.device, self.precision):
            logits, state = self.ddp(x, self.hidden)  # (B,T,V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        with autocast(self.device, self.precision):
            loss = self.model.training_loss(loss, x, y)  # bidirectional models add their backward LM's loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.config.clip if self.config.clip > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))  # norm before clipping
        loss_value = self.dist.mean(loss).item()  # every rank must agree on skipping a bad step
        why = self.guard.verdict(loss_value, grad_norm, self.train_loss, self.step >= self.config.warmup)
        self.step += 1
        self.tokens += y.numel() * self.dist.world  # global tokens (all ranks)
        self._last = {"loss": loss_value, "grad_norm": grad_norm, "lr": lr}
        if why is None:
            self.optimizer.step()
            self.clipped += grad_norm > clip
            self.train_loss = loss_value if math.isnan(self.train_loss) else 0.9 * self.train_loss + 0.1 * loss_value
            self.hidden = detach_state(state)
        else:
            self.hidden = None  # the state may carry the damage too
            self.notice("skip", f"step {self.step}: {why}; update skipped")
        if self.guard.record(why is not None):
            self.rollback(why or "bad steps")

    def _step_event(self, session_tokens: int, session_s: float) -> dict[str, Any]:
        return {
            "event": "step",
            "step": self.step,
            "train_loss": self.train_loss,
            **self._last,
            "clipped": self.clipped,
            "skipped": self.guard.skipped,
            "tokens_per_s": session_tokens / max(session_s, 1e-9),
            "progress": self.progress(),
            "time": round(self.elapsed, 2),
        }

    def _save_due(self) -> bool:
        c = self.config
        by_steps = c.save_every is not None and self.step % c.save_every == 0
        by_time = c.save_every_s is not None and time.perf_counter() - self.last_save >= c.save_every_s
        return by_steps or by_time

    def fit(self) -> TrainResult:
        self.model.train()
        self.emit(
            {
                "event": "start",
                "run_dir": str(self.claim.final if self.claim is not None else self.run_dir),
                "device": str(self.device),
                "precision": self.precision,
                "parameters": self.model.num_parameters(),
                "vocab_size": self.tokenizer.vocab_size,
                "resumed_at": self.step if self.resumed else None,
                **self.data_info,
            }
        )
        if self.config.init_from and not self.resumed and self.data_info["unk_rate"] > 0:
            self.notice(
                "oov",
                f"{self.data_info['unk_rate']:.2%} of the new text is <unk> to the tokenizer of "
                f"{self.config.init_from}",
            )
        started, base_elapsed, base_tokens = time.perf_counter(), self.elapsed, self.tokens
        self.last_save = started
        try:
            with StopSignals() as stop:
                if not self.resumed:
                    self.save_last()  # step 0: a resume point and a roll-back target from the start
                    self._commit()
                self._loop(stop, started, base_elapsed, base_tokens)
        except OSError as exc:
            raise CharlmError(
                f"cannot write to {self.run_dir} ({exc.strerror or exc}); the last checkpoint is intact; "
                f"free space, then: {resume_command(self.run_dir)}"
            ) from None
        except KeyboardInterrupt:
            raise CharlmError(
                f"interrupted at step {self.step}; the last checkpoint is intact; resume with: "
                f"{resume_command(self.run_dir)}",
                130,
            ) from None
        result = TrainResult(
            self.run_dir,
            self.step,
            self.tokens,
            self.elapsed,
            self.train_loss,
            self.tracker.best,
            self.bpc(self.tracker.best),
            (self.tokens - base_tokens) / max(self.elapsed - base_elapsed, 1e-9),
        )
        self.emit({"event": "end", **{k: str(v) if isinstance(v, Path) else v for k, v in result.__dict__.items()}})
        return result

    def _commit(self) -> None:
        """The first checkpoint exists: the staged run replaces --out as a whole (see charlm.training.claim)."""
        if self.claim is not None:
            self.run_dir = self.claim.commit()
            self.metrics = MetricsLog(self.run_dir)
        self.run_dir = Path(str(self.dist.from_main(self.run_dir if self.is_main else None)))

    def _loop(self, stop: StopSignals, started: float, base_elapsed: float, base_tokens: int) -> None:
        c, evaluated = self.config, False
        while self.progress() < 1.0:
            self.train_step()
            self.elapsed = self.dist.agree(base_elapsed + time.perf_counter() - started)  # ranks stop together
            event = self._step_event(self.tokens - base_tokens, self.elapsed - base_elapsed)
            self.emit(event, log=self.step % c.log_every == 0)
            evaluated = self.step % c.eval_every == 0
            if evaluated:
                self.run_eval()
                if self.tracker.exhausted(c.patience):
                    self.notice(
                        "early-stop",
                        f"no better validation loss for {c.patience} evaluations; "
                        f"stopping at step {self.step} (best at step {self.tracker.best_step})",
                    )
                    break
            if self._save_due():
                self.save_last()
            if stop.signum:
                self.save_last()
                raise CharlmError(
                    f"stopped by {stop.name} at step {self.step}; checkpoint saved; resume with: "
                    f"{resume_command(self.run_dir)}",
                    130,
                )
        if not evaluated:
            self.run_eval()
        self.save_last()
        if self.is_main:
            self.metrics.plot(force=True)


def train(config: TrainConfig, callback: Callback | None = None) -> TrainResult:
    """Train a language model as ``config`` says; events go to ``callback``; returns the result."""
    with claim_run_dir(config) as claim:
        return _fit(_Trainer(config, callback, claim=claim))


def resume(run_dir: str | Path, given: dict[str, Any] | None = None, callback: Callback | None = None) -> TrainResult:
    """Continue the run in ``run_dir`` exactly where its last checkpoint left it.

    ``given`` holds TrainConfig fields to change (the budget, cadences, runtime); ``steps`` is the
    run's total, so resuming with the original command finishes the run.
    """
    run = Path(run_dir).resolve()
    config = resumed_config(run, given or {})
    with claim_run_dir(config, resume_dir=run) as claim:
        return _fit(_Trainer(config, callback, resume_dir=run, claim=claim))


def _fit(trainer: _Trainer) -> TrainResult:
    try:
        result = trainer.fit()
    except BaseException:
        trainer.ddp = trainer.model  # drop DDP, which holds the process group, so close() can free it
        trainer.dist.close()
        raise
    trainer.ddp = trainer.model
    trainer.dist.barrier()  # a finished rank keeps the group (and rank 0's store) up until every peer is done
    trainer.dist.close(settled=True)
    return result
