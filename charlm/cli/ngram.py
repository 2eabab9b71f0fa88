"""``charlm ngram build`` and ``charlm ngram export``: the n-gram inside a model directory.

Options -> one :class:`charlm.api.Model` call (:meth:`~charlm.api.Model.build_ngram`,
:meth:`~charlm.api.Model.export_arpa`) -> a short report. The shared ``--ngram-weight`` and
``--ngram`` options of the scoring commands are declared here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from charlm.cli.declared import default, option
from charlm.cli.options import JsonOpt, ModelOpt, friendly
from charlm.cli.paths import InputFile, OutFile

NgramWeightOpt = Annotated[str, option("ngram_weight")]  # parsed to "auto" or a float
NgramFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--ngram",
        parser=InputFile(),
        help="Mix in this ARPA file (over the model's vocabulary) instead of the model's n-gram.",
    ),
]

app = typer.Typer(
    help="The model's n-gram (interpolated modified Kneser-Ney over its own tokens): build, export.\n\n"
    "Example: charlm ngram build --model checkpoints/latest",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@friendly
def build(
    model: ModelOpt = None,
    order: Annotated[int | None, option("order")] = default("order"),
    memory: Annotated[str, option("memory")] = default("memory"),  # parsed to bytes
    ngram_prune: Annotated[str, option("ngram_prune")] = default("ngram_prune"),  # parsed to auto or counts
    as_json: JsonOpt = False,
) -> None:
    """Count the model's training tokens into an n-gram and tune its mixing weight on validation.

    Reads the run's corpus cache (corpus.ids), writes ngram.npz and ngram.json into the model
    directory. Training does this at its end unless --ngram-order 0. Counting holds at most --memory:
    past it, sorted runs go to a temporary folder in the model directory and are merged (see docs/ngram.md).

    Example: charlm ngram build --model checkpoints/latest --order 6 --memory 2G --ngram-prune "0 0 1"
    """
    from charlm.api import load
    from charlm.cli.progress import PassProgress

    with PassProgress() as progress:
        meta = load(model, device="cpu").build_ngram(order, memory, ngram_prune, progress)
    if as_json:
        from charlm.io import json_text

        print(json_text(meta))
        return
    _report(meta)


def _report(meta: dict[str, Any]) -> None:
    pruned = f", pruned at {' '.join(map(str, meta['pruned']))}" if any(meta.get("pruned", ())) else ""
    print(
        f"{meta['order']}-gram: {sum(meta['types']):,} n-grams {meta['types']}, built in {meta['build_s']} s "
        f"(memory {meta.get('memory', '-')}{pruned})"
    )
    for which in ("lines", "stream"):
        tuned = meta.get(which)
        if tuned:
            weights = " ".join(f"{x:.3f}" for x in tuned["lambda_by_context"])
            print(
                f"validation {which} ({tuned['tokens']:,} tokens), nats/token: network {tuned['network']:.4f}, "
                f"n-gram {tuned['ngram']:.4f}, mixed {tuned['mixed']:.4f} (lambda {tuned['lambda']:.3f}), "
                f"by context {tuned['mixed_by_context']:.4f} (lambda {weights})"
            )


@friendly
def export(
    arpa: Annotated[
        Path,
        typer.Option(
            "--arpa", parser=OutFile(), help="ARPA file to write (new, or an earlier ARPA file; never a model's file)."
        ),
    ],
    model: ModelOpt = None,
) -> None:
    """Write the model's n-gram as an ARPA file (log10; </s> is <eos>; spaces in tokens escaped as \\s).

    Example: charlm ngram export --arpa model.arpa --model checkpoints/latest
    """
    from charlm.api import load
    from charlm.api.outputs import check_arpa_target

    check_arpa_target(arpa, model)  # before loading: never a model's own file
    done = load(model, device="cpu").export_arpa(arpa)
    print(f"wrote {done['path']}: {done['order']}-gram, {sum(done['ngrams']):,} n-grams")


app.command("build")(build)
app.command("export")(export)
