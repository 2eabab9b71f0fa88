"""``charlm predict``: the next tokens or words after a prefix, or words for a gap (``___``).

Options -> one :class:`charlm.api.Model` call (``predict`` or ``fill_blank``) -> a table or JSON.
"""

from __future__ import annotations

from typing import Annotated

from charlm.cli.declared import argument, default, option
from charlm.cli.ngram import NgramFileOpt, NgramWeightOpt
from charlm.cli.options import DeviceOpt, JsonOpt, ModelOpt, friendly
from charlm.errors import BadOption
from charlm.options import ScoringOptions
from charlm.values import split_words


@friendly
def predict(
    prefix: Annotated[str, argument("prefix")],
    model: ModelOpt = None,
    k: Annotated[int, option("k")] = default("k"),
    words: Annotated[bool, option("words")] = default("words"),
    blank: Annotated[bool, option("blank")] = default("blank"),
    candidates: Annotated[str | None, option("candidates")] = None,
    keep_unk: Annotated[bool, option("keep_unk")] = default("keep_unk"),
    as_json: JsonOpt = False,
    device: DeviceOpt = default("device"),
    ngram_weight: NgramWeightOpt = default("ngram_weight"),
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
    lm = load(model, device=device, options=ScoringOptions.of(ngram_weight=ngram_weight, ngram=ngram))
    if blank:
        options = split_words(candidates) if candidates is not None else []
        found = lm.fill_blank(prefix, options, k)
        predictions_table(found, f"words for the gap in {prefix!r}", as_json)
        return
    unit = "words" if words else "tokens"
    found = lm.predict(prefix, k, words=words, keep_unk=keep_unk)
    predictions_table(found, f"next {unit} after {prefix!r}", as_json)
