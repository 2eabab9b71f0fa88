"""Training: truncated BPTT with carried state, AdamW, gradient clipping, evaluation, checkpoints.

``train(config, callback)`` is the whole library entry point; the CLI only renders the events the
callback receives (``start``, ``step``, ``eval``, ``save``, ``end``). Nothing here prints.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm import checkpoint as ckpt
from charlm.config import TrainConfig
from charlm.data import WindowStream, batchify, check_trainable, read_text, split_ids, to_tensor
from charlm.errors import CharlmError
from charlm.models import LanguageModel, ModelConfig, build_model, detach_state
from charlm.runtime import autocast, pick_device, resolve_precision, seed_everything, set_threads
from charlm.tokenizers import build_tokenizer

__all__ = ["TrainConfig", "TrainResult", "evaluate", "train"]

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


@torch.no_grad()
def evaluate(model: LanguageModel, data: Tensor, seq_len: int, precision: str = "fp32") -> float:
    """Mean nats per token over a ``(B, L)`` id tensor, state carried across windows."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for x, y in WindowStream(data, seq_len).windows():
        with autocast(data.device, precision):
            logits, state = model(x, state)  # (B,T,V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum")
        total += float(loss)
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1)


def _lr_factor(config: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up, then constant or cosine decay to 10% over the budget's progress (0..1)."""
    warm = min(1.0, (step + 1) / config.warmup) if config.warmup else 1.0
    if config.schedule == "constant":
        return warm
    return warm * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))))


def _run_dir(config: TrainConfig) -> Path:
    """The run directory: --out, or checkpoints/<corpus>-<arch>-<time>; never clobber a model."""
    if config.out:
        run = Path(config.out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run = Path(config.checkpoints) / f"{Path(config.corpus).stem}-{config.level}-{config.arch}-{stamp}"
    if run.exists() and not run.is_dir():
        raise CharlmError(f"{run} is a file; --out takes a directory")
    if (run / ckpt.CONFIG).exists() and not config.force:
        raise CharlmError(f"{run} already holds a model; choose another --out or pass --force to replace it")
    try:
        run.mkdir(parents=True, exist_ok=True)
        probe = run / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CharlmError(f"cannot write to {run} ({exc.strerror}); choose a writable --out") from None
    return run


class _Trainer:
    """The state of one run between steps; ``train`` drives it."""

    def __init__(self, config: TrainConfig, callback: Callback | None) -> None:
        self.config = config
        self.emit = callback or (lambda event: None)
        set_threads(config.threads)
        seed_everything(config.seed)
        self.device = pick_device(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        text = read_text(config.corpus, config.encoding, config.errors)
        self.tokenizer = build_tokenizer(config.level, text, config.max_vocab, config.min_count, config.vocab_size)
        ids = self.tokenizer.encode_array(text)
        if config.val:
            val_text = read_text(config.val, config.encoding, config.errors)
            train_ids, val_ids = ids, self.tokenizer.encode_array(val_text)
            self.val_chars_per_token = len(val_text) / max(len(val_ids), 1)
        else:
            train_ids, val_ids = split_ids(ids, config.val_fraction)
            self.val_chars_per_token = len(text) / max(len(ids), 1)
        check_trainable(len(train_ids), config.batch_size)
        self.data_info = {"corpus": str(Path(config.corpus).resolve()), "chars": len(text), "tokens": len(ids),
                          "train_tokens": len(train_ids), "val_tokens": len(val_ids),
                          "unk_rate": float((ids == self.tokenizer.unk_id).mean()) if len(ids) else 0.0}
        self.run_dir = _run_dir(config)
        self.stream = WindowStream(batchify(to_tensor(train_ids), config.batch_size).to(self.device), config.seq_len)
        val_batch = max(1, min(config.batch_size, len(val_ids) // (config.seq_len + 1)))
        self.val_data = batchify(to_tensor(val_ids), val_batch).to(self.device)
        self.model_config = ModelConfig(vocab_size=self.tokenizer.vocab_size, arch=config.arch, layers=config.layers,
                                        hidden=config.hidden, embed=config.embed, dropout=config.dropout,
                                        tie_weights=config.tie_weights)
        self.model = build_model(self.model_config).to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, betas=(0.9, 0.99),
                                           weight_decay=config.weight_decay)
        self.step, self.tokens, self.elapsed = 0, 0, 0.0
        self.best_val, self.best_step, self.last_val = math.inf, 0, math.inf
        self.train_loss = math.nan
        self.tokenizer.save(self.run_dir)
        self._write_config()

    # -- bookkeeping ---------------------------------------------------------------------------
    def progress(self) -> float:
        c, parts = self.config, []
        if c.steps:
            parts.append(self.step / c.steps)
        if c.epochs:
            parts.append(self.tokens / (c.epochs * self.stream.data.numel()))
        if c.time_budget:
            parts.append(self.elapsed / c.time_budget)
        return max(parts)

    def bpc(self, nats_per_token: float) -> float:
        return nats_per_token / (self.val_chars_per_token * LN2)

    def _write_config(self) -> None:
        summary = {"step": self.step, "tokens": self.tokens, "elapsed_s": round(self.elapsed, 2),
                   "train_loss": self.train_loss, "best_val_loss": self.best_val, "best_step": self.best_step,
                   "best_val_bpc": self.bpc(self.best_val), "precision": self.precision, "device": str(self.device),
                   "parameters": self.model.num_parameters()}
        summary = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in summary.items()}
        ckpt.write_config(self.run_dir, {"model": self.model_config.to_dict(),
                                         "tokenizer": {"kind": self.tokenizer.kind,
                                                       "vocab_size": self.tokenizer.vocab_size},
                                         "train": self.config.to_dict(), "data": self.data_info, "summary": summary})

    def log(self, event: dict[str, Any]) -> None:
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")
        self.emit(event)

    def save_last(self) -> None:
        ckpt.save_weights(self.model, self.run_dir / ckpt.LAST)
        ckpt.save_trainer_state(self.run_dir, {"step": self.step, "tokens": self.tokens, "elapsed": self.elapsed,
                                               "pos": self.stream.pos, "epoch": self.stream.epoch,
                                               "best_val": self.best_val, "best_step": self.best_step,
                                               "optimizer": self.optimizer.state_dict(),
                                               "torch_rng": torch.get_rng_state()})
        self._write_config()
        self.emit({"event": "save", "step": self.step, "path": str(self.run_dir)})

    def run_eval(self) -> None:
        val = evaluate(self.model, self.val_data, self.config.seq_len, self.precision)
        self.last_val = val
        improved = val < self.best_val
        if improved:
            self.best_val, self.best_step = val, self.step
            ckpt.save_weights(self.model, self.run_dir / ckpt.BEST)
            ckpt.point_latest(self.run_dir, Path(self.config.checkpoints))
        self.log({"event": "eval", "step": self.step, "val_loss": val, "val_bpc": self.bpc(val),
                  "val_ppl": math.exp(min(val, 50.0)), "best": improved, "time": round(self.elapsed, 2)})

    # -- the step ------------------------------------------------------------------------------
    def train_step(self, state: Any) -> Any:
        x, y, new_epoch = self.stream.next()  # (B,T), (B,T)
        if new_epoch:
            state = None
        factor = _lr_factor(self.config, self.step, self.progress())
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr * factor
        with autocast(self.device, self.precision):
            logits, state = self.model(x, state)  # (B,T,V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.config.clip if self.config.clip > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        loss_value = loss.item()
        if math.isfinite(loss_value) and math.isfinite(grad_norm):
            self.optimizer.step()
            self.train_loss = loss_value if math.isnan(self.train_loss) else 0.9 * self.train_loss + 0.1 * loss_value
        self.step += 1
        self.tokens += y.numel()
        self._last = {"loss": loss_value, "grad_norm": grad_norm, "lr": self.config.lr * factor}
        return detach_state(state)

    def fit(self) -> TrainResult:
        self.model.train()
        self.emit({"event": "start", "run_dir": str(self.run_dir), "device": str(self.device),
                   "precision": self.precision, "parameters": self.model.num_parameters(),
                   "vocab_size": self.tokenizer.vocab_size, **self.data_info})
        state, started = None, time.perf_counter()
        try:
            while self.progress() < 1.0:
                state = self.train_step(state)
                self.elapsed = time.perf_counter() - started
                event = {"event": "step", "step": self.step, "train_loss": self.train_loss, **self._last,
                         "tokens_per_s": self.tokens / max(self.elapsed, 1e-9), "progress": self.progress(),
                         "time": round(self.elapsed, 2)}
                self.emit(event)
                if self.step % self.config.eval_every == 0:
                    self.log(event)
                    self.run_eval()
                if self.step % self.config.save_every == 0:
                    self.save_last()
        except KeyboardInterrupt:
            self.save_last()
            raise CharlmError(f"interrupted at step {self.step}; the run is saved in {self.run_dir}", 130) from None
        if self.step % self.config.eval_every:
            self.run_eval()
        self.save_last()
        result = TrainResult(self.run_dir, self.step, self.tokens, self.elapsed, self.train_loss, self.best_val,
                             self.bpc(self.best_val), self.tokens / max(self.elapsed, 1e-9))
        self.emit({"event": "end", **{k: str(v) if isinstance(v, Path) else v for k, v in result.__dict__.items()}})
        return result


def train(config: TrainConfig, callback: Callback | None = None) -> TrainResult:
    """Train a language model as ``config`` says; events go to ``callback``; returns the result."""
    return _Trainer(config, callback).fit()
