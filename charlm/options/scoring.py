"""ScoringOptions: the options that cross every scoring method, as one typed, checked value.

``unk`` (unknown-token policy), ``ngram_weight`` and ``ngram`` (the n-gram mixture), ``precision``
and ``batch_size`` mean the same in :meth:`Model.score`, ``rank``, ``eval``, ``score_file``,
``sample``, ``beam``, ``predict``, ``fill_blank``, ``state_scorer`` and ``rescore``, on the command
line and in the service, so they are declared once (:mod:`charlm.options.use`) and travel together::

    lm = charlm.load("run", options=ScoringOptions(unk="spell"))
    lm.score(["the apple and pear salad"])                          # unk="spell"
    lm.score(["..."], options=ScoringOptions(ngram_weight=0))       # one call, the network alone
    lm.using(ngram_weight=0).predict("the ")                        # a view with other options

The keywords the methods took before (``lm.score(texts, unk="spell")``) still work: they are folded
into the call's options by :meth:`ScoringOptions.merged`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from charlm.errors import BadOption
from charlm.options.declare import check, default

Unk = Literal["auto", "replace", "skip", "error", "spell"]
Precision = Literal["fp32", "bf16"]
NgramWeight = float | Literal["auto"]


@dataclass(frozen=True)
class ScoringOptions:
    """How a model reads text: unknown tokens, the n-gram mixture, precision, batch size (all checked)."""

    unk: Unk = default("unk")  # noqa: RUF009
    ngram_weight: NgramWeight = default("ngram_weight")  # noqa: RUF009
    ngram: str | Path | None = None  # an ARPA file over the model's vocabulary instead of its own n-gram
    precision: Precision = default("precision")  # noqa: RUF009
    batch_size: int | None = default("batch_size")  # None: 64 sentences, or 32 parallel rows for a file

    def __post_init__(self) -> None:
        for name in ("unk", "ngram_weight", "precision", "batch_size"):
            object.__setattr__(self, name, check(name, getattr(self, name)))
        if self.ngram is not None and not isinstance(self.ngram, (str, Path)):
            raise BadOption(f"--ngram must be a file name (got {self.ngram!r})")

    @classmethod
    def of(cls, **values: Any) -> ScoringOptions:
        """Options from loosely typed values (a command line, a request body); checked all the same."""
        return cls(**values)

    def merged(self, options: ScoringOptions | None = None, **given: Any) -> ScoringOptions:
        """These options, then ``options`` (whole), then single ``given`` keywords (old call forms)."""
        base = options if options is not None else self
        names = {f.name for f in fields(ScoringOptions)}
        unknown = sorted(set(given) - names)
        if unknown:
            raise BadOption(
                f"unknown option {unknown[0]!r}; the scoring options are {', '.join(sorted(names))} "
                "(pass them as keywords or as options=ScoringOptions(...))"
            )
        changes = {k: v for k, v in given.items() if v is not None}  # None: not given
        return replace(base, **changes) if changes else base

    def sentences_batch(self) -> int:
        return self.batch_size or 64

    def rows_batch(self) -> int:
        return self.batch_size or 32

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
