"""What an export directory holds: model.json (what every graph input and output means) and the
writer's :class:`~charlm.writer.Kind` for the directory, which tells an earlier export from other files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charlm.layout import CONFIG, TOKENIZER, TOKENIZER_MODEL
from charlm.models.base import LanguageModel
from charlm.tokenizers import Tokenizer
from charlm.writer import Kind

OPSET = 17


def names(count: int) -> tuple[list[str], list[str]]:
    """The graphs' state input and output names."""
    return [f"state_{i}" for i in range(count)], [f"state_out_{i}" for i in range(count)]


def _vocab(tokenizer: Tokenizer) -> list[str]:
    """Token names by id (``<eos>``, ``<unk>``, pieces)."""
    return [tokenizer.token_str(i) for i in range(tokenizer.vocab_size)]


def _text(tokenizer: Tokenizer) -> list[str]:
    """What each id decodes to on its own (``<eos>`` is a newline); joining them decodes a char model exactly."""
    if tokenizer.kind == "char":
        return [tokenizer.decode([i]) for i in range(tokenizer.vocab_size)]
    return [tokenizer.decode([i]) + ("" if i == tokenizer.eos_id else " ") for i in range(tokenizer.vocab_size)]


def describe(model: LanguageModel, tokenizer: Tokenizer, specs: list[dict[str, Any]], quantize: str) -> dict[str, Any]:
    """The model.json written beside the graphs: what every input and output means."""
    ins, outs = names(len(specs))
    return {
        "format": "charlm-onnx",
        "version": 1,
        "opset": OPSET,
        "quantize": quantize,
        "arch": model.config.arch,
        "vocab_size": tokenizer.vocab_size,
        "eos_id": tokenizer.eos_id,
        "unk_id": tokenizer.unk_id,
        "tokenizer": tokenizer.kind,
        "vocab": _vocab(tokenizer),
        "text": _text(tokenizer),
        "graphs": {
            "window": {
                "file": "window.onnx",
                "inputs": {"ids": "int64 (batch, time)"},
                "logits": "(batch, time, vocab)",
            },
            "step": {"file": "step.onnx", "inputs": {"ids": "int64 (batch,)"}, "logits": "(batch, vocab)"},
        },
        "state": [{"input": i, "output": o, "dtype": "float32", **s} for i, o, s in zip(ins, outs, specs, strict=True)],
        "usage": (
            "Start each sequence from every state's start values where it has them (shape with batch 1, repeated "
            "along its batch axis), else zeros of its shape (batch axis set to your batch); feed ids "
            "with the previous call's state_out_* as state_*. Score: the window graph over <eos> + ids; "
            "log_softmax(logits) at position t predicts token t+1. Sample: the step graph, one token at a time."
        ),
    }


def _is_export(directory: Path) -> bool:
    """Whether ``directory`` holds an earlier export (its model.json says so)."""
    try:
        return json.loads((directory / "model.json").read_text(encoding="utf-8")).get("format") == "charlm-onnx"
    except (OSError, ValueError, AttributeError):
        return False


EXPORT = Kind(
    "an ONNX export",
    "--out",
    files=frozenset({"window.onnx", "step.onnx", "model.json", TOKENIZER, TOKENIZER_MODEL, CONFIG}),
    marker=_is_export,
)
