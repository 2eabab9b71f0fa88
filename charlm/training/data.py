"""Training data of a run: the tokenizer (fitted, fine-tuned from, or resumed), the train/val memmaps,
and the validation loss over them (:func:`evaluate`).

The corpus is streamed twice at most (vocabulary, then ids into ``<run>/corpus.ids``); a resumed
run finds the cache and reads nothing but the memmap. See :mod:`charlm.training.corpus_cache`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from charlm.checkpoint import DYNAMIC_STATS, save_tensors
from charlm.errors import CharlmError
from charlm.models import gradstats
from charlm.models.base import AnyLM, BidirectionalLM
from charlm.models.scoring import token_logprobs
from charlm.progress import Progress, silent
from charlm.tokenizers import Tokenizer, load_tokenizer
from charlm.training.config import TrainConfig
from charlm.training.corpus_cache import check_unknown_rate, encode_file, fit_tokenizer
from charlm.training.windows import WindowStream, check_trainable, split_ids


@dataclass(frozen=True)
class TrainData:
    """Token-id arrays (memmap views) and what bits/char needs."""

    train: np.ndarray  # (N_train,)
    val: np.ndarray  # (N_val,)
    val_chars_per_token: float
    info: dict[str, Any]


def get_tokenizer(config: TrainConfig, source: Path | None, progress: Progress = silent) -> Tokenizer:
    """The run's tokenizer: loaded from ``source`` (resume, --init-from) or fitted on the corpus."""
    if source is not None:
        return load_tokenizer(source)
    return fit_tokenizer(
        config.corpus,
        config.level,
        config.encoding,
        config.errors,
        config.max_vocab,
        config.min_count,
        config.vocab_size,
        config.seed,
        config.segment,
        progress,
    )


def prepare(
    config: TrainConfig, tokenizer: Tokenizer, run_dir: Path, resuming: bool = False, progress: Progress = silent
) -> TrainData:
    """Encode (or reuse) the corpus and validation caches and split them (memmap views: nothing is copied).

    When ``resuming``, the run's cached tokens are used even if the corpus file has changed or moved
    since, so the resumed run is the same run. Without ``--val`` the held-out part is the end of the
    corpus, ``val_fraction`` of it (5%) capped at ``--val-tokens`` (:func:`charlm.training.windows.held_out`).
    """
    hint = (
        f"the corpus does not suit the tokenizer of {config.init_from}; train a new model instead"
        if config.init_from
        else "raise --max-vocab, lower --min-count or use --level bpe"
    )
    corpus = encode_file(
        config.corpus, tokenizer, run_dir, "corpus", config.encoding, config.errors, resuming, progress
    )
    check_unknown_rate(corpus, config.corpus, hint)
    if config.val:
        held = encode_file(config.val, tokenizer, run_dir, "val", config.encoding, config.errors, resuming, progress)
        train, val, chars, tokens = corpus.ids, held.ids, held.chars, held.tokens
    else:
        train, val = split_ids(corpus.ids, config.val_fraction, config.val_tokens)
        chars, tokens = corpus.chars, corpus.tokens
    check_trainable(len(train), config.batch_size, total=corpus.tokens)
    if len(val) < 2:
        where = config.val or "the validation part of the corpus"
        raise CharlmError(
            f"{where} has {len(val)} tokens; a validation loss needs at least 2; give a longer --val (or more text)"
        )
    info = {
        "corpus": str(Path(config.corpus).resolve()),
        "chars": corpus.chars,
        "tokens": corpus.tokens,
        "train_tokens": len(train),
        "val_tokens": len(val),
        "unk_rate": corpus.unk / max(corpus.tokens, 1),
    }
    return TrainData(train, val, chars / max(tokens, 1), info)


@torch.no_grad()
def evaluate(model: AnyLM, data: Any, seq_len: int, precision: str = "fp32") -> float:
    """Mean nats per token over a ``(B, L)`` id array (tensor or memmap), state carried across windows."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for x, y in WindowStream(data, seq_len, device=model.device).windows():
        logp, state = token_logprobs(model, x, y, precision, state)  # (B,T)
        total -= float(logp.double().sum())
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1)


def write_dynamic_stats(model: AnyLM, rows: np.ndarray | torch.Tensor, run_dir: Path) -> None:
    """Gradient RMS on the start of the training stream, for ``charlm eval --dynamic`` (dynamic_stats.safetensors).

    ``rows (B,L)`` is the batchified training stream; the first tokens of each row are read, in row order.
    """
    lm = model.forward_lm if isinstance(model, BidirectionalLM) else model  # eval adapts the forward half
    need = gradstats.BATCH * (gradstats.SEGMENT * gradstats.MAX_BATCHES + 1)
    flat = np.asarray(rows[:, : max(1, need // max(rows.shape[0], 1) + 1)]).reshape(-1)[:need]
    ids = torch.from_numpy(flat.astype(np.int64))
    save_tensors(run_dir / DYNAMIC_STATS, gradstats.gradient_rms(lm, ids))
