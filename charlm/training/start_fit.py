"""Fitting a ``--start-state fitted`` model's start state to the starts of the training text's lines.

Training carries the state across lines, so the network learns to start a line from the state the
previous line left, never from zeros; scoring a sentence on its own (``score``, ``eval
--independent``, ``predict``, rescoring) starts from the start state. At the end of training the
start state is fitted, with every other weight frozen, to the first :data:`PREFIX` tokens of lines
drawn from the training ids: the state from which this network predicts a line's start best::

    training ids ... <eos> t1 t2 ... tK ...       inputs <eos> t1 .. tK-1 from the start state
                                                  loss   -mean ln p(t1 .. tK)   (only the start state moves)

The lines are drawn with a generator seeded by ``--seed`` and read from the memmapped training ids
at random offsets, so a run's fit is the same every time and costs nothing that grows with the
corpus. Nothing else in the model changes, so streamed evaluation is unchanged apart from a row's
first token.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from charlm import checkpoint as ckpt
from charlm.models.base import AnyLM, BidirectionalLM, LanguageModel, build_model
from charlm.models.scoring import padded_lines
from charlm.models.start import FittedStart
from charlm.training.lines import evaluate_lines
from charlm.training.ngram import run_ids
from charlm.training.setup import RunContext, bpc, write_run_config
from charlm.training.state import RunState

PREFIX = 16  # tokens of each line the fit reads: the start state hardly matters further in
STEPS = 100
LINES = 64  # lines per step
LR = 0.1
POOL = 2048  # line starts drawn for the fit
WINDOW = 1024  # tokens read at each random offset to find line starts in
PER_WINDOW = 2  # line starts taken from one offset (few, so the pool spreads over the text)


def line_starts(ids: Any, eos: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` line starts of ``ids`` (each up to :data:`PREFIX` tokens after an ``<eos>``), drawn at random offsets."""
    n = len(ids)
    found: list[np.ndarray] = []
    for _ in range(4 * count):  # a text with (almost) no line ends yields what it has
        if len(found) >= count or n < 2:
            break
        at = int(rng.integers(0, max(n - 1, 1)))
        window = np.asarray(ids[at : at + WINDOW], dtype=np.int64)
        ends = np.flatnonzero(window[:-1] == eos)
        for end in rng.permutation(ends)[:PER_WINDOW]:
            line = window[end + 1 : end + 1 + PREFIX]
            stop = np.flatnonzero(line == eos)
            found.append(line[: stop[0] + 1] if stop.size else line)
    return [line for line in found if line.size][:count]


def fit_start_state(model: LanguageModel, train_ids: Any, eos: int, seed: int, steps: int = STEPS) -> dict[str, Any]:
    """Fit ``model.start`` (a :class:`FittedStart`) in place; returns the loss on the drawn line starts before and after."""
    start = model.start
    if not isinstance(start, FittedStart):
        return {}
    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    lines = line_starts(train_ids, eos, POOL, rng)
    if len(lines) < 2:
        return {"fitted": False, "why": "too few line ends in the training text"}
    was_training = model.training
    model.eval()  # no dropout: the state is fitted for scoring
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    params = [p for p in start.leaves if p.is_floating_point()]  # a clock or a counter stays as it is
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=LR)
    device = model.device

    def loss_of(batch: list[np.ndarray]) -> torch.Tensor:
        inputs, targets, mask = padded_lines(batch, eos)  # (B,T) each
        y, _ = model.features(inputs.to(device), None)  # (B,T,D) from the start state
        keep = mask.to(device)
        # the training loss over the real tokens only (an adaptive head computes just their clusters)
        return model.loss_from(y[keep].unsqueeze(0), targets.to(device)[keep].unsqueeze(0))

    try:
        with torch.no_grad():
            before = float(loss_of(lines))
        for _ in range(steps):
            pick = rng.choice(len(lines), size=min(LINES, len(lines)), replace=False)
            loss = loss_of([lines[i] for i in pick])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            after = float(loss_of(lines))
    finally:
        for p in params:
            p.requires_grad_(False)
        for p in frozen:
            p.requires_grad_(True)
        model.train(was_training)
    if not math.isfinite(after) or after > before:  # never leave it worse than zeros
        for p in params:
            p.data.zero_()
        after = before
    took = round(time.perf_counter() - began, 2)
    return {"fitted": True, "lines": len(lines), "steps": steps, "loss_before": before, "loss_after": after, "s": took}


def fit_at_end(ctx: RunContext, run: RunState) -> tuple[LanguageModel, str | None]:
    """The end of a run (rank 0): the best checkpoint with its start state fitted and saved, and a summary line.

    Returns the forward model to tune the n-gram's weights with (the best weights, as users load
    them) and a one-line summary (None when the model has no fitted start state). On one process the
    best checkpoint's per-line validation loss is measured again with the fitted start.
    """
    model: AnyLM = build_model(ctx.model_config).to(ctx.device)
    best = ctx.run_dir / ckpt.BEST
    ckpt.load_weights(model, best if best.exists() else ctx.run_dir / ckpt.LAST, device=ctx.device)
    forward = model.forward_lm if isinstance(model, BidirectionalLM) else model
    if not isinstance(forward.start, FittedStart):
        return forward, None
    train_ids, _ = run_ids(ctx.run_dir)
    steps = min(STEPS, max(10, run.step // 5))  # a short run gets a short fit
    fit = fit_start_state(forward, train_ids, ctx.tokenizer.eos_id, ctx.config.seed, steps)
    if not fit.get("fitted"):
        return forward, f"start state left at zeros: {fit.get('why')}"
    ckpt.save_weights(model, best)
    line = f"start state fitted to {fit['lines']} line starts: {fit['loss_before']:.3f} -> {fit['loss_after']:.3f} nats/token in {fit['s']:.1f} s"
    if ctx.dist.world == 1:
        lines, _ = evaluate_lines(model, ctx.val_lines, ctx.config.seq_len, ctx.precision)
        line += f"; validation per line {bpc(ctx, run.best_val_lines):.4f} -> {bpc(ctx, lines):.4f} bits/char"
        run.best_val_lines = lines
        write_run_config(ctx, run)
    return forward, line
