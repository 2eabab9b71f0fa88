"""The diagnostic commands ``gradflow`` and ``neighbors``.

Registered in :data:`charlm.cli.app.COMMANDS`. Thin like the rest of the CLI: options -> one library
call (:func:`charlm.api.gradflow`, :meth:`charlm.api.Model.neighbors`, :meth:`charlm.api.Model.analogy`)
-> :mod:`charlm.cli.render` output (a table, or ``--json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charlm.cli.declared import argument, default, option
from charlm.cli.options import JsonOpt, ModelOpt, friendly
from charlm.cli.paths import InputFile, ModelDir, OutPng
from charlm.errors import BadOption


@friendly
def gradflow(
    arch: Annotated[list[str] | None, option("gradflow.arch")] = default("gradflow.arch"),
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
    length: Annotated[int, option("gradflow.length")] = default("gradflow.length"),
    batch: Annotated[int, option("gradflow.batch")] = default("gradflow.batch"),
    hidden: Annotated[int, option("gradflow.hidden")] = default("gradflow.hidden"),
    layers: Annotated[int, option("gradflow.layers")] = default("gradflow.layers"),
    seed: Annotated[int, option("gradflow.seed")] = default("gradflow.seed"),
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
    word: Annotated[str | None, argument("word")] = default("word"),
    model: ModelOpt = None,
    k: Annotated[int, option("neighbors.k")] = default("neighbors.k"),
    analogy: Annotated[tuple[str, str, str] | None, option("analogy")] = default("analogy"),
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
