"""The service's request bodies, built from the option declarations (:mod:`charlm.options`).

Each body field is a declared option: its JSON type, its default and its description come from the
declaration, and its value is checked by the declaration's rule, so ``POST /sample {"seed": -1}``
gets the verdict ``charlm sample --seed -1`` gets, as a 422 naming the field. Bodies are strict:
unknown fields and wrong JSON types are refused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from charlm.opt import Opt
from charlm.options import declared
from charlm.values import Choice, Flag, Float, Int, NgramWeight, Text, Texts, Words


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def json_type(opt: Opt) -> Any:
    """The JSON (Python) type of a declared option's values."""
    kind = opt.value
    base: Any
    if isinstance(kind, Choice):
        base = Literal[kind.choices]
    elif isinstance(kind, NgramWeight):
        base = float | Literal["auto"]
    elif isinstance(kind, Flag):
        base = bool
    elif isinstance(kind, Int):
        base = int
    elif isinstance(kind, Float):
        base = float | int
    elif isinstance(kind, (Texts, Words)):
        base = list[str]
    elif isinstance(kind, Text):
        base = str
    else:
        raise TypeError(f"no JSON type for option {opt.key!r}")
    return base | None if opt.optional else base


REQUESTS: dict[str, dict[str, str]] = {}  # request body -> its fields' declaration keys


def request(name: str, fields: dict[str, str], doc: str, required: tuple[str, ...] = ()) -> type[Strict]:
    """A strict request body whose ``fields`` (field name -> declaration key) are declared options."""
    keys = REQUESTS[name] = dict(fields)

    def checked(cls: type[Strict], value: Any, info: ValidationInfo) -> Any:
        problem = declared(keys[str(info.field_name)]).problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    definitions: dict[str, Any] = {}
    for field, key in fields.items():
        opt = declared(key)
        default = ... if field in required else (list(opt.default) if isinstance(opt.default, tuple) else opt.default)
        definitions[field] = (json_type(opt), Field(default=default, description=opt.help))
    validators: dict[str, Any] = {"declared": field_validator(*fields, mode="after")(classmethod(checked))}
    model: type[Strict] = create_model(name, __base__=Strict, __doc__=doc, __validators__=validators, **definitions)
    return model


SCORING = {"unk": "unk", "ngram_weight": "ngram_weight", "precision": "precision"}
ScoreRequest = request(
    "ScoreRequest",
    {
        "sentences": "sentences",
        "normalize": "normalize",
        "per_token": "per_token",
        "alternatives": "alternatives",
        **SCORING,
    },
    "Sentences, each scored from a fresh state (<eos> counted), as `charlm score --json`.",
    required=("sentences",),
)
EvalRequest = request(
    "EvalRequest",
    {"text": "prime", "independent": "independent", **SCORING},
    "A text scored as one stream (state carried), as `charlm eval FILE --json`.",
    required=("text",),
)
PredictRequest = request(
    "PredictRequest",
    {
        "prefix": "prefix",
        "k": "k",
        "words": "words",
        "blank": "blank",
        "candidates": "candidates",
        "keep_unk": "keep_unk",
        "ngram_weight": "ngram_weight",
    },
    "The next tokens or words after a prefix, or words for a ___, as `charlm predict --json`.",
    required=("prefix",),
)
SampleRequest = request(
    "SampleRequest",
    {
        "prime": "prime",
        "length": "length",
        "temperature": "temperature",
        "top_k": "top_k",
        "top_p": "top_p",
        "num": "num",
        "seed": "sample.seed",
        "until_eos": "until_eos",
        "stop": "stop",
        "unk": "unk",
        "ngram_weight": "ngram_weight",
        "precision": "sample.precision",
    },
    "Samples streamed as NDJSON, as `charlm sample`.",
)
