"""The commands that make models and tokenizers: ``train``, ``tokenize`` and ``plot``.

Options -> one library call (:func:`charlm.training.launch.launch`, which starts or resumes a run,
:func:`charlm.tokenizers.build_tokenizer`, :func:`charlm.plot.plot_runs`) -> rendered output.
Heavy imports (torch) happen inside the commands so ``charlm --help`` stays fast.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from charlm.cli.declared import default, option
from charlm.cli.options import (
    EncodingOpt,
    ErrorsOpt,
    JsonOpt,
    LevelOpt,
    MaxVocabOpt,
    MinCountOpt,
    SegmentOpt,
    VocabSizeOpt,
    friendly,
)
from charlm.cli.paths import InputFile, ModelDir, OutDir, OutPng
from charlm.errors import BadOption, CharlmError


@friendly
def train(
    ctx: typer.Context,
    corpus: Annotated[
        list[Path] | None,
        typer.Argument(
            parser=InputFile(dir_ok=True, stdin_ok=True),
            help="UTF-8 text file(s) to learn from: several files, a directory (its *.txt, sorted) or - for stdin (with --resume: optional, or the run directory).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(parser=OutDir(), help="Run directory [default: checkpoints/<corpus>-<level>-<arch>-<time>]."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue a run exactly where its last checkpoint left it: the run in --out, the directory given as argument, or checkpoints/latest. --steps is the run's total.",
        ),
    ] = False,
    init_from: Annotated[
        Path | None,
        typer.Option(
            parser=ModelDir(), help="Fine-tune: start from this model's weights and tokenizer, with a new optimizer."
        ),
    ] = None,
    level: Annotated[str, option("level")] = default("level"),
    arch: Annotated[str | None, option("arch")] = default("arch"),
    layers: Annotated[int | None, option("layers")] = default("layers"),
    hidden: Annotated[int | None, option("hidden")] = default("hidden"),
    embed: Annotated[int | None, option("embed")] = default("embed"),
    dropout: Annotated[float | None, option("dropout")] = default("dropout"),
    tie_weights: Annotated[bool | None, option("tie_weights")] = default("tie_weights"),
    residual: Annotated[bool, option("residual")] = default("residual"),
    direction: Annotated[str, option("direction")] = default("direction"),
    attention: Annotated[int, option("attention")] = default("attention"),
    wdrop: Annotated[float, option("wdrop")] = default("wdrop"),
    dropoute: Annotated[float, option("dropoute")] = default("dropoute"),
    locked_dropout: Annotated[bool, option("locked_dropout")] = default("locked_dropout"),
    clock_modules: Annotated[int, option("clock_modules")] = default("clock_modules"),
    mogrify_rounds: Annotated[int, option("mogrify_rounds")] = default("mogrify_rounds"),
    mogrify_rank: Annotated[int, option("mogrify_rank")] = default("mogrify_rank"),
    start_state: Annotated[str, option("start_state")] = default("start_state"),
    reset_at_eos: Annotated[float, option("reset_at_eos")] = default("reset_at_eos"),
    softmax: Annotated[str, option("softmax")] = default("softmax"),
    cutoffs: Annotated[str | None, option("cutoffs")] = default("cutoffs"),
    seq_len: Annotated[int | None, option("seq_len")] = default("seq_len"),
    batch_size: Annotated[int | None, option("train.batch_size")] = default("train.batch_size"),
    lr: Annotated[float | None, option("lr")] = default("lr"),
    weight_decay: Annotated[float | None, option("weight_decay")] = default("weight_decay"),
    schedule: Annotated[str, option("schedule")] = default("schedule"),
    warmup: Annotated[int | None, option("warmup")] = default("warmup"),
    clip: Annotated[float, option("clip")] = default("clip"),
    patience: Annotated[int | None, option("patience")] = default("patience"),
    steps: Annotated[int | None, option("steps")] = default("steps"),
    epochs: Annotated[float | None, option("epochs")] = default("epochs"),
    time: Annotated[str | None, option("time")] = default("time"),
    eval_every: Annotated[int, option("eval_every")] = default("eval_every"),
    save_every: Annotated[str, option("save_every")] = default("save_every"),
    log_every: Annotated[int, option("log_every")] = default("log_every"),
    val: Annotated[
        Path | None,
        typer.Option(parser=InputFile(), help="Validation file [default: the end of the corpus, see --val-tokens]."),
    ] = None,
    val_tokens: Annotated[int | None, option("val_tokens")] = default("val_tokens"),
    max_vocab: Annotated[int | None, option("max_vocab")] = default("max_vocab"),
    min_count: Annotated[int, option("min_count")] = default("min_count"),
    vocab_size: Annotated[int, option("vocab_size")] = default("vocab_size"),
    segment: Annotated[str, option("segment")] = default("segment"),
    device: Annotated[str, option("device")] = default("device"),
    precision: Annotated[str, option("train.precision")] = default("train.precision"),
    seed: Annotated[int, option("seed")] = default("seed"),
    threads: Annotated[int | None, option("threads")] = default("threads"),
    encoding: Annotated[str, option("encoding")] = default("encoding"),
    errors: Annotated[str, option("errors")] = default("errors"),
    force: Annotated[bool, option("force")] = default("force"),
    ngram_order: Annotated[int | None, option("ngram_order")] = default("ngram_order"),
    memory: Annotated[str, option("memory")] = default("memory"),  # parsed to bytes
    ngram_prune: Annotated[str, option("ngram_prune")] = default("ngram_prune"),  # parsed to auto or counts
) -> None:
    """Train a language model on CORPUS; writes a model directory and points checkpoints/latest at it.

    Ctrl-C saves a checkpoint and prints the command that resumes it; a killed run resumes from
    its last checkpoint with the same weights an uninterrupted run would have.

    Options marked "from the recipe" that you do not give are chosen for the budget (--time, or
    --steps/--epochs read at a nominal rate; 10 minutes if none) on this kind of device (CPU or
    GPU) and tokenizer level: see charlm recipes. An option you give always wins; config.json and
    charlm info name the recipe and why.

    Example: charlm train input.txt --time 5m

    Resume: charlm train --resume checkpoints/<run> (or the original command plus --resume)
    """
    from charlm.api import StartInterrupted
    from charlm.cli.progress import TrainProgress, train_done

    rerun = shlex.join(["charlm", *sys.argv[1:]])
    try:
        with TrainProgress() as progress:
            result = _launch(ctx, list(corpus or []), resume, encoding, errors, progress)
    except StartInterrupted as exc:
        raise CharlmError(f"{exc} {rerun}", 130) from None
    except KeyboardInterrupt:  # before the run directory was claimed: nothing written yet
        raise CharlmError(
            f"interrupted before the run started; nothing was written; to start again, rerun {rerun}", 130
        ) from None
    if result.reports:  # under torchrun only rank 0 reports
        train_done(result)


def _launch(ctx: typer.Context, paths: list[Path], resume: bool, encoding: str, errors: str, progress: Any) -> Any:
    """The library call of ``train``: one corpus as it is, or several joined (a new run or a resumed one)."""
    from charlm.api import launch
    from charlm.inputs import resolve_inputs

    params = dict(ctx.params)
    # One file as it is; with --resume a directory is the run to continue, without it a folder of *.txt.
    if not paths or (len(paths) == 1 and str(paths[0]) != "-" and (resume or not paths[0].is_dir())):
        params["corpus"] = paths[0] if paths else None
        return launch(params, _typed(ctx), resume, progress)
    if resume:
        raise BadOption("--resume reads the run's cached corpus; give one corpus file or none")
    with resolve_inputs(paths, encoding, errors) as (path, codec, on_error):  # several files, a folder, stdin
        params.update(corpus=path, encoding=codec, errors=on_error)
        return launch(params, _typed(ctx), resume, progress)


def _typed(ctx: typer.Context) -> set[str]:
    """The options typed on the command line (a resumed run keeps its saved values for the others)."""
    sources = {name: ctx.get_parameter_source(name) for name in ctx.params}
    return {name for name, source in sources.items() if source is not None and source.name == "COMMANDLINE"}


@friendly
def plot(
    runs: Annotated[list[Path], typer.Argument(parser=ModelDir(), help="Run directories (each with a metrics.jsonl).")],
    out: Annotated[Path, typer.Option("--out", "-o", parser=OutPng(), help="PNG file to write.")] = Path("loss.png"),
    title: Annotated[str | None, option("title")] = default("title"),
) -> None:
    """Overlay the training and validation loss curves of one or more runs in one PNG.

    Example: charlm plot checkpoints/lstm-run checkpoints/gru-run --out compare.png
    """
    from charlm.api import plot as draw

    print(draw(runs, out, title))


@friendly
def tokenize(
    corpus: Annotated[
        list[Path],
        typer.Argument(
            parser=InputFile(dir_ok=True, stdin_ok=True),
            help="UTF-8 text file(s): several files, a directory (its *.txt) or - for stdin.",
        ),
    ],
    level: LevelOpt = default("level"),
    max_vocab: MaxVocabOpt = default("max_vocab"),
    min_count: MinCountOpt = default("min_count"),
    vocab_size: VocabSizeOpt = default("vocab_size"),
    top: Annotated[int, option("top")] = default("top"),
    save: Annotated[
        Path | None,
        typer.Option(parser=OutDir(), help="Write the fitted tokenizer to this directory (not a model directory)."),
    ] = None,
    as_json: JsonOpt = False,
    encoding: EncodingOpt = default("encoding"),
    errors: ErrorsOpt = default("errors"),
    segment: SegmentOpt = default("segment"),
    force: Annotated[
        bool, typer.Option("--force", help="With --save: replace a tokenizer saved there earlier (never other files).")
    ] = False,
) -> None:
    """Fit a tokenizer on CORPUS and show vocabulary size, token count, unknown rate, frequent tokens.

    Example: charlm tokenize input.txt --level bpe --vocab-size 2000

    Chinese words: charlm tokenize notes.txt --level word (--segment auto cuts them with jieba)
    """
    from charlm.api import tokenize_file
    from charlm.api.outputs import check_tokenizer_target
    from charlm.cli.progress import PassProgress
    from charlm.inputs import resolve_inputs
    from charlm.io import json_text

    sources = [c for c in corpus if str(c) != "-" and not c.is_dir()]  # the input files (a folder's are *.txt)
    if save is not None:
        check_tokenizer_target(save, force, sources)  # before any work: a model's tokenizer is never overwritten
    with resolve_inputs(corpus, encoding, errors) as (path, codec, on_error), PassProgress() as bar:
        stats, frequent = tokenize_file(
            path, level, max_vocab, min_count, vocab_size, segment, top, save, force, sources, codec, on_error, bar
        )
    stats["corpus"] = " ".join(str(c) for c in corpus)
    if as_json:
        print(json_text({**stats, "top": [{"token": t, "count": c} for t, c in frequent]}))
        return
    from charlm.cli.render import tokenize_table

    tokenize_table(stats, frequent)
