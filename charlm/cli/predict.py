"""``charlm predict``: the next tokens or words after a prefix, or words for a gap (``___``).

Options -> one :class:`charlm.api.Model` call (``predict`` or ``fill_blank``) -> a table or JSON.
"""

from __future__ import annotations

from typing import Annotated

import typer

from charlm.cli.ngram import NgramFileOpt, NgramWeightOpt
from charlm.cli.options import DeviceOpt, JsonOpt, ModelOpt, friendly
from charlm.cli.values import Int, Text
from charlm.errors import BadOption


@friendly
def predict(
    prefix: Annotated[
        str, typer.Argument(parser=Text(), help="Text the prediction continues (with --blank: a sentence with ___).")
    ],
    model: ModelOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", parser=Int(1, 100_000), help="How many proposals to show.")] = 10,
    words: Annotated[
        bool,
        typer.Option("--words", help="Char/subword model: whole next words (a beam to a space, punctuation or <eos>)."),
    ] = False,
    blank: Annotated[
        bool, typer.Option("--blank", help="Fill the ___ in PREFIX, ranked by the whole sentence's probability.")
    ] = False,
    candidates: Annotated[
        str | None,
        typer.Option(
            parser=Text(nonempty=True),
            help="With --blank: comma-separated words to rank (else proposed from the left); a word model prices those it lacks by their spelling.",
        ),
    ] = None,
    keep_unk: Annotated[bool, typer.Option("--keep-unk", help="Also propose <unk>.")] = False,
    as_json: JsonOpt = False,
    device: DeviceOpt = "auto",
    ngram_weight: NgramWeightOpt = "auto",
    ngram: NgramFileOpt = None,
) -> None:
    """The k most probable next tokens (or --words) after PREFIX, read from the start of a sentence.

    A char or subword model with --words completes the word PREFIX ends in, or (PREFIX ending in a
    space) gives the next word; each CJK character counts as a word. --blank puts each candidate
    in the ___ and ranks them by the sentence's log-probability (both directions for a --direction
    both model); "share" is each one's probability among those ranked. --ngram-weight mixes the
    model's n-gram into every distribution (and the --blank sentence scores), as score does.

    Example: charlm predict "the clouds are in the " --words
    Example: charlm predict "I speak fluent ___ ." --blank --candidates French,German,Spanish
    """
    from charlm.api import load
    from charlm.cli.render_component import predictions_table

    if candidates is not None and not blank:
        raise BadOption("--candidates goes with --blank (and a ___ in the text)")
    lm = load(model, device=device)
    if blank:
        options = [c for c in (candidates or "").split(",") if c.strip()]
        predictions_table(
            lm.fill_blank(prefix, options, k, ngram_weight, ngram), f"words for the gap in {prefix!r}", as_json
        )
        return
    unit = "words" if words else "tokens"
    found = lm.predict(prefix, k, words=words, keep_unk=keep_unk, ngram_weight=ngram_weight, ngram=ngram)
    predictions_table(found, f"next {unit} after {prefix!r}", as_json)
