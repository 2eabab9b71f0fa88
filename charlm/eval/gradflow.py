"""Gradient flow through time: the norm of dLoss_T/ds_t against the distance T - t.

The seed notes' central argument (vanishing and exploding gradients in the plain RNN, the LSTM's
and GRU's gates as the cure) made measurable. A model reads a window token by token; the loss is
the cross-entropy of its prediction after the last token; the gradient with respect to every
intermediate recurrent state ``s_t`` (all floating tensors of the state: ``h`` for RNN/GRU, ``(h, c)``
for LSTM, summed over layers) is taken with one backward pass::

    ids  x_0  x_1 ... x_t ... x_T-1 -> predict x_T        s_t: the state after reading x_t
    norm(d) = sqrt(mean over the batch of |dLoss/ds_t|^2)  for d = T-1-t = 1 .. T-1

(d starts at 1: the state after the last token feeds no further step, and fused torch modules
return it beside the output rather than on the loss's path.)

An exponential decay ``norm(d) ~ rate^d`` shows up as a straight line on a log plot; ``rate`` is
fitted by least squares on log norm. The plot is written with matplotlib (the ``plot`` extra, imported only here).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.errors import CharlmError, need
from charlm.models.base import AnyLM
from charlm.models.config import State

DISTANCES = (1, 2, 5, 10, 20, 50, 100, 200)


@dataclass(frozen=True)
class GradFlow:
    """One model's gradient norms; ``norms[d - 1]`` is at distance ``d`` (1, 2, ...) from the loss."""

    label: str
    weights: str  # "random" or "trained"
    data: str  # "text" or "random tokens"
    norms: list[float]

    @property
    def rate(self) -> float:
        """Per-step factor of the fitted exponential (below 1: vanishing, above 1: exploding)."""
        points = [(d, math.log(n)) for d, n in enumerate(self.norms, start=1) if n > 0 and math.isfinite(n)]
        if len(points) < 2:
            return math.nan
        mean_d = sum(d for d, _ in points) / len(points)
        mean_l = sum(v for _, v in points) / len(points)
        var = sum((d - mean_d) ** 2 for d, _ in points)
        return math.exp(sum((d - mean_d) * (v - mean_l) for d, v in points) / var)

    def relative(self, distance: int) -> float:
        """Norm at ``distance`` divided by the norm at distance 1."""
        if not 1 <= distance <= len(self.norms) or not self.norms[0]:
            return math.nan
        return self.norms[distance - 1] / self.norms[0]

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "weights": self.weights, "data": self.data, "rate": self.rate, "norms": self.norms}


def _float_tensors(state: State) -> list[Tensor]:
    if isinstance(state, Tensor):
        return [state] if state.is_floating_point() and state.requires_grad else []
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _float_tensors(s)]
    return []


def measure(model: AnyLM, ids: Tensor) -> list[float]:
    """Gradient norms for ``ids (B, T+1)``: read ``ids[:, :T]`` step by step, lose on ``ids[:, T]``."""
    was_training = model.training
    model.eval()  # no dropout: the measurement is of the function, not of the noise
    steps = ids.size(1) - 1
    states: list[list[Tensor]] = []
    state: State = None
    with torch.enable_grad():
        for t in range(steps):
            logits, state = model(ids[:, t : t + 1], state)  # (B,1,V)
            if t < steps - 1:
                states.append(_float_tensors(state))
        loss = F.cross_entropy(logits[:, -1].float(), ids[:, steps], reduction="sum")
        flat = [t for group in states for t in group]
        grads = iter(torch.autograd.grad(loss, flat, allow_unused=True))
    model.train(was_training)
    norms = []
    for group in states:
        squared = sum(float(g.double().square().sum()) if g is not None else 0.0 for g in (next(grads) for _ in group))
        norms.append(math.sqrt(squared / ids.size(0)))
    return norms[::-1]  # index = distance T-1-t, minus 1


def windows(ids: Sequence[int], length: int, batch: int, seed: int) -> Tensor:
    """``batch`` random windows of ``length + 1`` tokens from a token sequence."""
    data = torch.as_tensor(list(ids), dtype=torch.long)
    if data.numel() < length + 1:
        raise CharlmError(
            f"the text has {data.numel()} tokens; --length {length} needs at least {length + 1}; "
            "give more text or a smaller --length"
        )
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, max(1, data.numel() - length - 1), (batch,), generator=generator)
    return torch.stack([data[s : s + length + 1] for s in starts.tolist()])  # (B,T+1)


def render(results: Sequence[GradFlow]) -> bytes:
    """The PNG of a log-scale plot of norm(d) / norm(0) against d."""
    need("matplotlib", "plot", "the gradient-flow plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    try:
        for r in results:
            rel = [r.relative(d) for d in range(1, len(r.norms) + 1)]
            ax.semilogy(
                range(1, len(rel) + 1),
                rel,
                label=f"{r.label} ({r.weights} weights, {r.data})",
                linestyle="-" if r.weights == "trained" else "--",
            )
        ax.set_xlabel("distance T - t (steps before the loss)")
        ax.set_ylabel("|dLoss_T / ds_t|  relative to distance 1")
        ax.set_title("Gradient flow through time")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def compare(
    archs: Sequence[str],
    models: Sequence[str | Path],
    text: str | None,
    length: int = 100,
    batch: int = 16,
    hidden: int = 128,
    layers: int = 1,
    seed: int = 0,
) -> list[GradFlow]:
    """Measure randomly initialised ``archs`` and trained ``models`` on windows of ``text`` (or random tokens)."""
    from charlm.checkpoint import load_model
    from charlm.models.base import build_model
    from charlm.models.config import ModelConfig
    from charlm.tokenizers import build_tokenizer

    data = "text" if text else "random tokens"
    results = []
    for directory in models:
        model, tokenizer, _ = load_model(directory)
        results.append(
            GradFlow(Path(directory).name, "trained", data, measure(model, _ids(tokenizer, text, length, batch, seed)))
        )
    vocab = build_tokenizer("char", text) if text else None
    for arch in archs:
        torch.manual_seed(seed)
        size = vocab.vocab_size if vocab else 64
        model = build_model(ModelConfig(vocab_size=size, arch=arch, layers=layers, hidden=hidden, embed=32))
        results.append(GradFlow(arch, "random", data, measure(model, _ids(vocab, text, length, batch, seed, size))))
    return results


def _ids(tokenizer: object, text: str | None, length: int, batch: int, seed: int, vocab: int = 64) -> Tensor:
    if text is None:
        generator = torch.Generator().manual_seed(seed)
        size = getattr(tokenizer, "vocab_size", vocab)
        return torch.randint(0, size, (batch, length + 1), generator=generator)  # (B,T+1)
    return windows(tokenizer.encode(text), length, batch, seed)  # type: ignore[attr-defined]
