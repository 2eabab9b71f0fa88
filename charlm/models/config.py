"""ModelConfig, the shapes and options that rebuild a model, and the State type (no torch import).

Kept free of torch so that option validation (the CLI, TrainConfig) can use it without paying
for the import; config.json stores ``ModelConfig.to_dict()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

State = Any  # None | Tensor | tuple[State, ...]: a core's recurrent state, walked by models.state.map_state

# Field metadata: a structure field decides which modules (and weight names, and shapes) a model has,
# so fine-tuning from a model keeps it (:func:`structure_fields`); the others (dropouts) may change.
STRUCTURE = {"structure": True}
DIRECTIONS = ("forward", "both")
START_STATES = ("zero", "learned", "fitted")  # where a line starts: zeros, or a learned state (models/start.py)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model's shapes (stored in config.json)."""

    vocab_size: int
    arch: str = field(default="lstm", metadata=STRUCTURE)
    layers: int = field(default=2, metadata=STRUCTURE)
    hidden: int = field(default=512, metadata=STRUCTURE)
    embed: int = field(default=128, metadata=STRUCTURE)
    dropout: float = 0.0
    tie_weights: bool = field(default=False, metadata=STRUCTURE)
    # issue 6 (defaults keep older config.json files loadable)
    residual: bool = field(default=False, metadata=STRUCTURE)  # add each layer's input to its output where widths agree
    direction: str = field(default="forward", metadata=STRUCTURE)  # "both": a BidirectionalLM (ELMo)
    attention: int = field(default=0, metadata=STRUCTURE)  # K > 0: attend over the last K hidden states
    wdrop: float = field(default=0.0, metadata=STRUCTURE)  # DropConnect on the fused LSTM's W_hh (AWD-LSTM)
    dropoute: float = 0.0  # embedding dropout: whole token rows
    locked_dropout: bool = field(default=False, metadata=STRUCTURE)  # one dropout mask per sequence, not per step
    clock_modules: int = field(default=4, metadata=STRUCTURE)  # clockwork RNN: modules with periods 1, 2, 4, ...
    mogrify_rounds: int = field(default=5, metadata=STRUCTURE)  # Mogrifier LSTM: rounds of mutual gating of x and h
    mogrify_rank: int = field(default=0, metadata=STRUCTURE)  # Mogrifier LSTM: rank of the gating matrices (0 = full)
    # issue 13 (absent from older config.json files: they start from zeros)
    start_state: str = field(default="zero", metadata=STRUCTURE)  # "learned": a trained start state (models/start.py)
    # issue 9 (absent from older config.json files: they have the full softmax)
    softmax: str = field(default="full", metadata=STRUCTURE)  # "adaptive": clustered head (models/adaptive.py)
    cutoffs: tuple[int, ...] = field(default=(), metadata=STRUCTURE)  # adaptive: where the shortlist and tails end

    def __post_init__(self) -> None:
        if isinstance(self.cutoffs, list):  # config.json stores the tuple as a list
            object.__setattr__(self, "cutoffs", tuple(self.cutoffs))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in known})


def structure_fields() -> tuple[str, ...]:
    """The ModelConfig fields that make up a model's structure (declared with ``metadata=STRUCTURE``)."""
    return tuple(f.name for f in fields(ModelConfig) if f.metadata.get("structure"))
