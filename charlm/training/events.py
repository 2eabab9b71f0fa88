"""The events a training run reports to its callback, typed: one TypedDict per kind, keyed by ``event``.

They are plain dicts at run time (exactly what metrics.jsonl records for the logged ones: ``step``
every ``log_every`` steps, ``eval``, ``notice``), so a renderer or a test reads them by key, and a
type checker knows the keys. ``tests/test_core_api.py`` checks that a run emits exactly these keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypedDict

from charlm.progress import Progress, silent


class StartEvent(TypedDict):
    """The run is set up: where it writes, on what, how big, and how much data."""

    event: Literal["start"]
    run_dir: str
    device: str
    precision: str
    parameters: int
    vocab_size: int
    resumed_at: int | None
    corpus: str
    chars: int
    tokens: int
    train_tokens: int
    val_tokens: int
    unk_rate: float


class PassEvent(TypedDict):
    """A long pass over the corpus (counting, encoding; the n-gram at the end): ``done`` of ``total`` (0: unknown)."""

    event: Literal["pass"]
    stage: str  # "counting characters", "encoding corpus", "counting 6-grams", ...
    done: int
    total: int
    unit: str  # "bytes", "tokens", "n-grams"


class StepEvent(TypedDict):
    """One optimizer step (logged every ``log_every`` steps); ``progress`` is the budget spent, 0..1."""

    event: Literal["step"]
    step: int
    train_loss: float  # smoothed
    loss: float  # this step's
    grad_norm: float
    lr: float
    clipped: int
    skipped: int
    tokens_per_s: float
    progress: float
    time: float


class EvalEvent(TypedDict):
    """A validation pass: loss in nats/token, bits/char, perplexity, and whether it is the best so far."""

    event: Literal["eval"]
    step: int
    val_loss: float
    val_bpc: float
    val_ppl: float
    val_lines_loss: float  # every validation line from the start state (the score convention), nats/token
    val_lines_bpc: float
    best: bool
    lr: float
    time: float


class SaveEvent(TypedDict):
    event: Literal["save"]
    step: int
    path: str


class NoticeEvent(TypedDict):
    """Something a person should read: kind is skip, rollback, early-stop, oov, start-state or ngram."""

    event: Literal["notice"]
    kind: str
    step: int
    message: str


class EndEvent(TypedDict):
    """The finished run (the fields of :class:`charlm.training.loop.TrainResult`)."""

    event: Literal["end"]
    run_dir: str
    steps: int
    tokens: int
    elapsed_s: float
    train_loss: float
    best_val_loss: float
    best_val_bpc: float
    tokens_per_s: float
    reports: bool
    best_val_lines_bpc: float


Event = PassEvent | StartEvent | StepEvent | EvalEvent | SaveEvent | NoticeEvent | EndEvent
EVENTS: dict[str, type] = {
    "pass": PassEvent,
    "start": StartEvent,
    "step": StepEvent,
    "eval": EvalEvent,
    "save": SaveEvent,
    "notice": NoticeEvent,
    "end": EndEvent,
}
Callback = Callable[[Event], None]


def pass_events(callback: Callback | None) -> Progress:
    """The corpus passes' progress (:mod:`charlm.progress`) as ``pass`` events to ``callback``."""
    if callback is None:
        return silent

    def report(stage: str, done: int, total: int, unit: str = "bytes") -> None:
        assert callback is not None
        callback({"event": "pass", "stage": stage, "done": done, "total": total, "unit": unit})

    return report
