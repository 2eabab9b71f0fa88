"""The options that shape a model, declared once (``charlm train``, :class:`charlm.TrainConfig`,
:class:`charlm.models.config.ModelConfig` and every config.json that is loaded are checked by them).

They live beside the models (torch-free) so that :func:`charlm.models.registry.validate_model`
checks a loaded model's shapes with the same rules as the command line; :mod:`charlm.options`
registers them with every other option.
"""

from __future__ import annotations

from typing import Any

from charlm.errors import BadOption
from charlm.models.config import DIRECTIONS, START_STATES, ModelConfig
from charlm.models.registry import ARCHS, arch_help, get_arch
from charlm.models.softmax import ADAPTIVE_MIN_VOCAB, SOFTMAXES, check_softmax, parse_cutoffs
from charlm.opt import Opt
from charlm.values import Choice, Flag, Float, Int, Value, shown

FRACTION = Float(0.0, 1.0, high_open=True)


class Cutoffs(Value):
    """``--cutoffs``: increasing word counts, e.g. 2000,10000; a list of them from Python or JSON."""

    __name__ = "N[,N...]"
    bad = ("bogus", "10000,2000", "1", "2000,,", "-5", "99999999999999999999999")

    def parse(self, text: str) -> tuple[int, ...]:
        return parse_cutoffs(text)

    def check(self, value: Any) -> tuple[int, ...]:
        if isinstance(value, str):
            return self.parse(value)
        if type(value) is int:  # one cutoff
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(type(v) is int for v in value):
            raise BadOption(f"must be increasing word counts such as 2000,10000 (got {shown(value)})")
        return self.parse(",".join(str(v) for v in value)) if value else ()


class ArchName(Choice):
    """An architecture of the registry, as it is when checked (tests register hand-built ones)."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(ARCHS)

    @choices.setter
    def choices(self, value: tuple[str, ...]) -> None:
        pass


MODEL = (
    Opt("arch", ArchName(), None, arch_help(), recipe=True),
    Opt("layers", Int(1, 100), None, "Stacked recurrent layers", recipe=True),
    Opt("hidden", Int(1, 65536), None, "Hidden units per layer", recipe=True),
    Opt("embed", Int(1, 65536), None, "Embedding size", recipe=True),
    Opt("dropout", FRACTION, None, "Dropout on embeddings, between layers and before the head (0 for a few minutes, 0.2 for 10, 0.3-0.5 for hours)", recipe=True),
    Opt("tie_weights", Flag(), None, "Share input and output embeddings", ("--tie-weights/--no-tie-weights",), recipe=True),
    Opt("residual", Flag(), False, "Residual connections between stacked layers."),
    Opt("direction", Choice(DIRECTIONS), "forward", "forward, or both: also train a backward LM on the reversed text (ELMo-style; scores both ways, cannot sample)."),
    Opt("attention", Int(0, 100_000), 0, "Attend over the last K hidden states (Daniluk et al. 2017); 0 = off."),
    Opt("wdrop", FRACTION, 0.0, "AWD-LSTM weight drop (DropConnect) on the LSTM's hidden-to-hidden weights; --arch lstm."),
    Opt("dropoute", FRACTION, 0.0, "Embedding dropout: drop whole token rows of the embedding matrix."),
    Opt("locked_dropout", Flag(), False, "Variational dropout: one --dropout mask per sequence, shared over time."),
    Opt("clock_modules", Int(1, 32), 4, "Clockwork RNN: modules per layer (periods 1, 2, 4, ...)."),
    Opt("mogrify_rounds", Int(0, 100), 5, "Mogrifier LSTM: rounds of mutual gating of input and state."),
    Opt("mogrify_rank", Int(0, 65536), 0, "Mogrifier LSTM: rank of the gating matrices (0 = full)."),
    Opt("start_state", Choice(START_STATES), "fitted", "Where every line starts (scoring, sampling, fresh rows, resets): fitted (zeros while training, then fitted to the training text's line starts with the network frozen), zero, or learned (a start state trained with the network)."),
    Opt("reset_at_eos", Float(0.0, 1.0), 0.0, "At each line end, reset that row's carried state to the start state with this probability, so the model learns to start lines the way score reads them (0 = off, 1 = every line from the start: rnnlm's -independent)."),
    Opt("softmax", Choice(SOFTMAXES), None, f"Output layer: full, or adaptive (clustered softmax for word vocabularies of {ADAPTIVE_MIN_VOCAB:,}+ words: trains faster, every probability stays exact; the word recipes take it, and fall back to full below {ADAPTIVE_MIN_VOCAB:,} words)", recipe=True),
    Opt("cutoffs", Cutoffs(), None, "--softmax adaptive: where the frequent-word shortlist and each rarer cluster end, e.g. 2000,10000 [default: at 75% and 90% of the training tokens].", optional=True),
)  # fmt: skip

BY_NAME = {opt.name: opt for opt in MODEL}


def validate_model(config: ModelConfig, vocab_known: bool = True) -> None:
    """Model options that are out of range or cannot work together: one clear line, before any work.

    Each value by its declaration above; ``vocab_known=False`` (a training config, before its
    tokenizer exists) skips what depends on the vocabulary.
    """
    spec = get_arch(config.arch)
    for opt in MODEL:
        if hasattr(config, opt.name) and opt.name != "cutoffs":  # cutoffs: check_softmax below
            opt.check(getattr(config, opt.name))
    if vocab_known:
        Opt("vocab_size", Int(1), None, "").check(config.vocab_size)
    if config.wdrop and not spec.weight_drop:
        weighted = ", ".join(n for n, s in ARCHS.items() if s.weight_drop)
        raise BadOption(f"--wdrop works on {weighted} only (got --arch {config.arch})")
    check_softmax(config.softmax, config.cutoffs, config.vocab_size if vocab_known else None)
    if vocab_known and config.softmax == "adaptive" and not config.cutoffs:
        raise BadOption("an adaptive softmax needs its --cutoffs (charlm train chooses them from the corpus)")
