"""Opening a run: what it is made of (RunContext, fixed once built) and where it starts (a RunState).

:func:`open_run` does the start-up in one fixed order (threads and seed, process group, tokenizer,
run directory, data, model, optimizer, then the checkpoint when resuming), so a fresh run draws its
random numbers the same way every time. :func:`write_run_config` writes config.json with the
summary of where the run stands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from charlm import checkpoint as ckpt
from charlm import interrupts
from charlm.errors import CharlmError
from charlm.models.base import build_model
from charlm.models.config import ModelConfig, State, structure_fields
from charlm.models.softmax import ADAPTIVE_MIN_VOCAB, check_softmax, choose_cutoffs
from charlm.models.state import map_state
from charlm.progress import Progress, silent
from charlm.runtime import resolve_precision, seed_everything, set_threads
from charlm.tokenizers import Tokenizer, load_tokenizer
from charlm.training import distributed
from charlm.training.claim import Claim
from charlm.training.config import TrainConfig
from charlm.training.corpus_cache import id_counts
from charlm.training.data import get_tokenizer, prepare
from charlm.training.lines import LineBatches, line_batches
from charlm.training.resume import truncate_metrics
from charlm.training.rundir import MetricsLog
from charlm.training.state import ResetDraws, RunState
from charlm.training.windows import WindowStream, batchify


@dataclass
class RunContext:
    """What a run is made of: its config, process group, device, tokenizer, directory, data and model."""

    config: TrainConfig
    dist: distributed.Dist
    precision: str
    tokenizer: Tokenizer
    run_dir: Path
    metrics: MetricsLog
    data_info: dict[str, Any]
    val_chars_per_token: float
    val_data: Any  # (B_val, L_val) validation ids, this rank's rows
    val_lines: LineBatches  # this rank's share of the validation lines, padded as read (the per-line loss)
    model_config: ModelConfig
    ddp: nn.Module  # what the step runs: the model, or DDP around it (all-reduces gradients across ranks)
    claim: Claim | None = None  # the locked --out (rank 0); run_dir is its staging directory until the commit

    @property
    def device(self) -> torch.device:
        return self.dist.device

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    def place(self, saved: State) -> State:
        """A saved full-batch carried state on this rank's device, this rank's rows only."""
        return self.dist.shard_state(map_state(lambda t: t.to(self.device), saved))


def open_run(
    config: TrainConfig, resume_dir: Path | None = None, claim: Claim | None = None, progress: Progress = silent
) -> tuple[RunContext, RunState, bool]:
    """Build a run (or reopen ``resume_dir``): its context, its state, and whether a checkpoint was resumed.

    ``claim`` (from :func:`charlm.training.claim.claim_run_dir`, rank 0 only) says where the run writes:
    a new run's staging directory, or the resumed directory itself. ``progress`` hears the corpus passes.
    """
    set_threads(config.threads)
    seed_everything(config.seed)
    dist = distributed.setup(config.device)  # torchrun: this rank's slice of a data-parallel job
    precision = resolve_precision(config.precision, dist.device)  # may run a probe step: before the model
    source = resume_dir or (ckpt.resolve_model_dir(config.init_from) if config.init_from else None)
    if config.init_from and not resume_dir:
        assert source is not None
        config = adopt_source(config, source)
    progress = progress if dist.is_main else silent  # rank 0 reports
    claimed = claim.path if claim is not None else resume_dir
    run_dir = Path(str(dist.from_main(claimed if dist.is_main else None)))
    tokenizer = shared_tokenizer(config, source, dist, run_dir, progress)
    config = recipe_head(config, tokenizer.vocab_size)
    check_softmax(config.softmax, config.cutoffs, tokenizer.vocab_size)  # before the corpus is encoded
    loaded = _load_data(config, dist, tokenizer, run_dir, resume_dir, progress)
    stream, val_data, val_ids, info, chars_per_token, train_ids = loaded
    val_lines = line_batches(val_ids, tokenizer.eos_id, config.batch_size, (dist.rank, dist.world))
    model_config = run_model_config(config, tokenizer.vocab_size, train_ids, resume_dir)
    model = build_model(model_config).to(dist.device)
    ctx = RunContext(
        config, dist, precision, tokenizer, run_dir, MetricsLog(run_dir), info, chars_per_token, val_data, val_lines,
        model_config, dist.wrap(model), claim,
    )  # fmt: skip
    if config.init_from and not resume_dir:
        assert source is not None
        best = source / ckpt.BEST
        ckpt.load_weights(model, best if best.exists() else source / ckpt.LAST, device=dist.device)
    # foreach: the multi-tensor AdamW, the same arithmetic as the per-parameter loop (bit for bit the same
    # weights), faster on CPU (python -m bench.adamw_speed; docs/performance.md); a resumed run keeps its saved choice.
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, betas=(0.9, 0.99), weight_decay=config.weight_decay, foreach=True
    )
    run = RunState(model, optimizer, stream, ResetDraws(config.reset_at_eos, config.seed))
    resumed = resume_dir is not None and (run_dir / ckpt.TRAINER_STATE).exists()
    if resumed:
        restore(ctx, run, ckpt.load_trainer_state(run_dir))
        if ctx.is_main:
            truncate_metrics(run_dir, run.step)
    elif ctx.is_main:
        ctx.metrics.clear()
        tokenizer.save(run_dir)
    write_run_config(ctx, run)
    return ctx, run, resumed


def recipe_head(config: TrainConfig, vocab: int) -> TrainConfig:
    """The recipe's adaptive head becomes the full softmax for a vocabulary too small to gain from it."""
    chosen = "softmax" in (config.recipe or {}).get("set", ())
    if chosen and config.softmax == "adaptive" and vocab < ADAPTIVE_MIN_VOCAB and not config.cutoffs:
        return replace(config, softmax="full")
    return config


def restore(ctx: RunContext, run: RunState, state: dict[str, Any], rollback: bool = False) -> None:
    """Put ``run`` back where ``state`` was saved; one clear line when the checkpoint does not fit."""
    try:
        run.load_state_dict(state, ctx.place, rollback)
    except (KeyError, TypeError, ValueError, RuntimeError):
        raise CharlmError(
            f"{ctx.run_dir / ckpt.TRAINER_STATE} does not fit this run (another charlm version "
            "or model); start a new run or use --init-from"
        ) from None


def run_model_config(config: TrainConfig, vocab: int, train_ids: Any, resume_dir: Path | None) -> ModelConfig:
    """The model this run trains; an adaptive head without ``--cutoffs`` gets them from the token counts.

    A resumed run keeps the cutoffs saved in its config.json (the same counts would choose them again).
    """
    model_config = config.model_config(vocab)
    if model_config.softmax != "adaptive" or model_config.cutoffs:
        return model_config
    saved = ckpt.read_config(resume_dir).get("model", {}) if resume_dir is not None else {}
    cutoffs = saved.get("cutoffs") or choose_cutoffs(id_counts(train_ids, vocab))  # counted a slice at a time
    return replace(model_config, cutoffs=tuple(cutoffs))


def shared_tokenizer(
    config: TrainConfig, source: Path | None, dist: distributed.Dist, run_dir: Path, progress: Progress
) -> Tokenizer:
    """The run's tokenizer; under torchrun only rank 0 reads the corpus to fit it, the others load its copy.

    Rank 0 saves the fitted tokenizer into the run directory (on a file system every rank shares) before
    the barrier; a resumed or fine-tuned run loads it from its source on every rank.
    """
    if source is not None or not dist.active:
        return get_tokenizer(config, source, progress)
    if dist.is_main:
        tokenizer = get_tokenizer(config, None, progress)
        tokenizer.save(run_dir)
    dist.barrier()
    return tokenizer if dist.is_main else load_tokenizer(run_dir)


def _load_data(
    config: TrainConfig,
    dist: distributed.Dist,
    tokenizer: Tokenizer,
    run_dir: Path,
    resume_dir: Path | None,
    progress: Progress = silent,
) -> tuple[WindowStream, Any, Any, dict[str, Any], float, Any]:
    """Token memmaps -> the (B, L) training stream, the validation rows, and all training ids.

    Rank 0 encodes the corpus into ``<run>/corpus.ids`` once; every rank then memory-maps that file
    and reads only its own rows (views of the memmap, never a copy of the corpus).
    """
    if not dist.is_main:
        dist.barrier()  # rank 0 writes the token cache first; the others then reuse it
    data = prepare(config, tokenizer, run_dir, resuming=resume_dir is not None, progress=progress)
    if dist.is_main:
        dist.barrier()
    world = dist.world
    rows = batchify(data.train, config.batch_size * world)  # (B*W, L): rank r reads rows r*B .. (r+1)*B
    stream = WindowStream(dist.rows(rows), config.seq_len, device=dist.device)
    val_batch = max(1, min(config.batch_size, len(data.val) // (config.seq_len + 1) // world)) * world
    val_data = dist.rows(batchify(data.val, val_batch))  # (B_val, L_val)
    return stream, val_data, data.val, data.info, data.val_chars_per_token, data.train


def adopt_source(config: TrainConfig, source: Path) -> TrainConfig:
    """Fine-tuning keeps the source model's shape and tokenizer; the optimizer starts afresh."""
    saved = ckpt.read_config(source)
    model = ModelConfig.from_dict(saved["model"])  # a field the source predates has its default (its structure then)
    return replace(
        config,
        level=saved.get("tokenizer", {}).get("kind", config.level),
        init_from=str(source),
        **{k: getattr(model, k) for k in structure_fields()},
    )


def bpc(ctx: RunContext, nats_per_token: float) -> float:
    """Bits per character of the validation text for a loss in nats per token."""
    return nats_per_token / (ctx.val_chars_per_token * math.log(2.0))


def write_run_config(ctx: RunContext, run: RunState) -> None:
    """config.json: model, tokenizer, training config, data and a summary of where the run stands."""
    if not ctx.is_main:
        return
    summary = {
        "step": run.step,
        "tokens": run.tokens,
        "elapsed_s": round(run.elapsed, 2),
        "train_loss": run.train_loss,
        "best_val_loss": run.tracker.best,
        "best_step": run.tracker.best_step,
        "best_val_bpc": bpc(ctx, run.tracker.best),
        "best_val_lines_loss": run.best_val_lines,  # the same checkpoint, every line from the start state
        "best_val_lines_bpc": bpc(ctx, run.best_val_lines),
        "precision": ctx.precision,
        "device": str(ctx.device),
        "parameters": run.model.num_parameters(),
        "skipped_steps": run.guard.skipped,
        "rollbacks": run.guard.rollbacks,
        "clipped_steps": run.clipped,
    }
    summary = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in summary.items()}
    ckpt.write_config(
        ctx.run_dir,
        {
            "model": ctx.model_config.to_dict(),
            "tokenizer": {
                "kind": ctx.tokenizer.kind,
                "vocab_size": ctx.tokenizer.vocab_size,
                "fingerprint": ckpt.fingerprint(ctx.tokenizer),
            },
            "train": ctx.config.to_dict(),
            "data": ctx.data_info,
            "summary": summary,
        },
    )


def start_event(ctx: RunContext, run: RunState, resumed: bool) -> dict[str, Any]:
    """The ``start`` event: where the run lives, on what, how big, and the data."""
    interrupts.check()  # a start-up signal a library swallowed: stop before announcing the run
    return {
        "event": "start",
        "run_dir": str(ctx.claim.final if ctx.claim is not None else ctx.run_dir),
        "device": str(ctx.device),
        "precision": ctx.precision,
        "parameters": run.model.num_parameters(),
        "vocab_size": ctx.tokenizer.vocab_size,
        "resumed_at": run.step if resumed else None,
        **ctx.data_info,
    }
