"""A run's n-gram: the training and validation ids of a model directory, and the build at the end of training.

The ids come from the run's corpus cache (``<run>/corpus.ids``, and ``val.ids`` with ``--val``),
split exactly as training split them (:func:`charlm.training.windows.split_ids`), so the n-gram
never counts the text its weight is tuned on. See :mod:`charlm.ngram.store` for what is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from charlm import checkpoint as ckpt
from charlm.errors import CharlmError
from charlm.models.base import LanguageModel
from charlm.ngram.store import Plan, build, default_order
from charlm.progress import Progress, silent
from charlm.tokenizers import Tokenizer
from charlm.training.config import TrainConfig
from charlm.training.windows import split_ids


def _cached_ids(directory: Path, name: str) -> np.ndarray | None:
    meta_path, ids_path = directory / f"{name}.json", directory / f"{name}.ids"
    if not meta_path.exists() or not ids_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return np.memmap(ids_path, dtype=np.dtype(meta["dtype"]), mode="r", shape=(int(meta["tokens"]),))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_ids(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """(train ids, validation ids) of a model directory's corpus cache, split as training split them."""
    directory = Path(directory)
    corpus = _cached_ids(directory, "corpus")
    if corpus is None:
        raise CharlmError(
            f"{directory} has no corpus cache (corpus.ids); the n-gram is counted from the run's own tokens"
        )
    train_config: dict[str, Any] = ckpt.read_config(directory).get("train") or {}
    if train_config.get("val"):
        val = _cached_ids(directory, "val")
        if val is None:
            raise CharlmError(f"{directory} has no val.ids for its --val file; the weight is tuned on it")
        return corpus, val
    return split_ids(corpus, float(train_config.get("val_fraction", 0.05)), train_config.get("val_tokens"))


def build_run_ngram(
    directory: Path, model: LanguageModel, tokenizer: Tokenizer, order: int | None, level: str, plan: Plan = Plan()
) -> dict[str, Any]:
    """Count the run's training ids into ``<run>/ngram.npz`` and tune its weight on the validation ids."""
    train, val = run_ids(directory)
    return build(
        directory,
        model,
        ckpt.fingerprint(tokenizer),
        tokenizer.vocab_size,
        train,
        val,
        order or default_order(level),
        tokenizer.eos_id,
        plan,
    )


def build_at_end(
    directory: Path, model: LanguageModel, tokenizer: Tokenizer, config: TrainConfig, progress: Progress = silent
) -> str | None:
    """The end-of-training build (forward models, unless ``ngram_order == 0``): a one-line summary.

    Counted within ``config.memory`` and pruned as ``config.ngram_prune`` says; ``progress`` hears the passes.
    """
    if config.ngram_order == 0 or config.direction != "forward":
        return None
    plan = Plan(int(config.memory), config.ngram_prune, progress)  # both checked by TrainConfig
    meta = build_run_ngram(directory, model, tokenizer, config.ngram_order, config.level, plan)
    tuned = meta.get("lines") or {}
    figures = ", ".join(f"{name} {tuned[key]:.4f}" for name, key in _FIGURES if key in tuned)
    pruned = f" (pruned at {' '.join(map(str, meta['pruned']))})" if any(meta["pruned"]) else ""
    return f"{meta['order']}-gram of {sum(meta['types']):,} n-grams built in {meta['build_s']:.1f} s{pruned}" + (
        f"; validation lines, nats/token: {figures}" if figures else ""
    )


_FIGURES = (("network", "network"), ("n-gram", "ngram"), ("mixed", "mixed_by_class"))
