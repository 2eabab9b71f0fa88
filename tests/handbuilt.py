"""A language model whose next-token distribution is set by hand: a bigram table P[prev][next].

The core is the identity on one-hot embeddings, so ``logits = log P[prev]`` exactly and every
score, sample and beam has an answer computable on paper. Vocabulary (a CharTokenizer of "ab"):
``<unk>`` = 0, ``<eos>`` = 1, ``a`` = 2, ``b`` = 3. The core is registered under a test-only
``--arch`` name for as long as :func:`registered` is active.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

from charlm import checkpoint as ckpt
from charlm.models.base import LanguageModel
from charlm.models.config import ModelConfig
from charlm.models.registry import ARCHS, ArchSpec
from charlm.tokenizers.char import CharTokenizer

UNK, EOS, A, B = 0, 1, 2, 3
ARCH = "bigram-test"

# P[prev] over (<unk>, <eos>, a, b). From the start, greedy takes "a" (0.5) but "bb" (0.4 * 0.9) beats
# any "a?" (0.5 * 0.36), so a beam of width 2 finds what greedy misses.
TABLE = [
    [0.0001, 0.3333, 0.3333, 0.3333],  # after <unk>
    [0.0001, 0.0999, 0.5, 0.4],  # after <eos> (the start)
    [0.0001, 0.2999, 0.36, 0.34],  # after a
    [0.0001, 0.0999, 0.0001, 0.8999],  # after b
]


class OneHotCore(nn.Module):
    """Passes the (one-hot) embeddings through; no state."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.output_size = size

    def forward(self, x: Tensor, state: object = None) -> tuple[Tensor, None]:
        return x, None


def one_hot_core(config: ModelConfig, input_size: int) -> OneHotCore:
    return OneHotCore(input_size)


@contextlib.contextmanager
def registered() -> Iterator[None]:
    ARCHS[ARCH] = ArchSpec(ARCH, "tests.handbuilt:one_hot_core", "test-only bigram table")
    try:
        yield
    finally:
        ARCHS.pop(ARCH, None)


def tokenizer() -> CharTokenizer:
    return CharTokenizer(["a", "b"])


def log_table(table: list[list[float]] = TABLE) -> list[list[float]]:
    """log P[prev][next], each row renormalised to sum to one."""
    return [[math.log(p / sum(row)) for p in row] for row in table]


def build(table: list[list[float]] = TABLE) -> LanguageModel:
    """The bigram model for ``table`` (must be used inside :func:`registered`)."""
    model = LanguageModel(ModelConfig(vocab_size=4, arch=ARCH, layers=1, hidden=4, embed=4, dropout=0.0))
    with torch.no_grad():
        model.embed.weight.copy_(torch.eye(4))
        model.head.weight.copy_(torch.tensor(log_table(table)).T)  # logits = W[:, prev] = log P[prev]
        model.head.bias.zero_()
    return model.eval()


def save(directory: Path, table: list[list[float]] = TABLE) -> Path:
    """Write the bigram model as a model directory charlm.load and the CLI can read."""
    directory.mkdir(parents=True, exist_ok=True)
    model = build(table)
    ckpt.save_weights(model, directory / ckpt.BEST)
    tokenizer().save(directory)
    ckpt.write_config(directory, {"model": model.config.to_dict(), "tokenizer": {"kind": "char"}})
    return directory


def logprob(ids: list[int], start: int = EOS, table: list[list[float]] = TABLE) -> float:
    """log P(ids | start) under the table."""
    logp = log_table(table)
    return sum(logp[prev][nxt] for prev, nxt in zip([start, *ids[:-1]], ids, strict=True))


def brute_force(length: int, until_eos: bool, normalize: bool) -> tuple[list[int], float]:
    """The best continuation (ids, log-prob) by enumerating every sequence over {<eos>, a, b}."""
    if until_eos:
        candidates = [[*body, EOS] for n in range(length) for body in itertools.product((A, B), repeat=n)]
    else:
        candidates = [list(seq) for seq in itertools.product((EOS, A, B), repeat=length)]

    def value(ids: list[int]) -> float:
        return logprob(ids) / len(ids) if normalize else logprob(ids)

    best = max(candidates, key=value)
    return best, logprob(best)
