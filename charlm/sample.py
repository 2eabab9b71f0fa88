"""Sampling: draw each next token from softmax(logits / T), as ``np.random.choice`` would.

``<unk>`` is never emitted: its probability is set to zero before drawing, which gives exactly
the distribution of the seed notes' "draw again when you get <unk>". Temperature 0 is greedy
argmax; ``top_k`` and ``top_p`` (nucleus) truncate the distribution before drawing. ``num``
samples are drawn together as one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.errors import CharlmError
from charlm.models import LanguageModel
from charlm.tokenizers import Tokenizer

TokenCallback = Callable[[int, str], None]


@dataclass(frozen=True)
class Sample:
    """One generated continuation and its log-probability (nats) under the untempered model."""

    prime: str
    text: str
    ids: list[int]
    logprob: float


def check_options(temperature: float, top_k: int | None, top_p: float | None, length: int, num: int) -> None:
    """Refuse out-of-range sampling options with one clear line."""
    if temperature < 0:
        raise CharlmError(f"--temp must be >= 0 (got {temperature}); 0 means greedy")
    if top_k is not None and top_k < 1:
        raise CharlmError(f"--top-k must be at least 1 (got {top_k})")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise CharlmError(f"--top-p must be in (0, 1] (got {top_p})")
    if length < 1:
        raise CharlmError(f"--length must be at least 1 (got {length})")
    if num < 1:
        raise CharlmError(f"--num must be at least 1 (got {num})")


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Keep the ``top_k`` most likely tokens and/or the smallest set whose mass reaches ``top_p``."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (B,1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B,V)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) >= top_p  # mass before this token already reaches top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def pick(logits: Tensor, temperature: float, generator: torch.Generator | None, top_k: int | None = None,
         top_p: float | None = None) -> Tensor:
    """One next-token id per row from ``logits (B,V)``."""
    if temperature == 0:
        return logits.argmax(-1)  # (B,)
    probs = filter_logits(logits / temperature, top_k, top_p).softmax(-1)  # (B,V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


@torch.no_grad()
def sample(
    model: LanguageModel,
    tokenizer: Tokenizer,
    prime: str = "",
    length: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    num: int = 1,
    seed: int | None = None,
    until_eos: bool = False,
    on_token: TokenCallback | None = None,
) -> list[Sample]:
    """Generate ``num`` continuations of ``prime``; ``on_token(row, text)`` streams new text."""
    check_options(temperature, top_k, top_p, length, num)
    model.eval()
    device = model.device
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    context = torch.tensor([tokenizer.eos_id, *tokenizer.encode(prime)], device=device).repeat(num, 1)  # (B,L)
    logits, state = model(context)  # (B,L,V)
    last = logits[:, -1].float()  # (B,V)
    out: list[list[int]] = [[] for _ in range(num)]
    logprob = torch.zeros(num, device=device)
    done = torch.zeros(num, dtype=torch.bool, device=device)
    shown = [""] * num
    for _ in range(length):
        last[:, tokenizer.unk_id] = float("-inf")
        nxt = pick(last, temperature, generator, top_k, top_p)  # (B,)
        logprob += torch.where(done, 0.0, F.log_softmax(last, -1).gather(-1, nxt[:, None]).squeeze(-1))
        for row, token in enumerate(nxt.tolist()):
            if done[row]:
                continue
            out[row].append(token)
            if on_token is not None:
                text = tokenizer.decode(out[row])
                on_token(row, text[len(shown[row]):])
                shown[row] = text
        if until_eos:
            done |= nxt == tokenizer.eos_id
            if bool(done.all()):
                break
        logits, state = model(nxt[:, None], state)  # (B,1,V)
        last = logits[:, -1].float()
    return [Sample(prime=prime, text=tokenizer.decode(ids[:-1] if until_eos and ids and ids[-1] == tokenizer.eos_id
                                                      else ids), ids=ids, logprob=float(lp))
            for ids, lp in zip(out, logprob.tolist(), strict=True)]
