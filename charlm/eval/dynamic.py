"""Dynamic evaluation (Krause, Kahembwe, Murray & Renals 2018, "Dynamic Evaluation of Neural Sequence
Models"), the RMS variant with a global prior.

The text is read as one stream in segments of ``segment`` tokens. Each segment is scored first, with
the current weights; then the model takes one gradient step on that segment's mean cross-entropy::

    theta <- theta - lr * grad / (rms + eps) + lam * decay * (theta_0 - theta)

where ``rms`` is the root mean square of each weight's gradient on training text
(:mod:`charlm.models.gradstats`), ``theta_0`` the trained weights and ``decay = rms / mean(rms)``
clipped at ``1 / lam``, so weights that move much in training also return faster. The paper's
defaults: lr 5e-5, lam 0.002, eps 2e-5, segments of 5 tokens, one stream (batch 1). With ``lr = 0``
nothing moves and the scores are exactly plain streamed evaluation's. The trained weights are put
back when evaluation ends; the model directory is never written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from charlm.checkpoint import DYNAMIC_STATS, load_tensors
from charlm.errors import BadOption, CharlmError
from charlm.eval.cache import NeuralCache
from charlm.io import read_text
from charlm.models.base import LanguageModel
from charlm.models.gradstats import gradient_rms, named_weights
from charlm.models.scoring import target_logprobs
from charlm.models.state import detach_state
from charlm.options import check_all
from charlm.runtime import autocast
from charlm.tokenizers import Tokenizer

DYNAMIC_LR = 5e-5
DYNAMIC_LAMBDA = 0.002
DYNAMIC_EPS = 2e-5
DYNAMIC_SEGMENT = 5


@dataclass(frozen=True)
class DynamicConfig:
    """Settings of one dynamic evaluation (stored in the result's JSON)."""

    lr: float = DYNAMIC_LR
    lam: float = DYNAMIC_LAMBDA
    eps: float = DYNAMIC_EPS
    segment: int = DYNAMIC_SEGMENT

    def __post_init__(self) -> None:
        check_all("eval", {"dynamic_lr": self.lr, "dynamic_lambda": self.lam, "dynamic_segment": self.segment})
        if not (isinstance(self.eps, (int, float)) and 1e-12 <= self.eps < float("inf")):
            raise BadOption(f"the dynamic evaluation's eps must be a finite number >= 1e-12 (got {self.eps!r})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dynamic_config(on: bool, lr: float | None, lam: float | None, segment: int | None) -> DynamicConfig | None:
    """The settings from ``--dynamic`` and its tuning options (refused without ``--dynamic``), or None."""
    if not on:
        if lr is not None or lam is not None or segment is not None:
            raise BadOption(
                "--dynamic-lr, --dynamic-lambda and --dynamic-segment tune dynamic evaluation; add --dynamic"
            )
        return None
    default = DynamicConfig()
    return DynamicConfig(
        lr=default.lr if lr is None else lr,
        lam=default.lam if lam is None else lam,
        segment=default.segment if segment is None else segment,
    )


class DynamicEval:
    """Scores windows and adapts ``model`` after each; :meth:`restore` puts the trained weights back."""

    def __init__(self, model: LanguageModel, rms: dict[str, Tensor], config: DynamicConfig) -> None:
        self.model, self.config = model, config
        self.weights = named_weights(model)
        if set(rms) != set(self.weights):
            raise CharlmError("the gradient statistics do not fit this model (other weights); recompute them")
        self.rms = {n: rms[n].to(p.device) for n, p in self.weights.items()}
        mean = torch.stack([r.mean() for r in self.rms.values()]).mean().clamp_min(1e-30)
        limit = 1.0 / config.lam if config.lam > 0 else float("inf")
        self.decay = {n: (r / mean).clamp(max=limit) for n, r in self.rms.items()}
        self.theta0 = {n: p.detach().clone() for n, p in self.weights.items()}

    def logprobs(
        self,
        inputs: Tensor,
        targets: Tensor,
        precision: str,
        state: Any,
        cache: NeuralCache | None = None,
        adjust: Callable[[Tensor], Tensor] | None = None,
    ) -> tuple[Tensor, Any]:
        """log p of ``targets (R,W)`` under the current weights (with the cache mixed in), then one update.

        ``adjust`` maps the model's log-probabilities before the cache mixes in (an n-gram mixture).
        """
        model, device = self.model, self.model.device
        targets = targets.to(device)
        moving = self.config.lr > 0  # at lr 0 the weights never leave theta_0: no gradient is worth computing
        with torch.set_grad_enabled(moving), autocast(device, precision):
            h, state = model.features(inputs.to(device), state)  # (R,W,D)
            logits = model.logits_from(h)  # (R,W,V)
        logp = target_logprobs(logits, targets)  # (R,W)
        if moving:
            model.zero_grad(set_to_none=True)
            (-logp.mean()).backward()
            self._update()
        scores = logp.detach()
        if adjust is not None:
            scores = adjust(scores.cpu()).to(device=scores.device, dtype=torch.float32)  # (R,W)
        if cache is not None:
            scores = cache.mix(h.detach().float(), scores, targets)
        return scores.cpu(), detach_state(state)

    @torch.no_grad()
    def _update(self) -> None:
        c = self.config
        for name, p in self.weights.items():
            if p.grad is None:
                continue
            p.add_(c.lam * self.decay[name] * (self.theta0[name] - p) - c.lr * p.grad / (self.rms[name] + c.eps))
            p.grad = None

    @torch.no_grad()
    def restore(self) -> None:
        for name, p in self.weights.items():
            p.copy_(self.theta0[name])


def open_dynamic(
    model: LanguageModel,
    tokenizer: Tokenizer,
    model_dir: Path,
    dynamic: DynamicConfig | bool | None,
    stats_file: str | Path | None = None,
    encoding: str = "utf-8",
    errors: str = "strict",
) -> DynamicEval | None:
    """The dynamic evaluation ``dynamic`` asks for (True: the paper's settings; None/False: none), with
    its statistics from ``stats_file`` or the model directory; ``--dynamic-stats`` alone is refused."""
    if not dynamic:
        if stats_file is not None:
            raise BadOption("--dynamic-stats gives dynamic evaluation its statistics; add --dynamic")
        return None
    config = dynamic if isinstance(dynamic, DynamicConfig) else DynamicConfig()
    return DynamicEval(model, gradient_stats(model, tokenizer, model_dir, stats_file, encoding, errors), config)


def gradient_stats(
    model: LanguageModel,
    tokenizer: Tokenizer,
    model_dir: Path,
    text_file: str | Path | None = None,
    encoding: str = "utf-8",
    errors: str = "strict",
) -> dict[str, Tensor]:
    """The RMS statistics dynamic evaluation divides by: computed on ``text_file`` (training text) when
    given, else the ones training stored in the model directory."""
    if text_file is not None:
        ids = torch.tensor(tokenizer.encode(read_text(text_file, encoding, errors)), dtype=torch.long)
        if ids.numel() < 2 * DYNAMIC_SEGMENT + 2:
            raise CharlmError(f"{text_file} is too short to measure gradient statistics; give more training text")
        return gradient_rms(model, ids)
    path = model_dir / DYNAMIC_STATS
    if not path.exists():
        raise CharlmError(
            f"{model_dir} has no {DYNAMIC_STATS} (models trained before dynamic evaluation lack it); "
            "pass --dynamic-stats FILE with some of the training text"
        )
    return load_tensors(path)
