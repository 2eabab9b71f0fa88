"""The Python API: ``charlm.load(dir)`` returns a :class:`Model` that scores, evaluates and samples.

The CLI calls exactly these methods; they return plain dataclasses and never print.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from charlm.checkpoint import load_model
from charlm.data import read_text
from charlm.runtime import pick_device
from charlm.sample import Sample, TokenCallback, sample
from charlm.score import CorpusScore, SentenceScore, score_sentences, score_text


class Model:
    """A trained language model with its tokenizer, ready to use."""

    def __init__(self, path: str | Path | None = None, device: str = "auto") -> None:
        self.device = pick_device(device)
        self.module, self.tokenizer, self.config = load_model(path, self.device)
        self.path = Path(path) if path else Path("checkpoints/latest")

    def score(self, texts: str | Sequence[str], per_token: bool = False, batch_size: int = 64) -> list[SentenceScore]:
        """Score sentences from a fresh state, counting their end-of-sentence token."""
        items = [texts] if isinstance(texts, str) else list(texts)
        return score_sentences(self.module, self.tokenizer, items, per_token=per_token, batch_size=batch_size)

    def eval(self, path: str | Path, encoding: str = "utf-8", errors: str = "strict") -> CorpusScore:
        """Perplexity and bits per char of a whole file, state carried across lines."""
        return score_text(self.module, self.tokenizer, read_text(path, encoding, errors), path=str(path))

    def sample(self, prime: str = "", length: int = 200, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, num: int = 1, seed: int | None = None, until_eos: bool = False,
               on_token: TokenCallback | None = None) -> list[Sample]:
        """Generate ``num`` continuations of ``prime``."""
        return sample(self.module, self.tokenizer, prime, length, temperature, top_k, top_p, num, seed,
                      until_eos, on_token)

    def info(self) -> dict[str, Any]:
        """What is inside the model directory."""
        return {"path": str(self.path), "parameters": self.module.num_parameters(), **self.config}


def load(path: str | Path | None = None, device: str = "auto") -> Model:
    """Load a model directory (default: checkpoints/latest)."""
    return Model(path, device)
