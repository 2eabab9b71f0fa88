"""Budget-aware recipes: the model shape and optimisation ``charlm train`` uses for a budget on a device.

A recipe sets the TrainConfig fields in :data:`RECIPE_FIELDS` for one kind of device (``cpu`` or
``cuda``), one tokenizer level (``char`` or ``word``; bpe and unigram use char's rows: their tokens
sit between the two and no sweep has measured them) and one range of budgets. :data:`TABLE` holds
one row per recipe; a (device, level) pair's rows are in budget order, and a row serves the budgets
from the previous row's ``upto_min`` up to (not including) its own. A device kind with no rows of
its own for a level uses the CPU's.

The budget is the ``--time`` budget in minutes (10 minutes when no budget is given). A ``--steps``
budget is turned into minutes with the row's nominal ``steps_per_min`` (a constant recorded from a
measurement, never the speed of the machine at hand: one command gives the same model on the same
kind of machine), and ``--epochs`` with the corpus size (:data:`BYTES_PER_TOKEN`) and that rate.
With several budgets the first to run out counts, as in training.

Options the user gives always win (:func:`apply_recipe` fills only the fields left ``None``); the
chosen recipe, its reason and the fields it set are stored as TrainConfig's ``recipe`` field in
config.json, so a resumed run keeps exactly its configuration and ``charlm info`` can say why.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from charlm.errors import BadOption
from charlm.models.config import structure_fields
from charlm.training.config import DEFAULT_TIME_S, TrainConfig

# The TrainConfig fields a recipe sets (each one a `charlm train` option whose default is "from the recipe").
RECIPE_FIELDS = (
    "arch",
    "layers",
    "hidden",
    "embed",
    "dropout",
    "tie_weights",
    "lr",
    "weight_decay",
    "batch_size",
    "seq_len",
    "warmup",
    "softmax",
)
DEVICE_KINDS = ("cpu", "cuda")
LEVEL_ROWS = {"char": "char", "word": "word", "bpe": "char", "unigram": "char"}  # which level's rows a level uses
# Corpus bytes per token, only to turn an --epochs budget into steps before the tokenizer is fitted:
# char is exact for ASCII text; word and bpe measured with `charlm tokenize --json` on WikiText-2's
# valid.txt (1,121,681 bytes: 217,646 words, 398,616 pieces of a 2,000-piece bpe); unigram taken as bpe.
BYTES_PER_TOKEN = {"char": 1.0, "word": 5.15, "bpe": 2.81, "unigram": 2.81}


def settings(
    layers: int,
    hidden: int,
    embed: int,
    dropout: float,
    lr: float,
    weight_decay: float,
    batch_size: int,
    seq_len: int,
    tie_weights: bool = False,
    arch: str = "lstm",
    warmup: int = 50,
    softmax: str = "full",
) -> dict[str, Any]:
    """A row's TrainConfig values, positionally, so that a row of :data:`TABLE` fits on one line."""
    return dict(
        arch=arch,
        layers=layers,
        hidden=hidden,
        embed=embed,
        dropout=dropout,
        tie_weights=tie_weights,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        seq_len=seq_len,
        warmup=warmup,
        softmax=softmax,
    )


@dataclass(frozen=True)
class Recipe:
    """One row: its name, where and for which budgets it applies, what it sets, and why."""

    name: str
    device: str  # cpu | cuda
    level: str  # char | word
    upto_min: float  # serves budgets below this many minutes (from the previous row's upto_min)
    steps_per_min: float  # nominal rate on this kind of device, to read a --steps budget as minutes
    values: dict[str, Any] = field(hash=False)  # the RECIPE_FIELDS values (see settings())
    why: str

    def to_dict(self) -> dict[str, Any]:
        upto = None if math.isinf(self.upto_min) else self.upto_min
        return {"name": self.name, "device": self.device, "level": self.level, "upto_min": upto,
                "steps_per_min": self.steps_per_min, "values": dict(self.values), "why": self.why}  # fmt: skip


INF = math.inf
# One row per recipe; the lead fills the numbers from bench/recipe_sweep.py (bench/results/recipe_sweep.jsonl).
# settings(layers, hidden, embed, dropout, lr, weight_decay, batch_size, seq_len[, tie_weights, arch])
# fmt: off
TABLE: tuple[Recipe, ...] = (
    #      name              device  level   upto_min steps/min  settings(...)                                                         why
    Recipe("cpu-char-1m",    "cpu",  "char", 2,       700,       settings(2, 256, 64, 0.0, 1e-2, 0.1, 16, 128, warmup=10),            "tinyshakespeare, 1 minute on a 2-core CPU: 1.611 nats/char in 704 steps, against 1.683 for 2x384 batch 32 and 1.842 for the 2x512 default without dropout (bench/recipe_sweep.py, docs/recipes.md): at a minute, updates matter more than width"),
    Recipe("cpu-char-3m",    "cpu",  "char", 5,       526,       settings(2, 512, 128, 0.0, 4e-3, 0.1, 16, 128, warmup=10),           "tinyshakespeare, 3 minutes on a quiet 2-core CPU: 1.457 nats/char in 1,578 steps at 17,926 tokens/s (1.450 in a second run, 1.447 with --seed 7), against 1.471 and 1.456 for the previous row's 2 x 384 (2,401 and 2,466 steps): at today's speed three minutes buy 2 x 512 enough updates (bench/recipe_sweep.py, docs/recipes.md)"),
    Recipe("cpu-char-10m",   "cpu",  "char", INF,     270,       settings(2, 512, 128, 0.1, 3e-3, 0.2, 16, 128, warmup=10),            "tinyshakespeare, 10 minutes on a 2-core CPU: 1.450 nats/char in 2,704 steps, against 1.458 for 2x384 batch 16 and 1.469 for the old default (2x512, batch 32, dropout 0.2, lr 4e-3; 1,642 steps) (bench/recipe_sweep.py, docs/recipes.md): batch 16 and its extra updates win at ten minutes too; 1.440 at 30 minutes (6,767 steps)"),
    Recipe("cpu-word-3m",    "cpu",  "word", 5,       592,       settings(2, 400, 400, 0.3, 3e-3, 0.01, 32, 35, True, softmax="adaptive"), "WikiText-2 valid.txt in 3 minutes on a quiet 2-core CPU: 1,776 steps at 11,025 tokens/s with the adaptive head (the full softmax made 559), best validation 6.156 nats/token at step 500 (docs/ngram.md, 'Defaults measured on every job')"),
    Recipe("cpu-word-10m",   "cpu",  "word", INF,     252,       settings(2, 400, 400, 0.5, 3e-3, 0.01, 32, 35, True),                 "WikiText-2 valid.txt in 10 minutes: test perplexity 193.9 (266.9 without OOV), 2,524 steps with the full softmax (docs/performance.md, 'Word level: WikiText-2'); the adaptive head's 5,818 steps in the same 10 minutes overfit the 207k words (279.3 without OOV), so this row keeps the full softmax (docs/ngram.md, 'Defaults measured on every job')"),
    Recipe("cuda-char",      "cuda", "char", INF,     4150,      settings(2, 512, 128, 0.2, 4e-3, 0.2, 32, 128),                       "the CPU default on one H100: 1.508 nats/char in 2 minutes, 8,301 steps (docs/performance.md, 'GPU figures'); no GPU sweep yet"),
)
# fmt: on


def rows(device: str, level: str) -> list[Recipe]:
    """The rows that serve ``device`` and ``level``, in budget order (a device without its own uses the CPU's)."""
    if device not in DEVICE_KINDS:
        raise BadOption(f"unknown device kind {device!r}; use {' or '.join(DEVICE_KINDS)}")
    if level not in LEVEL_ROWS:
        raise BadOption(f"unknown level {level!r}; use {', '.join(LEVEL_ROWS)}")
    kind = LEVEL_ROWS[level]
    found = [r for r in TABLE if r.device == device and r.level == kind]
    return found or [r for r in TABLE if r.device == "cpu" and r.level == kind]


@dataclass(frozen=True)
class Budget:
    """A run's budget as given: any of time (seconds), steps and epochs; none means the default time."""

    time_s: float | None = None
    steps: int | None = None
    epochs: float | None = None
    corpus_bytes: int | None = None  # the corpus size, for --epochs

    def minutes(self, row: Recipe, level: str, batch_size: int, seq_len: int) -> float:
        """The nominal length of this budget in minutes on ``row``'s kind of device (the shortest budget)."""
        found = []
        if self.time_s is not None:
            found.append(self.time_s / 60.0)
        if self.steps is not None:
            found.append(self.steps / row.steps_per_min)
        if self.epochs is not None and self.corpus_bytes is not None:
            tokens = self.corpus_bytes / BYTES_PER_TOKEN[level]
            found.append(self.epochs * tokens / (batch_size * seq_len) / row.steps_per_min)
        return min(found) if found else DEFAULT_TIME_S / 60.0


def pick(device: str, level: str, budget: Budget, given: Mapping[str, Any] | None = None) -> tuple[Recipe, float]:
    """The recipe for this budget and the budget's nominal minutes (``given``: batch/seq the user chose)."""
    given = given or {}
    candidates = rows(device, level)
    for row in candidates:
        batch = given.get("batch_size") or row.values["batch_size"]
        seq = given.get("seq_len") or row.values["seq_len"]
        minutes = budget.minutes(row, level, batch, seq)
        if minutes < row.upto_min:
            return row, minutes
    return candidates[-1], minutes


def apply_recipe(values: Mapping[str, Any], device: str) -> dict[str, Any]:
    """``values`` (TrainConfig fields, ``None`` = not given) with the recipe's values filled in and recorded.

    Only fields left ``None`` (or absent) are taken from the recipe; ``recipe`` records its name,
    why, the budget's nominal minutes and the fields it set. With ``init_from`` the model's shape
    comes from that model, so the recipe sets only the optimisation fields.
    """
    level = values.get("level") or "char"
    corpus = values.get("corpus")
    size = os.path.getsize(corpus) if values.get("epochs") is not None and corpus and os.path.isfile(corpus) else None
    budget = Budget(values.get("time"), values.get("steps"), values.get("epochs"), size)
    row, minutes = pick(device, level, budget, values)
    taken = [name for name in RECIPE_FIELDS if values.get(name) is None]
    filled = {**values, **{name: row.values[name] for name in taken}}
    if values.get("init_from"):
        taken = [name for name in taken if name not in structure_fields()]
    filled["recipe"] = {
        "name": row.name,
        "why": row.why,
        "device": device,
        "budget_min": round(minutes, 3),
        "set": taken,
    }
    return filled


def with_recipe(config: TrainConfig) -> TrainConfig:
    """``config`` with the recipe applied (its unset options filled and the recipe recorded), once.

    ``charlm.train(config)`` and ``charlm train`` both call this, so the same inputs train the same
    model; a config that already records its recipe (a resumed run) is returned as it is.
    """
    if config.recipe is not None:
        return config
    return TrainConfig.from_dict(apply_recipe(config.to_dict(), device_kind(config.device)))


def device_kind(device: str | None) -> str:
    """``cpu`` or ``cuda``: the kind of device ``--device`` resolves to (``auto``: CUDA when present)."""
    from charlm.runtime import pick_device

    return "cuda" if pick_device(device or "auto").type == "cuda" else "cpu"


def table(device: str | None = None, level: str | None = None) -> list[dict[str, Any]]:
    """The rows of :data:`TABLE` (those of one ``device`` kind and/or ``level``), each with the budgets it serves."""
    if device is not None and device not in DEVICE_KINDS:
        raise BadOption(f"unknown device kind {device!r}; use {' or '.join(DEVICE_KINDS)}")
    if level is not None and level not in LEVEL_ROWS:
        raise BadOption(f"unknown level {level!r}; use {', '.join(LEVEL_ROWS)}")
    listed = []
    for row in TABLE:
        if (device is None or row.device == device) and (level is None or row.level == LEVEL_ROWS[level]):
            before = [
                r.upto_min
                for r in TABLE
                if (r.device, r.level) == (row.device, row.level) and r.upto_min < row.upto_min
            ]
            listed.append({**row.to_dict(), "from_min": max(before, default=0.0)})
    return listed
