"""Exact resume: every RNG state as plain tensors/lists, the resumed run's config, and metrics clean-up.

trainer_state.pt must load with ``torch.load(weights_only=True)``, which accepts only tensors and
plain Python values, so NumPy's and Python's generator states are converted to lists/tensors here.
A resumed run takes its configuration from the run's config.json; only the budget, cadences and
runtime (``TrainConfig.resumable()``, declared on the fields) may differ, anything else is refused with one line.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from charlm import checkpoint as ckpt
from charlm.errors import CharlmError
from charlm.io import write_bytes_atomic
from charlm.layout import METRICS
from charlm.training.config import BEFORE_ADDED, TrainConfig


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and (if present) every CUDA generator's state, pickle-free."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def find_run(target: str | None, out: str | None, checkpoints: str) -> Path:
    """The run to resume: ``target``, else ``--out``, else checkpoints/latest."""
    run = Path(target or out or Path(checkpoints) / "latest")
    if not run.exists():
        raise CharlmError(f"{run}: no run to resume; give its directory (charlm train --resume DIR)")
    if not run.is_dir():
        raise CharlmError(f"{run} is a file; --resume takes a run directory")
    return run.resolve()


def resumed_config(run: Path, given: dict[str, Any]) -> TrainConfig:
    """The run's saved config with the options given now; refuse changes that would break the run."""
    if not (run / ckpt.CONFIG).exists():
        raise CharlmError(
            f"{run} holds no checkpoint to resume (stopped before its first one?); "
            "start the run again, with --force if it exists"
        )
    if not (run / ckpt.TRAINER_STATE).exists():
        raise CharlmError(
            f"{run} has no {ckpt.TRAINER_STATE}, so there is nothing to resume; "
            "start a new run (--force to replace this one) or fine-tune it with --init-from"
        )
    saved = ckpt.read_config(run).get("train")
    if not isinstance(saved, dict):
        raise CharlmError(f"{run / ckpt.CONFIG} has no training section; it cannot be resumed")
    try:
        base = TrainConfig.from_dict({**BEFORE_ADDED, **saved, "out": str(run)})
    except CharlmError as exc:
        raise CharlmError(
            f"{run / ckpt.CONFIG} has an invalid training section ({exc}); it cannot be resumed"
        ) from None
    changes: dict[str, Any] = {}
    resumable = TrainConfig.resumable()
    for name, value in given.items():
        if name in ("out", "corpus", "val", "init_from") and value is not None:
            same = Path(value).resolve() == Path(getattr(base, name) or "").resolve()
        else:
            same = getattr(base, name) == value
        if same:
            continue
        if name not in resumable:
            shown = name.replace("_", "-")
            raise CharlmError(
                f"--{shown} {value} differs from the run being resumed ({getattr(base, name)}); "
                f"drop --{shown} or start a new run"
            )
        changes[name] = value
    return replace(base, **changes)


def truncate_metrics(run: Path, step: int) -> None:
    """Drop metrics logged after ``step`` (they are about to be redone), and any half-written line."""
    path = run / METRICS
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("step", 0) <= step:
            kept.append(line)
    write_bytes_atomic(path, "".join(f"{line}\n" for line in kept).encode("utf-8"))
