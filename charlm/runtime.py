"""Where and how computation runs: device choice, seeding, threads and mixed precision.

One device picker and one seeding function for the whole package (training, scoring and
sampling all call these), so set-up is never copied between commands.
"""

from __future__ import annotations

import contextlib
import functools
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
    """Map ``auto`` to a concrete precision: bf16 where the device runs it natively, else fp32.

    Native bf16 means a CUDA GPU that supports it, or a CPU with AVX512-BF16/AMX (oneDNN's bf16
    kernels); either way a tiny autocast LSTM step must run, else ``auto`` falls back to fp32.
    """
    if precision not in PRECISIONS:
        raise CharlmError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise CharlmError("fp16 is for GPUs; on CPU use --precision bf16 or fp32")
        return precision
    return "bf16" if bf16_native(device.type) else "fp32"


@functools.cache
def bf16_native(device_type: str) -> bool:
    """Whether ``device_type`` computes in bf16 natively (a probe, run once per process)."""
    if device_type == "cuda":
        supported = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    else:
        supported = torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if not supported:
        return False
    try:
        lstm = torch.nn.LSTM(8, 8, batch_first=True).to(device_type)
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            y, _ = lstm(torch.zeros(1, 2, 8, device=device_type))
        return bool(torch.isfinite(y.float()).all())
    except RuntimeError:
        return False


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
