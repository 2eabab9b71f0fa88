"""The diagnostic commands ``gradflow`` and ``neighbors``.

Registered in :data:`charlm.cli.app.COMMANDS`. Thin like the rest of the CLI: options -> one library
call (:func:`charlm.api.gradflow`, :meth:`charlm.api.Model.neighbors`, :meth:`charlm.api.Model.analogy`)
-> :mod:`charlm.cli.render` output (a table, or ``--json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charlm.cli.options import SEED_MAX, JsonOpt, ModelOpt, friendly
from charlm.cli.paths import InputFile, ModelDir, OutPng
from charlm.cli.values import Choice, Int, Text
from charlm.errors import BadOption
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
    from charlm.api import gradflow as measure
    from charlm.cli.render import gradflow_table

    results = measure(arch or [], model or [], text, length, batch, hidden, layers, seed, plot=plot)
    gradflow_table(results, length, str(plot), as_json)


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
    from charlm.cli.render import neighbors_list

    if (word is None) == (analogy is None):
        raise BadOption("give either a WORD or --analogy A B C")
    lm = load(model, device="cpu")
    found = lm.analogy(*analogy, k=k) if analogy is not None else lm.neighbors(str(word), k)
    neighbors_list(found, as_json)
