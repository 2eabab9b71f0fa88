"""ModelInfo: what ``Model.info()`` and ``charlm info`` report about a model directory, typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelInfo:
    """A model's path, parameter count, stored configuration (config.json) and word segmenter, if any.

    ``to_dict()`` is the object ``charlm info --json`` prints; ``info["model"]`` and ``info.get(...)``
    read that object too, as callers of the untyped dictionary did.
    """

    path: str
    parameters: int
    config: Mapping[str, Any] = field(default_factory=dict)
    segment: Mapping[str, Any] | None = None  # word level on Chinese: jieba, its version, its dictionary

    def to_dict(self) -> dict[str, Any]:
        info = {"path": self.path, "parameters": self.parameters, **self.config}
        return {**info, "segment": dict(self.segment)} if self.segment is not None else info

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)
