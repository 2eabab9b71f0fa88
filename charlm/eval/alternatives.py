"""The model's most likely tokens at each position of a sentence: what it expected where it read each token.

A sentence is read as :mod:`charlm.eval.score` reads it (from a fresh state, ``<eos>`` as the start,
its own ``<eos>`` counted), so position ``t`` here is position ``t`` of ``score --per-token``. The
alternatives are the network's softmax alone: an n-gram mixed into the scores is not mixed in here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from charlm.models.base import LanguageModel
from charlm.tokenizers import Tokenizer

Alternatives = list[list[tuple[str, float]]]  # per position: (token, nats), most likely first


def top_alternatives(model: LanguageModel, tokenizer: Tokenizer, texts: Sequence[str], k: int) -> list[Alternatives]:
    """For each text (as the model reads it), the ``k`` most likely tokens and their log-probabilities at each position."""
    model.eval()
    found: list[Alternatives] = []
    with torch.inference_mode():
        for text in texts:
            ids = [tokenizer.eos_id, *tokenizer.encode(text)]  # the inputs: <eos> then every token but the last
            inputs = torch.tensor([ids], dtype=torch.long, device=model.device)  # (1,T)
            logits, _ = model(inputs, None)  # (1,T,V)
            logp = torch.log_softmax(logits[0].float(), dim=-1)  # (T,V)
            values, index = logp.topk(min(k, logp.shape[-1]), dim=-1)  # (T,k)
            found.append(
                [
                    [(tokenizer.token_str(i), v) for i, v in zip(row_i, row_v, strict=True)]
                    for row_i, row_v in zip(index.tolist(), values.tolist(), strict=True)
                ]
            )
    return found
