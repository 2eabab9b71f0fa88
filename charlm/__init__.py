"""charlm: recurrent language models from a text file.

Tokenize (char, word, subword), train (RNN, LSTM, GRU and hand-written cells), score sentences
and corpora, and sample text. The public API is imported lazily so that ``charlm --help`` does not
pay for importing torch::

    import charlm
    lm = charlm.load("checkpoints/latest")
    lm.score(["the apple and pear salad", "the apple and pair salad"])
    lm.sample("ROMEO:", temperature=0.8, length=200, seed=1)
    charlm.train(charlm.TrainConfig(corpus="input.txt", steps=500))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load": "charlm.api",
    "Model": "charlm.api",
    "gradflow": "charlm.api",
    "train": "charlm.training.loop",
    "TrainConfig": "charlm.training.loop",
    "TrainResult": "charlm.training.loop",
    "ModelConfig": "charlm.models.base",
    "LanguageModel": "charlm.models.base",
    "BidirectionalLM": "charlm.models.base",
    "BidirectionalScore": "charlm.eval.bidirectional",
    "Neighbor": "charlm.eval.neighbors",
    "GradFlow": "charlm.eval.gradflow",
    "CharlmError": "charlm.errors",
    "build_tokenizer": "charlm.tokenizers",
    "load_tokenizer": "charlm.tokenizers",
    "SentenceScore": "charlm.eval.score",
    "CorpusScore": "charlm.eval.corpus",
    "Ranking": "charlm.eval.score",
    "Beam": "charlm.eval.beam",
    "Sample": "charlm.eval.sample",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'charlm' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
