"""TrainConfig: every knob of a training run, checked against the one declaration of each option.

A frozen dataclass beside its consumer (:mod:`charlm.training.loop`); the CLI maps options onto it
one to one, and config.json stores it so a run can be inspected and resumed. Defaults, bounds and
choices come from :mod:`charlm.options.train` (the same declarations ``charlm train`` is built from);
fields declared "from the recipe" are None until :func:`charlm.training.recipes.apply_recipe` fills
them, which ``charlm.train(config)`` does exactly as ``charlm train`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import PurePath
from typing import Any

from charlm.durations import parse_duration as parse_duration
from charlm.durations import parse_save_every as parse_save_every
from charlm.errors import BadOption
from charlm.models.config import ModelConfig
from charlm.models.options import validate_model
from charlm.models.softmax import ADAPTIVE_MIN_VOCAB, too_small
from charlm.options import check, declared, default
from charlm.options.train import SCHEDULES as SCHEDULES
from charlm.tokenizers.segment import check_segment

DEFAULT_TIME_S = 600.0
# Fields added after runs were first saved, with the value those runs trained with (resuming them keeps it).
BEFORE_ADDED = {"start_state": "zero", "reset_at_eos": 0.0, "val_tokens": None}
# Field metadata, declared once on the fields below: what a resumed run may change (the budget,
# cadences and runtime); everything else must match the run being resumed. Which fields are model
# structure is declared on ModelConfig's fields (:func:`charlm.models.config.structure_fields`).
RESUMABLE = {"resumable": True}
# Fields whose declaration lives under another key (one name, two meanings across commands).
KEYS = {"batch_size": "train.batch_size", "precision": "train.precision"}
NOT_OPTIONS = ("corpus", "out", "checkpoints", "val", "init_from", "save_every_s", "recipe")


def _d(name: str, **meta: Any) -> Any:
    """A field whose default is the declared one."""
    return field(default=default(KEYS.get(name, name)), metadata=meta)


@dataclass(frozen=True)
class TrainConfig:
    """A training run: data, tokenizer, model, optimisation, budget and runtime."""

    corpus: str
    out: str | None = None
    checkpoints: str = field(default="checkpoints", metadata=RESUMABLE)
    val: str | None = None
    val_fraction: float = _d("val_fraction")
    val_tokens: int | None = _d("val_tokens")  # the held-out part's cap; None: runs saved before it existed
    encoding: str = _d("encoding")
    errors: str = _d("errors")
    # tokenizer
    level: str = _d("level")
    max_vocab: int | None = _d("max_vocab")
    min_count: int = _d("min_count")
    vocab_size: int = _d("vocab_size")
    segment: str = _d("segment")  # word level: auto | none | zh (charlm.tokenizers.segment)
    # model (the ModelConfig fields). The fields declared "from the recipe" (arch ... tie_weights,
    # seq_len ... warmup) hold None until with_recipe() fills them; every run trains a complete config.
    arch: str = _d("arch")
    layers: int = _d("layers")
    hidden: int = _d("hidden")
    embed: int = _d("embed")
    dropout: float = _d("dropout")
    tie_weights: bool = _d("tie_weights")
    residual: bool = _d("residual")
    direction: str = _d("direction")
    attention: int = _d("attention")
    wdrop: float = _d("wdrop")
    dropoute: float = _d("dropoute")
    locked_dropout: bool = _d("locked_dropout")
    clock_modules: int = _d("clock_modules")
    mogrify_rounds: int = _d("mogrify_rounds")
    mogrify_rank: int = _d("mogrify_rank")
    start_state: str = _d("start_state")  # where a line starts: zeros, or a learned state
    softmax: str = _d("softmax")  # full | adaptive: the clustered head for word vocabularies
    cutoffs: tuple[int, ...] | None = _d("cutoffs")  # adaptive: cluster ends; None = chosen from the token frequencies
    # sentence starts: reset each row's carried state at a line end with this probability
    reset_at_eos: float = _d("reset_at_eos")
    # optimisation
    seq_len: int = _d("seq_len")
    batch_size: int = _d("batch_size")
    lr: float = _d("lr")
    weight_decay: float = _d("weight_decay")
    warmup: int = _d("warmup")
    schedule: str = _d("schedule")  # constant | cosine (over the budget) | plateau (halve on a validation plateau)
    clip: float = _d("clip")
    patience: int | None = _d("patience", **RESUMABLE)  # stop after this many evals without a new best
    init_from: str | None = None  # fine-tune: start from this model directory's weights and tokenizer
    # budget: the first of steps / epochs / time to run out ends training (default: 10 minutes)
    steps: int | None = _d("steps", **RESUMABLE)
    epochs: float | None = _d("epochs", **RESUMABLE)
    time: float | None = _d("time", **RESUMABLE)
    eval_every: int = _d("eval_every", **RESUMABLE)
    save_every: int | None = field(default=100, metadata=RESUMABLE)  # steps between resumable checkpoints
    save_every_s: float | None = field(default=None, metadata=RESUMABLE)  # and/or seconds between them
    log_every: int = _d("log_every", **RESUMABLE)
    # runtime
    device: str = _d("device", **RESUMABLE)
    precision: str = _d("precision", **RESUMABLE)
    seed: int = _d("seed")
    threads: int | None = _d("threads", **RESUMABLE)
    force: bool = _d("force", **RESUMABLE)
    ngram_order: int | None = _d("ngram_order", **RESUMABLE)  # n-gram at the end: None = per level, 0 = none
    memory: int | str = _d("memory", **RESUMABLE)  # the n-gram build's budget in bytes ("4G" is read as a size)
    ngram_prune: str | tuple[int, ...] = _d("ngram_prune", **RESUMABLE)  # "auto" or counts per order
    # the recipe the run took unset options from (charlm.training.recipes): name, why, budget, fields set
    recipe: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.cutoffs, list):  # config.json stores the tuple as a list
            object.__setattr__(self, "cutoffs", tuple(self.cutoffs))
        if isinstance(self.ngram_prune, list):
            object.__setattr__(self, "ngram_prune", tuple(self.ngram_prune))
        try:
            self._validate()
        except TypeError:  # a value of the wrong kind (e.g. a string from a hand-edited config.json)
            raise BadOption(
                "a training option has a value of the wrong kind; check the options or config.json"
            ) from None
        if self.complete:
            validate_model(self.model_config(vocab_size=1), vocab_known=False)  # model options, before any work
        self._validate_softmax()

    def _validate_softmax(self) -> None:
        """``--softmax adaptive`` is for word vocabularies of a few thousand words and more."""
        if self.softmax != "adaptive" or "softmax" in (self.recipe or {}).get("set", ()):
            return  # the recipe's choice falls back to full for a small vocabulary (training.setup)
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
        """Each option by its declaration, then what the declarations cannot say alone."""
        for f in fields(self):
            if f.name not in NOT_OPTIONS and f.name != "save_every":
                object.__setattr__(self, f.name, check(KEYS.get(f.name, f.name), getattr(self, f.name)))
        if self.save_every is not None:
            check("save_every", self.save_every)
        if self.save_every_s is not None:
            check("time", self.save_every_s)
        check_segment(self.level, self.segment)
        if self.recipe is not None and not isinstance(self.recipe, dict):
            raise BadOption(f"the recipe record must be a mapping (got {self.recipe!r})")

    @property
    def complete(self) -> bool:
        """Whether every option is set (a recipe applied, or every recipe option given)."""
        return all(getattr(self, f.name) is not None for f in fields(self) if _recipe_field(f.name))

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
        values["cutoffs"] = check("cutoffs", values["cutoffs"])
    return values


def _recipe_field(name: str) -> bool:
    return name not in NOT_OPTIONS and name != "save_every" and declared(KEYS.get(name, name)).recipe
