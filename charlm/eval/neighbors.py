"""Nearest words and analogies in a word-level model's learned input embeddings (cosine similarity).

The seed notes' word-representation section: words used alike end up close in embedding space,
and offsets can carry relations (``king - man + woman ~ queen``, Mikolov et al. 2013). With the
small corpora charlm trains on, expect topical neighbours more than clean analogies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.errors import CharlmError
from charlm.models.base import LanguageModel
from charlm.tokenizers import Tokenizer


@dataclass(frozen=True)
class Neighbor:
    """A vocabulary entry and its cosine similarity to the query."""

    word: str
    similarity: float


def _check_level(tokenizer: Tokenizer) -> None:
    if tokenizer.kind == "char":
        raise CharlmError(
            "neighbors needs a word-level model (this one is char-level); "
            "train one with `charlm train FILE --level word`"
        )


def _word_id(tokenizer: Tokenizer, word: str) -> int:
    if not word.strip():
        raise CharlmError("the word is empty; give a word of the model's vocabulary")
    exact = getattr(tokenizer, "stoi", {}).get(word)  # a vocabulary word as it is (segmenters may cut it alone)
    if exact is not None and exact > tokenizer.eos_id:
        return int(exact)
    ids = tokenizer.encode(word)
    if len(ids) != 1 or ids[0] == tokenizer.unk_id:
        raise CharlmError(f"{word!r} is not one token of this model's vocabulary; try a more frequent word")
    if ids[0] in (tokenizer.unk_id, tokenizer.eos_id) or tokenizer.token_str(ids[0]) in ("<unk>", "<eos>"):
        raise CharlmError(f"{word!r} is a special token, not a word; special tokens have no neighbours")
    return ids[0]


def _nearest(model: LanguageModel, tokenizer: Tokenizer, query: Tensor, exclude: set[int], k: int) -> list[Neighbor]:
    weight = model.embed.weight.detach().float()  # (V,E)
    sims = F.cosine_similarity(weight, query[None, :], dim=-1)  # (V,)
    for i in exclude | {tokenizer.unk_id, tokenizer.eos_id}:
        sims[i] = -float("inf")
    top = torch.topk(sims, min(k, max(1, sims.numel() - len(exclude) - 2)))
    return [
        Neighbor(tokenizer.token_str(int(i)), float(s))
        for s, i in zip(top.values, top.indices, strict=True)
        if torch.isfinite(s)  # excluded entries (-inf) and a zero query vector (nan) are not neighbours
    ]


def neighbors(model: LanguageModel, tokenizer: Tokenizer, word: str, k: int = 10) -> list[Neighbor]:
    """The ``k`` words whose input embeddings are closest (cosine) to ``word``'s."""
    _check_level(tokenizer)
    index = _word_id(tokenizer, word)
    return _nearest(model, tokenizer, model.embed.weight.detach().float()[index], {index}, k)


def analogy(model: LanguageModel, tokenizer: Tokenizer, a: str, b: str, c: str, k: int = 10) -> list[Neighbor]:
    """``a`` is to ``b`` as ? is to ``c``: the words nearest ``a - b + c`` (3CosAdd), inputs excluded."""
    _check_level(tokenizer)
    ids = [_word_id(tokenizer, w) for w in (a, b, c)]
    vectors = F.normalize(model.embed.weight.detach().float()[ids], dim=-1)  # (3,E)
    return _nearest(model, tokenizer, vectors[0] - vectors[1] + vectors[2], set(ids), k)
