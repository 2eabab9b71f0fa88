"""Corpus evaluation: perplexity, bits per char and OOV rate of whole files, larger than memory.

Two modes. *Streamed* (the default) scores the file as one text with the state carried across
lines, the first token conditioned on ``<eos>``. To use the batch dimension, the file is cut at line
starts into ``R`` contiguous byte segments read in parallel, each row carrying its own state (the
trainer's evaluation layout); a row starts from a fresh state at a line start, so the only
difference from one long row is ``R - 1`` forgotten contexts at line boundaries::

    file bytes:  |---- row 0 ----|---- row 1 ----|---- row 2 ----|      (cut just after a newline)
    window k:     row r feeds its next W tokens; padding only after a row's own end

*Independent* scores every line as a sentence (fresh state, ``<eos>`` counted, see
:mod:`charlm.eval.score`); an empty line is a sentence of just ``<eos>``. Files are read in chunks that
end at a newline, so every tokenizer's ``encode`` sees whole lines and nothing is held in full.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from charlm import io as charlm_io
from charlm.errors import BadOption
from charlm.eval.cache import CacheConfig, NeuralCache, cached_logprobs
from charlm.eval.dynamic import DynamicEval
from charlm.eval.rows import RowTokens
from charlm.eval.score import Totals, check_precision, score_sentences
from charlm.io import TextReader, check_codec, check_text_file, empty_file, line_starts
from charlm.models.base import LanguageModel
from charlm.models.scoring import token_logprobs
from charlm.options import check
from charlm.progress import Progress, silent
from charlm.tokenizers import Tokenizer

if TYPE_CHECKING:
    from charlm.eval.mix import NgramMix
    from charlm.ngram.spelling import Spelling

MIN_ROW_BYTES = 32 << 10


@dataclass(frozen=True)
class CorpusScore(Totals):
    """A whole text's score: ``mode`` is stream (state carried) or independent (line by line)."""

    path: str = ""
    mode: str = "stream"
    rows: int = 1  # parallel rows the stream was cut into
    cache: dict[str, Any] | None = None  # the neural cache's settings, when one was used
    ngram: dict[str, Any] | None = None  # the n-gram mixed in and its weights, when one was
    dynamic: dict[str, Any] | None = None  # dynamic evaluation's settings, when used


def _stream(
    model: LanguageModel,
    tokenizer: Tokenizer,
    rows: list[RowTokens],
    window: int,
    precision: str,
    tick: Callable[[], None],
    scorer: WindowScorer | None = None,
) -> tuple[float, float, int, int]:
    """(nats, nats without OOV, tokens, OOV) of ``rows`` read in parallel windows, state carried per row.

    ``scorer(inputs, targets, state)`` gives each window's log-probabilities (default: the model's own;
    see :func:`_window_scorer` for the cache and dynamic evaluation).
    """
    total = total_no_oov = 0.0
    tokens = oov = 0
    state = None
    score = scorer or _window_scorer(model, precision)
    unk, eos = tokenizer.unk_id, tokenizer.eos_id
    while True:
        parts = [row.take(window) for row in rows]
        if not any(p.size for p in parts):
            break
        width = max(p.size for p in parts)
        targets = torch.full((len(rows), width), eos, dtype=torch.long)  # (R,W); padding after each row's end
        inputs = torch.full((len(rows), width), eos, dtype=torch.long)  # (R,W)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        for r, (row, part) in enumerate(zip(rows, parts, strict=True)):
            if part.size:
                targets[r, : part.size] = torch.from_numpy(part)
                inputs[r, 0] = row.prev
                inputs[r, 1 : part.size] = targets[r, : part.size - 1]
                mask[r, : part.size] = True
                row.prev = int(part[-1])
        logp, state = score(inputs, targets, state)  # (R,W)
        if any(row.extra.any() for row in rows):  # unknown words priced by their spelling
            logp = logp.double()
            for r, row in enumerate(rows):
                logp[r, : row.extra.size] += torch.from_numpy(row.extra)
        known = mask & (targets != unk)
        total += float(logp[mask].double().sum())
        total_no_oov += float(logp[known].double().sum())
        tokens += int(mask.sum())
        oov += int((mask & (targets == unk)).sum())
        tick()
    return total, total_no_oov, tokens, oov


WindowScorer = Callable[[torch.Tensor, torch.Tensor, Any], tuple[torch.Tensor, Any]]


def _window_scorer(
    model: LanguageModel,
    precision: str,
    cache: CacheConfig | None = None,
    dynamic: DynamicEval | None = None,
    ngram: NgramMix | None = None,
) -> WindowScorer:
    """How each streamed window is scored: the model alone, with each row's neural cache, and/or adapting.

    ``ngram`` mixes an n-gram of each row's history into the model's scores, before the cache mixes in.
    """
    memory = NeuralCache(cache) if cache is not None else None
    mix = ngram.stream() if ngram is not None else None

    def score(inputs: torch.Tensor, targets: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        adjust = (lambda logp: mix(logp, targets)) if mix is not None else None
        if dynamic is not None:
            return dynamic.logprobs(inputs, targets, precision, state, memory, adjust)
        if memory is not None:
            return cached_logprobs(model, inputs, targets, precision, state, memory, adjust)
        logp, state = token_logprobs(model, inputs, targets, precision, state)
        return (adjust(logp) if adjust is not None else logp), state

    return score


def eval_file(
    model: LanguageModel,
    tokenizer: Tokenizer,
    path: str | Path,
    independent: bool = False,
    batch_size: int = 32,
    window: int = 256,
    precision: str = "fp32",
    encoding: str = "utf-8",
    errors: str = "strict",
    progress: Progress = silent,
    chunk_bytes: int | None = None,
    min_row_bytes: int = MIN_ROW_BYTES,
    cache: CacheConfig | None = None,
    dynamic: DynamicEval | None = None,
    ngram: NgramMix | None = None,
    spelling: Spelling | None = None,
) -> CorpusScore:
    """Score a file streamed (state carried, ``batch_size`` parallel rows) or line by line (``independent``).

    ``ngram`` mixes an n-gram into every token's probability (:mod:`charlm.eval.mix`); ``spelling``
    (word models, ``--unk spell``) adds to each unknown word's ``<unk>`` the price of its spelling.
    ``progress`` hears the bytes read (:mod:`charlm.progress`); memory holds a chunk per row, whatever
    the file's size.

    ``cache`` mixes a neural cache of each row's history into the streamed scores. ``dynamic`` adapts the
    weights after each segment (:mod:`charlm.eval.dynamic`): one row, windows of its segment length.
    """
    check("batch_size", batch_size)
    check("seq_len", window)
    _check_modes(independent, cache, dynamic)
    if dynamic is not None:
        batch_size, window = 1, dynamic.config.segment  # the paper's setting: one stream, short segments
    check_precision(precision)
    check_codec(encoding, errors)
    size = check_text_file(path)  # also refuses what is not a path at all (None, a number)
    path = Path(path)
    rows = 1 if independent else max(1, min(batch_size, size // max(min_row_bytes, 1)))
    readers = _row_readers(path, size, rows, encoding, errors, chunk_bytes or None, min_row_bytes)

    def tick() -> None:
        progress("evaluating", sum(r.done for r in readers), size)

    model.eval()
    with torch.inference_mode(dynamic is None):
        if independent:
            lines = iter(readers[0])
            result = _independent(model, tokenizer, lines, batch_size, precision, tick, ngram=ngram, spelling=spelling)
        else:
            streams = [RowTokens(iter(r), tokenizer, spelling) for r in readers]
            scorer = _window_scorer(model, precision, cache, dynamic, ngram)
            total, no_oov, tokens, oov = _stream(model, tokenizer, streams, window, precision, tick, scorer)
            result = CorpusScore(
                logprob=total,
                tokens=tokens,
                chars=sum(s.chars for s in streams),
                oov=oov,
                logprob_no_oov=no_oov,
                mode="stream",
                rows=len(streams),
                cache=cache.to_dict() if cache is not None else None,
                dynamic=dynamic.config.to_dict() if dynamic is not None else None,
            )
    if not any(r.seen_text for r in readers):
        raise empty_file(path)
    return replace(result, path=str(path), ngram=ngram.to_dict() if ngram is not None else None)


def _check_modes(independent: bool, cache: CacheConfig | None, dynamic: DynamicEval | None) -> None:
    """The cache and dynamic evaluation read the stream's history, which lines scored alone do not have."""
    if independent and cache is not None:
        raise BadOption("--cache reads the stream's history; drop --independent (lines have no history)")
    if independent and dynamic is not None:
        raise BadOption("--dynamic adapts to the stream's history; drop --independent (lines have no history)")


def _row_readers(
    path: Path, size: int, rows: int, encoding: str, errors: str, chunk_bytes: int | None, min_row_bytes: int
) -> list[TextReader]:
    """A reader per row, cut at line starts; the rows share one chunk's worth of memory (32 rows: 32 KB each)."""
    cuts = line_starts(path, size, rows, encoding)
    chunk_bytes = chunk_bytes or max(min_row_bytes, charlm_io.CHUNK_BYTES // max(len(cuts) - 1, 1))
    return [TextReader(path, encoding, errors, a, b, chunk_bytes) for a, b in itertools.pairwise(cuts)]


def _lines(chunks: Iterator[str]) -> Iterator[str]:
    for chunk in chunks:
        pieces = chunk.split("\n")
        yield from pieces[:-1]
        if pieces[-1]:
            yield pieces[-1]  # the file's last line, without a newline


def _independent(
    model: LanguageModel,
    tokenizer: Tokenizer,
    chunks: Iterator[str],
    batch_size: int,
    precision: str,
    tick: Callable[[], None],
    group: int = 4096,
    ngram: NgramMix | None = None,
    spelling: Spelling | None = None,
) -> CorpusScore:
    """Every line scored as a sentence, ``group`` lines at a time (sorted by length inside a group)."""
    totals = [0.0, 0.0, 0, 0, 0]  # nats, nats without OOV, tokens, chars, oov
    lines = _lines(chunks)
    while batch := [line for _, line in zip(range(group), lines, strict=False)]:
        scores = score_sentences(
            model, tokenizer, batch, batch_size=batch_size, precision=precision, ngram=ngram, spelling=spelling
        )
        for s in scores:
            for k, v in enumerate((s.logprob, s.logprob_no_oov, s.tokens, s.chars, s.oov)):
                totals[k] += v
        tick()
    return CorpusScore(
        logprob=totals[0],
        tokens=int(totals[2]),
        chars=int(totals[3]),
        oov=int(totals[4]),
        logprob_no_oov=totals[1],
        mode="independent",
        rows=1,
    )


def score_text(
    model: LanguageModel,
    tokenizer: Tokenizer,
    text: str,
    window: int = 256,
    rows: int = 1,
    precision: str = "fp32",
    path: str = "",
) -> CorpusScore:
    """Score an in-memory text as one stream (state carried), cut at line starts into ``rows`` rows."""
    pieces = text.split("\n")
    lines = [line + "\n" for line in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    per_row = max(1, math.ceil(len(lines) / max(rows, 1)))
    parts = ["".join(lines[i : i + per_row]) for i in range(0, len(lines), per_row)] or [""]
    streams = [RowTokens(iter([p]), tokenizer) for p in parts]
    model.eval()
    with torch.inference_mode():
        total, no_oov, tokens, oov = _stream(model, tokenizer, streams, window, precision, lambda: None)
    return CorpusScore(
        logprob=total,
        tokens=tokens,
        chars=len(text),
        oov=oov,
        logprob_no_oov=no_oov,
        path=path,
        mode="stream",
        rows=len(streams),
    )
