"""TrainConfig: every knob of a training run, validated in one place.

A frozen dataclass beside its consumer (:mod:`charlm.training.loop`); the CLI maps options onto it
one to one, and config.json stores it so a run can be inspected and resumed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import PurePath
from typing import Any

from charlm.errors import BadOption
from charlm.models.config import ModelConfig
from charlm.models.registry import validate_model
from charlm.models.softmax import ADAPTIVE_MIN_VOCAB, parse_cutoffs, too_small
from charlm.tokenizers.segment import check_segment

DEFAULT_TIME_S = 600.0
# Fields added after runs were first saved, with the value those runs trained with (resuming them keeps it).
BEFORE_ADDED = {"start_state": "zero", "reset_at_eos": 0.0}
MAX_DURATION_S = 366 * 24 * 3600.0
SCHEDULES = ("constant", "cosine", "plateau")
# Field metadata, declared once on the fields below: what a resumed run may change (the budget,
# cadences and runtime); everything else must match the run being resumed. Which fields are model
# structure is declared on ModelConfig's fields (:func:`charlm.models.config.structure_fields`).
RESUMABLE = {"resumable": True}


@dataclass(frozen=True)
class TrainConfig:
    """A training run: data, tokenizer, model, optimisation, budget and runtime."""

    corpus: str
    out: str | None = None
    checkpoints: str = field(default="checkpoints", metadata=RESUMABLE)
    val: str | None = None
    val_fraction: float = 0.05
    encoding: str = "utf-8"
    errors: str = "strict"
    # tokenizer
    level: str = "char"
    max_vocab: int | None = None
    min_count: int = 1
    vocab_size: int = 2000
    segment: str = "auto"  # word level: auto | none | zh (charlm.tokenizers.segment)
    # model
    arch: str = "lstm"
    layers: int = 2
    hidden: int = 512
    embed: int = 128
    dropout: float = 0.2
    tie_weights: bool = False
    residual: bool = False
    direction: str = "forward"
    attention: int = 0
    wdrop: float = 0.0
    dropoute: float = 0.0
    locked_dropout: bool = False
    clock_modules: int = 4
    mogrify_rounds: int = 5
    mogrify_rank: int = 0
    start_state: str = "zero"  # where a line starts: zeros, or a learned state (issue 13)
    softmax: str = "full"  # full | adaptive: the clustered head for word vocabularies (issue 9)
    cutoffs: tuple[int, ...] | None = None  # adaptive: cluster ends; None = chosen from the token frequencies
    # sentence starts (issue 13): reset each row's carried state at a line end with this probability
    reset_at_eos: float = 0.0
    # optimisation
    seq_len: int = 128
    batch_size: int = 32
    lr: float = 4e-3
    weight_decay: float = 0.2
    warmup: int = 50
    schedule: str = "cosine"  # constant | cosine (over the budget) | plateau (halve on a validation plateau)
    clip: float = 1.0
    patience: int | None = field(default=None, metadata=RESUMABLE)  # stop after this many evals without a new best
    init_from: str | None = None  # fine-tune: start from this model directory's weights and tokenizer
    # budget: the first of steps / epochs / time to run out ends training (default: 10 minutes)
    steps: int | None = field(default=None, metadata=RESUMABLE)
    epochs: float | None = field(default=None, metadata=RESUMABLE)
    time: float | None = field(default=None, metadata=RESUMABLE)
    eval_every: int = field(default=100, metadata=RESUMABLE)
    save_every: int | None = field(default=100, metadata=RESUMABLE)  # steps between resumable checkpoints
    save_every_s: float | None = field(default=None, metadata=RESUMABLE)  # and/or seconds between them
    log_every: int = field(default=10, metadata=RESUMABLE)
    # runtime
    device: str = field(default="auto", metadata=RESUMABLE)
    precision: str = field(default="auto", metadata=RESUMABLE)
    seed: int = 1234
    threads: int | None = field(default=None, metadata=RESUMABLE)
    force: bool = field(default=False, metadata=RESUMABLE)
    ngram_order: int | None = field(default=None, metadata=RESUMABLE)  # n-gram at the end: None = per level, 0 = none
    # the recipe `charlm train` took unset options from (charlm.training.recipes): name, why, budget, fields set
    recipe: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.cutoffs, list):  # config.json stores the tuple as a list
            object.__setattr__(self, "cutoffs", tuple(self.cutoffs))
        try:
            self._validate()
        except TypeError:  # a value of the wrong kind (e.g. a string from a hand-edited config.json)
            raise BadOption(
                "a training option has a value of the wrong kind; check the options or config.json"
            ) from None
        validate_model(self.model_config(vocab_size=1), vocab_known=False)  # model options, before any work
        self._validate_softmax()

    def _validate_softmax(self) -> None:
        """``--softmax adaptive`` is for word vocabularies of a few thousand words and more."""
        if self.softmax != "adaptive":
            return
        if self.level != "word":
            raise BadOption(
                f"--softmax adaptive is for --level word (got --level {self.level}): a char or subword "
                "vocabulary is small enough for the full softmax"
            )
        if self.max_vocab is not None and self.max_vocab < ADAPTIVE_MIN_VOCAB:
            raise BadOption(too_small(self.max_vocab))
        if self.cutoffs and self.max_vocab is not None and self.cutoffs[-1] >= self.max_vocab:
            raise BadOption(f"--cutoffs must stay below --max-vocab {self.max_vocab:,}")

    def _validate(self) -> None:
        for name in ("layers", "hidden", "embed", "seq_len", "batch_size", "eval_every", "log_every"):
            _check(name, getattr(self, name), 1, integer=True)
        _check("vocab_size", self.vocab_size, 3, integer=True)
        _check("min_count", self.min_count, 1, integer=True)
        _check("warmup", self.warmup, 0, integer=True)
        _check("seed", self.seed, 0, integer=True, high=2**32)
        for name in ("steps", "save_every", "patience", "threads"):
            if getattr(self, name) is not None:
                _check(name, getattr(self, name), 1, integer=True)
        if self.max_vocab is not None:
            _check("max_vocab", self.max_vocab, 3, integer=True)
        for name in ("epochs", "time", "save_every_s", "lr"):
            if getattr(self, name) is not None:
                _check(name, getattr(self, name), 0.0, low_open=True)
        _check("weight_decay", self.weight_decay, 0.0)
        _check("clip", self.clip, 0.0)
        _check("dropout", self.dropout, 0.0, high=1.0)
        _check("val_fraction", self.val_fraction, 0.0, high=1.0, low_open=True)
        if self.schedule not in SCHEDULES:
            raise BadOption(f"unknown --schedule {self.schedule!r}; use {', '.join(SCHEDULES)}")
        if self.errors not in ("strict", "replace", "ignore"):
            raise BadOption(f"unknown --errors {self.errors!r}; use strict, replace or ignore")
        if self.ngram_order is not None:
            _check("ngram_order", self.ngram_order, 0, integer=True)
        p = self.reset_at_eos
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise BadOption(f"--reset-at-eos must be in [0, 1] (got {p!r})")
        check_segment(self.level, self.segment)
        if self.recipe is not None and not isinstance(self.recipe, dict):
            raise BadOption(f"the recipe record must be a mapping (got {self.recipe!r})")

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The model this run trains (every ModelConfig field has a TrainConfig field of the same name)."""
        return ModelConfig.from_dict({**asdict(self), "vocab_size": vocab_size, "cutoffs": self.cutoffs or ()})

    @property
    def time_budget(self) -> float | None:
        """Seconds of training allowed; 10 minutes when no budget at all was given."""
        if self.steps is None and self.epochs is None and self.time is None:
            return DEFAULT_TIME_S
        return self.time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in known})

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> TrainConfig:
        """A config from command-line values (see :func:`option_values`); other keys are ignored."""
        return cls.from_dict(option_values(options))

    @classmethod
    def resumable(cls) -> frozenset[str]:
        """The fields a resumed run may change (declared with ``metadata=RESUMABLE``)."""
        return frozenset(f.name for f in fields(cls) if f.metadata.get("resumable"))


def option_values(options: Mapping[str, Any]) -> dict[str, Any]:
    """TrainConfig values from ``charlm train``'s options, named like the fields they set.

    Paths become strings, ``time`` is a duration text (``10m``), ``save_every`` is ``--save-every``'s
    text (``200``, ``10m`` or ``200,10m``), which sets both ``save_every`` and ``save_every_s``, and
    ``cutoffs`` is ``--cutoffs``' text (``2000,10000``).
    """
    known = {f.name for f in fields(TrainConfig)}
    values = {k: str(v) if isinstance(v, PurePath) else v for k, v in options.items() if k in known}
    if isinstance(values.get("time"), str):
        values["time"] = parse_duration(values["time"]) if values["time"] else None
    if isinstance(values.get("save_every"), str):
        values["save_every"], values["save_every_s"] = parse_save_every(values["save_every"])
    if isinstance(values.get("cutoffs"), str):
        values["cutoffs"] = parse_cutoffs(values["cutoffs"])
    return values


def _check(
    name: str, value: Any, low: float, high: float = math.inf, integer: bool = False, low_open: bool = False
) -> None:
    """Refuse a value that is not a finite number (an integer if ``integer``) in its range, in one line."""
    kind = int if integer else (int, float)
    ok = not isinstance(value, bool) and isinstance(value, kind) and math.isfinite(value)
    if ok:
        too_low = value <= low if low_open else value < low
        ok = not too_low and value < high
    if not ok:
        above = f"above {_num(low)}" if low_open else f"at least {_num(low)}"
        bound = f"{above} and below {_num(high)}" if high < math.inf else above
        what = "an integer" if integer else "a finite number"
        raise BadOption(f"--{name.replace('_', '-')} must be {what} {bound} (got {value!r})")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def parse_save_every(text: str) -> tuple[int | None, float | None]:
    """``--save-every``: ``200`` (steps), ``10m`` (time) or both, ``200,10m``."""
    steps, seconds = None, None
    for part in (p.strip() for p in text.split(",")):
        if re.fullmatch(r"[0-9]{1,12}", part):
            steps = int(part)
            if steps < 1:
                raise BadOption(f"--save-every {text!r}: steps must be at least 1")
        else:
            seconds = parse_duration(part)
    if steps is None and seconds is None:
        raise BadOption(f"cannot read --save-every {text!r}; write e.g. 200, 10m or 200,10m")
    return steps, seconds


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def parse_duration(text: str) -> float:
    """Parse ``90``, ``90s``, ``10m``, ``1.5h`` or ``1h30m`` into seconds."""
    compact = re.sub(r"\s+", "", text.strip().lower())
    number = r"[0-9]{1,9}(?:\.[0-9]{1,9})?"
    if re.fullmatch(number, compact):
        parts = [(compact, "")]
    elif re.fullmatch(f"(?:{number}[smh])+", compact):
        parts = re.findall(f"({number})([smh])", compact)
    else:
        raise BadOption(f"cannot read duration {text!r}; write e.g. 90s, 10m or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not 0 < seconds <= MAX_DURATION_S:
        raise BadOption(f"duration {text!r} must be positive and at most a year")
    return seconds
