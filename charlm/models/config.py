"""ModelConfig, the shapes and options that rebuild a model, and the State type (no torch import).

Kept free of torch so that option validation (the CLI, TrainConfig) can use it without paying
for the import; config.json stores ``ModelConfig.to_dict()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

State = Any  # None | Tensor | tuple[State, ...]: a core's recurrent state, walked by models.state.map_state

# Fields beyond the shapes that change which modules (and weight names) a model has; fine-tuning
# from a model must keep them.
STRUCTURE_FIELDS = ("residual", "direction", "attention", "wdrop", "locked_dropout", "clock_modules", "start_state")
DIRECTIONS = ("forward", "both")
START_STATES = ("zero", "learned")  # where a line starts: zeros, or a learned state (models/start.py)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model's shapes (stored in config.json)."""

    vocab_size: int
    arch: str = "lstm"
    layers: int = 2
    hidden: int = 512
    embed: int = 128
    dropout: float = 0.0
    tie_weights: bool = False
    # issue 6 (defaults keep older config.json files loadable)
    residual: bool = False  # add each layer's input to its output where widths agree
    direction: str = "forward"  # "both": a backward LM on the reversed stream shares the embedding (ELMo)
    attention: int = 0  # K > 0: attend over the last K hidden states (Daniluk et al. 2017)
    wdrop: float = 0.0  # DropConnect on the fused LSTM's hidden-to-hidden weights (AWD-LSTM)
    dropoute: float = 0.0  # embedding dropout: whole token rows
    locked_dropout: bool = False  # one dropout mask per sequence instead of per step
    clock_modules: int = 4  # clockwork RNN: modules with periods 1, 2, 4, ...
    # issue 13 (absent from older config.json files: they start from zeros)
    start_state: str = "zero"  # "learned": lines start from a trained state (models/start.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in known})
