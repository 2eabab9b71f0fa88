"""The n-gram of a model directory: built from the training ids, tuned on the validation ids, kept as

::

    <model>/ngram.npz    the back-off tables (keys, ln p, ln back-off per order; no pickles)
    <model>/ngram.json   order, vocabulary fingerprint, discounts, sizes, the tuned weights and
                         the held-out figures they came from (lines: per-line scoring, stream: eval)

``ngram.json`` is small and read on every load; ``ngram.npz`` only when a command mixes the n-gram in.
A model has an n-gram when both files are there; a rebuild removes ``ngram.json`` first and writes it
last, so a kill leaves the old pair, no n-gram, or the new pair. Counting past its memory budget
sorts runs into ``<model>/.ngram-spill-*/`` (:mod:`charlm.ngram.counting`), removed when the build
ends, fails or is interrupted; one a SIGKILL left behind is removed by the next build.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from charlm.errors import CharlmError
from charlm.io import fsync_dir, write_json_atomic
from charlm.layout import NGRAM
from charlm.layout import NGRAM_META as NGRAM_META_FILE
from charlm.models.base import LanguageModel
from charlm.ngram import tune
from charlm.ngram.counting import DEFAULT_MEMORY, count_stream
from charlm.ngram.counts import Counts
from charlm.ngram.kneser_ney import estimate
from charlm.ngram.model import NgramModel
from charlm.progress import Progress, silent
from charlm.sizes import size_text

NGRAM_FILE, NGRAM_META = NGRAM, NGRAM_META_FILE
DEFAULT_ORDER = {"char": 6, "word": 5, "bpe": 4, "unigram": 4}
DEFAULT_MODE = "context"  # what --ngram-weight auto uses: "fixed" or "context" (one weight per matched length)
SPILL_PREFIX = ".ngram-spill-"  # the temporary directory of sorted runs, inside the model directory while counting


@dataclass(frozen=True)
class Plan:
    """How to count: the memory budget in bytes, the pruning (``"auto"`` or counts per order), progress."""

    memory: int = DEFAULT_MEMORY
    prune: str | tuple[int, ...] = "auto"
    progress: Progress = silent


def default_order(level: str) -> int:
    """The n-gram order a level gets unless told: 6 for chars, 5 for words, 4 for subwords."""
    return DEFAULT_ORDER.get(level, 4)


def read_meta(directory: Path) -> dict[str, Any] | None:
    """The model directory's ``ngram.json``, or None when it has no n-gram."""
    path = Path(directory) / NGRAM_META
    if not path.exists() or not (Path(directory) / NGRAM_FILE).exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise CharlmError(f"cannot read {path}; rebuild it with: charlm ngram build --model {directory}") from None


def load_ngram(directory: Path) -> NgramModel:
    return NgramModel.load(Path(directory) / NGRAM_FILE)


def _tuned(held: tune.Held, order: int) -> dict[str, Any]:
    fixed = float(tune.fit(held)[0])
    by_context = tune.fit(held, buckets=order, start=fixed)  # lengths never met keep the fixed weight
    return {
        "lambda": fixed,
        "lambda_by_context": [float(x) for x in by_context],
        **tune.report(held, fixed, by_context),
    }


def _count(train: np.ndarray, order: int, vocab_size: int, eos: int, directory: Path, plan: Plan) -> Counts:
    """The counts, spilled (if need be) to a temporary directory beside the model, removed whatever happens."""
    for stale in directory.glob(SPILL_PREFIX + "*"):  # a killed build's (the caller holds the directory)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=SPILL_PREFIX) as spill:
        return count_stream(train, order, vocab_size, eos, Path(spill), plan.memory, plan.prune, plan.progress)


def build(
    directory: Path,
    model: LanguageModel | None,
    tokenizer_fingerprint: str,
    vocab_size: int,
    train: np.ndarray,
    val: np.ndarray,
    order: int,
    eos: int,
    plan: Plan = Plan(),
) -> dict[str, Any]:
    """Count ``train``, estimate the model, tune the weights on ``val`` (needs ``model``) and save both files."""
    started = time.perf_counter()
    counts = _count(train, order, vocab_size, eos, Path(directory), plan)
    pruned = list(counts.pruned)
    ngram = estimate(counts)
    del counts  # the model keeps the keys; the counts and suffixes go
    built_s = time.perf_counter() - started
    meta: dict[str, Any] = {
        "format": 1,
        "order": ngram.order,
        "vocab_size": ngram.vocab_size,
        "tokenizer": tokenizer_fingerprint,
        "train_tokens": len(train),
        "types": [int(k.size) for k in ngram.keys],
        "discounts": ngram.discounts,
        "build_s": round(built_s, 3),
        "mode": DEFAULT_MODE,
        "memory": size_text(plan.memory),
        "prune": plan.prune if isinstance(plan.prune, str) else list(plan.prune),
        "pruned": pruned,
    }
    if model is not None and len(val) > 1:
        meta["lines"] = _tuned(tune.held_lines(model, ngram, np.asarray(val), eos), ngram.order)
        meta["stream"] = _tuned(tune.held_stream(model, ngram, np.asarray(val), eos), ngram.order)
    meta["tune_s"] = round(time.perf_counter() - started - built_s, 3)
    # The pair is replaced in an order a kill at any moment leaves readable: ngram.json goes first (no
    # n-gram), then the new ngram.npz, then the new ngram.json (the commit point), never old and new mixed.
    (Path(directory) / NGRAM_META).unlink(missing_ok=True)
    fsync_dir(Path(directory))
    ngram.save(Path(directory) / NGRAM_FILE)
    write_json_atomic(Path(directory) / NGRAM_META, meta)
    return meta
