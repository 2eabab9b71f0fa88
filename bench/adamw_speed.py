"""AdamW per-parameter loop vs foreach vs fused on the char 2 x 512 model's parameters (CPU).

``python -m bench.adamw_speed`` times 20 optimizer steps of each, interleaved step by step after 5
warm-up steps (same gradients), prints median and min-max ms per step, then checks after 30 steps
with fresh random gradients whether foreach and fused give the per-parameter loop's weights bit for bit.
"""

from __future__ import annotations

import statistics
import time

import torch

from charlm.models.base import build_model
from charlm.models.config import ModelConfig

CONFIG = ModelConfig.from_dict(dict(vocab_size=65, arch="lstm", layers=2, hidden=512, embed=128, dropout=0.0))
KINDS: dict[str, dict[str, bool]] = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def optimizer(kind: str) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = build_model(CONFIG)
    return model, torch.optim.AdamW(model.parameters(), lr=4e-3, betas=(0.9, 0.99), weight_decay=0.2, **KINDS[kind])


def speed(rounds: int = 25, warm: int = 5) -> None:
    opts = {}
    for kind in KINDS:
        model, opt = optimizer(kind)
        for p in model.parameters():
            p.grad = torch.randn_like(p) * 1e-2
        opts[kind] = opt
    times: dict[str, list[float]] = {k: [] for k in opts}
    for r in range(rounds):
        for kind, opt in opts.items():
            started = time.perf_counter()
            opt.step()
            if r >= warm:
                times[kind].append(time.perf_counter() - started)
    print(f"parameters {sum(p.numel() for p in model.parameters()):,}")
    for kind, t in times.items():
        ms = [x * 1000 for x in t]
        print(f"{kind:8s} median {statistics.median(ms):7.2f} ms  min {min(ms):7.2f}  max {max(ms):7.2f}")


def same_weights(steps: int = 30) -> None:
    weights = {}
    for kind in KINDS:
        model, opt = optimizer(kind)
        g = torch.Generator().manual_seed(1)
        for _ in range(steps):
            for p in model.parameters():
                p.grad = torch.randn(p.shape, generator=g) * 1e-2
            opt.step()
        weights[kind] = [p.detach().clone() for p in model.parameters()]
    for kind in ("foreach", "fused"):
        pairs = list(zip(weights["default"], weights[kind], strict=True))
        diff = max((a - b).abs().max().item() for a, b in pairs)
        print(
            f"{kind}: bit for bit the per-parameter loop's weights after {steps} steps: {diff == 0.0} (max diff {diff:g})"
        )


if __name__ == "__main__":
    speed()
    same_weights()
