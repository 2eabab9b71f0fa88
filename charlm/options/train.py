"""The options of a training run and of a tokenizer, declared once (``charlm train``, ``charlm tokenize``,
:class:`charlm.TrainConfig`).

Options whose default is "from the recipe" (``recipe=True``) are None until
:func:`charlm.training.recipes.apply_recipe` fills them for the budget and device, in ``charlm
train`` and ``charlm.train`` alike.
"""

from __future__ import annotations

from typing import Any

from charlm.durations import Duration, SaveEvery
from charlm.errors import BadOption, CharlmError
from charlm.io import check_codec
from charlm.models.options import MODEL
from charlm.opt import Opt
from charlm.sizes import MemorySize, Prune
from charlm.values import Choice, Device, Flag, Float, Int, Value

LEVELS = ("char", "word", "bpe", "unigram")  # charlm.tokenizers.LEVELS (tests check they agree)
SEGMENTS = ("auto", "none", "zh")  # charlm.tokenizers.segment.SEGMENTS
ERRORS = ("strict", "replace", "ignore")  # charlm.io.ERRORS
SCHEDULES = ("constant", "cosine", "plateau")
TRAIN_PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SEED_MAX = 2**32 - 1
FRACTION = Float(0.0, 1.0, high_open=True)


class Encoding(Value):
    """A known *text* codec (hex, rot13, base64 ... are refused)."""

    __name__ = "ENCODING"
    bad = ("bogus", "hex")

    def parse(self, text: str) -> str:
        if not text:
            raise BadOption("is empty; give an encoding such as utf-8")
        try:
            check_codec(text, "strict")
        except CharlmError as exc:  # the problem, as a wrong option
            raise BadOption(str(exc)) from None
        return text

    def check(self, value: Any) -> str:
        return super().check(value)


TOKENIZER = (
    Opt("level", Choice(LEVELS), "char", "Tokenizer: char, word, bpe or unigram."),
    Opt("max_vocab", Int(3), None, "Char/word: keep at most this many tokens (at least 3).", optional=True),
    Opt("min_count", Int(1), 1, "Char/word: drop tokens seen fewer times."),
    Opt("vocab_size", Int(3, 1_000_000), 2000, "bpe/unigram: number of pieces."),
    Opt("segment", Choice(SEGMENTS), "auto", "Word level: auto (cut Chinese text into words, refuse other text with few spaces), none (split on whitespace only) or zh (Chinese words with jieba)."),
    Opt("encoding", Encoding(), "utf-8", "Text encoding of the input file."),
    Opt("errors", Choice(ERRORS), "strict", "On undecodable bytes: strict, replace or ignore."),
    Opt("device", Device(), "auto", "auto, cpu or cuda."),
    Opt("seed", Int(0, SEED_MAX), 1234, "Random seed."),
)  # fmt: skip

OPTIMISATION = (
    Opt("seq_len", Int(1, 1_000_000), None, "Truncated BPTT length in tokens", recipe=True),
    Opt("train.batch_size", Int(1, 1_000_000), None, "Parallel token streams per step", recipe=True),
    Opt("lr", Float(0.0, low_open=True), None, "Peak AdamW learning rate", recipe=True),
    Opt("weight_decay", Float(0.0), None, "AdamW decoupled weight decay", recipe=True),
    Opt("warmup", Int(0), None, "Linear learning-rate warm-up steps", recipe=True),
    Opt("schedule", Choice(SCHEDULES), "cosine", "Learning-rate schedule: cosine (over the budget), constant, or plateau (halve after 2 evaluations without a new best)."),
    Opt("clip", Float(0.0), 1.0, "Gradient-norm clipping threshold (0 = off)."),
    Opt("patience", Int(1), None, "Early stopping: stop after this many evaluations without a better validation loss.", optional=True),
)  # fmt: skip

BUDGET = (
    Opt("steps", Int(1), None, "Stop after this many steps (the run's total, also when resuming).", optional=True),
    Opt("epochs", Float(0.0, 1e6, low_open=True), None, "Stop after this many passes over the data.", optional=True),
    Opt("time", Duration(), None, "Stop after this long, e.g. 90s, 10m, 1h [default: 10m if no budget].", optional=True),
    Opt("eval_every", Int(1), 100, "Evaluate on validation (and refresh loss.png) every N steps."),
    Opt("save_every", SaveEvery(), 100, "Write a resumable checkpoint every N steps and/or minutes: 200, 10m or 200,10m."),
    Opt("log_every", Int(1), 10, "Append a step record to metrics.jsonl every N steps."),
    Opt("val_fraction", Float(0.0, 1.0, low_open=True, high_open=True), 0.05, "Without --val: the share of the corpus held out for validation (its end)."),
    Opt("val_tokens", Int(2), 500_000, "Without --val: validation is the end of the corpus, its last 5% but at most this many tokens, so validation does not grow with the corpus.", optional=True),
    Opt("train.precision", Choice(TRAIN_PRECISIONS), "auto", "auto (bf16 where the GPU/CPU runs it natively, else fp32), fp32, bf16 or fp16."),
    Opt("threads", Int(1, 4096), None, "CPU threads [default: all].", optional=True),
    Opt("ngram_order", Int(0, 20), None, "Order of the n-gram built at the end (charlm ngram) [default: 6 char, 5 word, 4 subword]; 0: none.", optional=True),
    Opt("memory", MemorySize(), "4G", "Memory budget of the n-gram build (counts past it are sorted to disk beside the model and merged), e.g. 512M, 4G."),
    Opt("ngram_prune", Prune(), "auto", "Drop n-grams seen at most this often, per order: '0 0 1' drops trigrams and longer seen once (one number N: '0 0 N'; 0: none); auto: only where the n-gram would not fit in --memory."),
    Opt("force", Flag(), False, "Replace a model already in --out."),
)  # fmt: skip

OPTIONS = (*TOKENIZER, *MODEL, *OPTIMISATION, *BUDGET)
