"""TrainConfig: every knob of a training run, validated in one place.

A frozen dataclass beside its consumer (:mod:`charlm.training.loop`); the CLI maps options onto it
one to one, and config.json stores it so a run can be inspected and resumed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import PurePath
from typing import Any

from charlm.errors import CharlmError
from charlm.models.config import ModelConfig
from charlm.models.registry import validate_model
from charlm.tokenizers.segment import check_segment

DEFAULT_TIME_S = 600.0
# Fields added after runs were first saved, with the value those runs trained with (resuming them keeps it).
BEFORE_ADDED = {"start_state": "zero", "reset_at_eos": 0.0}
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

    def __post_init__(self) -> None:
        positive = {
            "layers": self.layers,
            "hidden": self.hidden,
            "embed": self.embed,
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
            "eval_every": self.eval_every,
            "log_every": self.log_every,
            "vocab_size": self.vocab_size,
            "min_count": self.min_count,
        }
        for name, value in positive.items():
            if value < 1:
                raise CharlmError(f"--{name.replace('_', '-')} must be at least 1 (got {value})")
        for name in ("steps", "epochs", "time", "max_vocab", "save_every", "save_every_s", "patience"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise CharlmError(f"--{name.replace('_', '-')} must be positive (got {value})")
        if not 0.0 <= self.dropout < 1.0:
            raise CharlmError(f"--dropout must be in [0, 1) (got {self.dropout})")
        if self.lr <= 0:
            raise CharlmError(f"--lr must be positive (got {self.lr})")
        if self.weight_decay < 0:
            raise CharlmError(f"--weight-decay must be >= 0 (got {self.weight_decay})")
        if self.clip < 0:
            raise CharlmError(f"--clip must be >= 0, 0 turns clipping off (got {self.clip})")
        if self.schedule not in SCHEDULES:
            raise CharlmError(f"unknown --schedule {self.schedule!r}; use {', '.join(SCHEDULES)}")
        if self.ngram_order is not None and self.ngram_order < 0:
            raise CharlmError(f"--ngram-order must be >= 0, 0 builds no n-gram (got {self.ngram_order})")
        if not 0.0 <= self.reset_at_eos <= 1.0:
            raise CharlmError(f"--reset-at-eos must be in [0, 1] (got {self.reset_at_eos})")
        check_segment(self.level, self.segment)
        if self.warmup < 0:
            raise CharlmError(f"--warmup must be >= 0 (got {self.warmup})")
        validate_model(self.model_config(vocab_size=1))  # arch, shapes and model options, before any work

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The model this run trains (every ModelConfig field has a TrainConfig field of the same name)."""
        return ModelConfig.from_dict({**asdict(self), "vocab_size": vocab_size})

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

    Paths become strings, ``time`` is a duration text (``10m``) and ``save_every`` is ``--save-every``'s
    text (``200``, ``10m`` or ``200,10m``), which sets both ``save_every`` and ``save_every_s``.
    """
    known = {f.name for f in fields(TrainConfig)}
    values = {k: str(v) if isinstance(v, PurePath) else v for k, v in options.items() if k in known}
    if isinstance(values.get("time"), str):
        values["time"] = parse_duration(values["time"]) if values["time"] else None
    if isinstance(values.get("save_every"), str):
        values["save_every"], values["save_every_s"] = parse_save_every(values["save_every"])
    return values


def parse_save_every(text: str) -> tuple[int | None, float | None]:
    """``--save-every``: ``200`` (steps), ``10m`` (time) or both, ``200,10m``."""
    steps, seconds = None, None
    for part in (p.strip() for p in text.split(",")):
        if part.isdigit():
            steps = int(part)
        else:
            seconds = parse_duration(part)
    if steps is None and seconds is None:
        raise CharlmError(f"cannot read --save-every {text!r}; write e.g. 200, 10m or 200,10m")
    return steps, seconds


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def parse_duration(text: str) -> float:
    """Parse ``90``, ``90s``, ``10m``, ``1.5h`` or ``1h30m`` into seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smh]?)", text.strip().lower())
    joined = "".join(f"{n}{u}" for n, u in parts)
    if not parts or joined != re.sub(r"\s+", "", text.strip().lower()):
        raise CharlmError(f"cannot read duration {text!r}; write e.g. 90s, 10m or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise CharlmError(f"duration {text!r} must be positive")
    return seconds
