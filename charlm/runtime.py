"""Where and how computation runs: device choice, seeding, threads and mixed precision.

One device picker and one seeding function for the whole package (training, scoring and
sampling all call these), so set-up is never copied between commands.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

from charlm.errors import CharlmError

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def pick_device(name: str = "auto") -> torch.device:
    """Return the torch device for ``auto|cpu|cuda[:N]``; auto prefers CUDA when present."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CharlmError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise CharlmError(f"unknown device {name!r}; use one of auto, cpu, cuda")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_threads(threads: int | None) -> None:
    """Use ``threads`` intra-op threads (default: all cores torch sees, or $CHARLM_THREADS)."""
    wanted = threads or int(os.environ.get("CHARLM_THREADS", "0") or 0)
    if wanted > 0:
        torch.set_num_threads(wanted)


def resolve_precision(precision: str, device: torch.device) -> str:
    """Map ``auto`` to a concrete precision: bf16 on GPUs that support it, fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise CharlmError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise CharlmError("fp16 is for GPUs; on CPU use --precision bf16 or fp32")
        return precision
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[None]:
    """Autocast context for ``precision`` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def inference_mode() -> Iterator[None]:
    """No autograd bookkeeping: for scoring and sampling."""
    with torch.inference_mode():
        yield
