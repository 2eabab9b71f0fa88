"""``charlm rescore``: re-rank a recogniser's or translator's n-best list with language models.

Options -> one :func:`charlm.api.rescore` call -> the best hypothesis per id (or JSON), with the
weights and word error rates on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charlm.cli.declared import default, option
from charlm.cli.ngram import NgramFileOpt, NgramWeightOpt
from charlm.cli.options import DeviceOpt, JsonOpt, friendly
from charlm.cli.paths import InputFile, ModelDir
from charlm.errors import BadOption


def _per_model(values: list[float] | None, models: int, default: float, name: str) -> tuple[float, ...]:
    """One value per model: none given (the default), one for all, or one each."""
    if not values:
        return (default,) * models
    if len(values) == 1:
        return (values[0],) * models
    if len(values) != models:
        raise BadOption(f"give one {name} per --model, or one for all ({models} models, {len(values)} values)")
    return tuple(values)


@friendly
def rescore(
    nbest: Annotated[
        Path | None,
        typer.Argument(
            parser=InputFile(),
            help="N-best list: 'id<TAB>hypothesis<TAB>score...' or Moses 'id ||| text ||| features ||| total'.",
        ),
    ] = None,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            "--model", "-m", parser=ModelDir(), help="Model directory (repeatable) [default: checkpoints/latest]."
        ),
    ] = None,
    weight: Annotated[list[float] | None, option("weight")] = None,
    length_penalty: Annotated[float, option("length_penalty")] = default("length_penalty"),
    char_penalty: Annotated[float, option("char_penalty")] = default("char_penalty"),
    oov_weight: Annotated[list[float] | None, option("oov_weight")] = None,
    tune: Annotated[
        Path | None,
        typer.Option(parser=InputFile(), help="Development n-best list: tune the weights there to minimise WER."),
    ] = None,
    tune_refs: Annotated[
        Path | None, typer.Option(parser=InputFile(), help="References of the --tune list (id<TAB>text or one per id).")
    ] = None,
    refs: Annotated[
        Path | None,
        typer.Option(
            parser=InputFile(),
            help="References of NBEST: print its WER before and after (of --tune's list when no NBEST).",
        ),
    ] = None,
    no_oov: Annotated[bool, typer.Option("--no-tune-oov", help="Do not tune the OOV weights.")] = False,
    as_json: JsonOpt = False,
    device: DeviceOpt = default("device"),
    ngram_weight: NgramWeightOpt = default("ngram_weight"),
    ngram: NgramFileOpt = None,
) -> None:
    """Re-rank n-best hypotheses: new score = decoder total + weight x logprob + penalties x length.

    Each --model adds its log-probability (nats, <eos> counted) with its own --weight and
    --oov-weight, plus --length-penalty per word and --char-penalty per character; the hypotheses of
    one id are scored as one padded batch. Prints the best hypothesis per id (id<TAB>text), or with
    --json every hypothesis re-ranked. --tune DEV --tune-refs DEV.refs learns all weights together
    there, by pairwise ranking or by a grid search on WER, whichever cross-validates better on DEV
    (docs/component.md); with no NBEST, --tune DEV --refs DEV.refs tunes and reports only.
    Each model's log-probability mixes in its n-gram (--ngram-weight) as score does per line.

    Example: charlm rescore test.nbest -m word-model -m char-model --tune dev.nbest --tune-refs dev.refs --refs test.refs
    """
    from charlm.api import Weights, load
    from charlm.api import rescore as run
    from charlm.cli.render_component import rescore_output, rescore_summary

    if nbest is None and tune is not None and tune_refs is None:
        tune_refs, refs = refs, None  # tune only: --refs belongs to the --tune list
    paths = model or [Path("checkpoints/latest")]
    count = len(paths)
    weights = Weights(
        _per_model(weight, count, 1.0, "--weight"),
        length_penalty,
        _per_model(oov_weight, count, 0.0, "--oov-weight"),
        char_penalty,
    )
    models = [load(p, device=device) for p in paths]
    result = run(
        nbest, models, weights, tune, tune_refs, refs, tune_oov=not no_oov, ngram_weight=ngram_weight, ngram=ngram
    )
    if nbest is None:
        rescore_summary(result)
        return
    rescore_output(result, as_json)
