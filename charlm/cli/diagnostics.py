"""The diagnostic commands ``gradflow`` and ``neighbors``.

Registered on :data:`charlm.cli.app` (imported at the end of :mod:`charlm.cli.app`). Thin like the rest
of the CLI: options -> one library call (:mod:`charlm.eval.gradflow`, :mod:`charlm.eval.neighbors`,
:mod:`charlm.eval.bidirectional`) -> a table on stdout (or ``--json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charlm.cli.options import SEED_MAX, JsonOpt, ModelOpt, friendly
from charlm.cli.paths import InputFile, ModelDir, OutPng
from charlm.cli.values import Choice, Int, Text
from charlm.errors import BadOption
from charlm.io import json_text
from charlm.models.registry import ARCHS


@friendly
def gradflow(
    arch: Annotated[
        list[str] | None,
        typer.Option(
            "--arch",
            "-a",
            parser=Choice(ARCHS),
            help="Architecture to measure with random weights; repeat for several [default: rnn, lstm, gru when no --model].",
        ),
    ] = None,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            "--model", "-m", parser=ModelDir(), help="Trained model directory to measure; repeat for several."
        ),
    ] = None,
    text: Annotated[
        Path | None,
        typer.Option(parser=InputFile(), help="Real text to read [default: uniformly random tokens]."),
    ] = None,
    length: Annotated[
        int, typer.Option(parser=Int(3, 100_000), help="Window length T: distances 1 .. T-1 are measured.")
    ] = 100,
    batch: Annotated[int, typer.Option(parser=Int(1, 100_000), help="Windows averaged over.")] = 16,
    hidden: Annotated[int, typer.Option(parser=Int(1, 65536), help="Hidden units of the --arch models.")] = 128,
    layers: Annotated[int, typer.Option(parser=Int(1, 100), help="Layers of the --arch models.")] = 1,
    seed: Annotated[int, typer.Option(parser=Int(0, SEED_MAX), help="Random seed (weights and window positions).")] = 0,
    plot: Annotated[Path, typer.Option(parser=OutPng(), help="Where to write the PNG plot.")] = Path("gradflow.png"),
    as_json: JsonOpt = False,
) -> None:
    """Norm of dLoss_T/ds_t against the distance T - t: vanishing and exploding gradients, measured.

    Reads T tokens one at a time, takes the loss of the last prediction and one backward pass, and
    reports the gradient norm with respect to each earlier recurrent state, relative to distance 1,
    with the fitted per-step factor (below 1: the gradient vanishes exponentially).

    Example: charlm gradflow --arch rnn --arch lstm --arch gru --text input.txt --plot gradflow.png
    """
    from charlm.eval.gradflow import DISTANCES, compare
    from charlm.eval.gradflow import plot as write_plot
    from charlm.io import UTF8_HINT, read_text

    archs = arch if arch else ([] if model else ["rnn", "lstm", "gru"])
    results = compare(
        archs, model or [], read_text(text, hint=UTF8_HINT) if text else None, length, batch, hidden, layers, seed
    )
    write_plot(results, plot)
    if as_json:
        print(json_text({"plot": str(plot), "results": [r.to_dict() for r in results]}))
        return
    from rich.table import Table

    from charlm.cli.render import err, out

    shown = [d for d in DISTANCES if d < length]
    table = Table(
        "model",
        "weights",
        "data",
        "factor/step",
        *[f"d={d}" for d in shown],
        title="|dLoss_T/ds_t| relative to distance 1",
    )
    for r in results:
        table.add_row(r.label, r.weights, r.data, f"{r.rate:.3f}", *[f"{r.relative(d):.1e}" for d in shown])
    out.print(table)
    err.print(f"plot written to {plot}")


@friendly
def neighbors(
    word: Annotated[
        str | None, typer.Argument(parser=Text(nonempty=True), help="Word whose nearest neighbours to list.")
    ] = None,
    model: ModelOpt = None,
    k: Annotated[int, typer.Option("-k", parser=Int(1, 1_000_000), help="How many neighbours.")] = 10,
    analogy: Annotated[
        tuple[str, str, str] | None,
        typer.Option(parser=Text(nonempty=True), help="A B C: A is to B as ? is to C (nearest to A - B + C)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Nearest words by cosine similarity of a word-level model's input embeddings, or an analogy.

    Example: charlm neighbors king -k 10   |   charlm neighbors --analogy king man woman
    """
    from charlm.api import load
    from charlm.eval.neighbors import analogy as solve
    from charlm.eval.neighbors import neighbors as nearest

    if (word is None) == (analogy is None):
        raise BadOption("give either a WORD or --analogy A B C")
    lm = load(model, device="cpu")
    found = nearest(lm.module, lm.tokenizer, word, k) if word else solve(lm.module, lm.tokenizer, *analogy, k=k)
    if as_json:
        print(json_text([{"word": n.word, "similarity": n.similarity} for n in found]))
        return
    for n in found:
        print(f"{n.similarity:7.4f}  {n.word}")
