"""The commands that make models and tokenizers: ``train``, ``tokenize`` and ``plot``.

Options -> one library call (:func:`charlm.training.loop.train`, :func:`charlm.training.loop.resume`,
:func:`charlm.tokenizers.build_tokenizer`, :func:`charlm.plot.plot_runs`) -> rendered output.
Heavy imports (torch) happen inside the commands so ``charlm --help`` stays fast.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from charlm.cli.options import (
    DeviceOpt,
    EncodingOpt,
    ErrorsOpt,
    JsonOpt,
    LevelOpt,
    MaxVocabOpt,
    MinCountOpt,
    SeedOpt,
    VocabSizeOpt,
    friendly,
)
from charlm.cli.paths import InputFile, ModelDir, OutDir, OutPng
from charlm.cli.values import Choice, Duration, Float, Int, SaveEvery, Text
from charlm.errors import BadOption, CharlmError
from charlm.models.config import DIRECTIONS
from charlm.models.registry import ARCHS, arch_help
from charlm.training.config import SCHEDULES

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
Fraction = Float(0.0, 1.0, high_open=True)


@friendly
def train(
    ctx: typer.Context,
    corpus: Annotated[
        Path | None,
        typer.Argument(
            parser=InputFile(dir_ok=True),
            help="UTF-8 text file to learn from (with --resume: optional, or the run directory).",
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
    level: LevelOpt = "char",
    arch: Annotated[str, typer.Option(parser=Choice(ARCHS), help=arch_help())] = "lstm",
    layers: Annotated[int, typer.Option(parser=Int(1, 100), help="Stacked recurrent layers.")] = 2,
    hidden: Annotated[int, typer.Option(parser=Int(1, 65536), help="Hidden units per layer.")] = 512,
    embed: Annotated[int, typer.Option(parser=Int(1, 65536), help="Embedding size.")] = 128,
    dropout: Annotated[
        float,
        typer.Option(
            parser=Fraction,
            help="Dropout on embeddings, between layers and before the head (0.2 suits 10-minute budgets; 0 for a few minutes, 0.3-0.5 for hours).",
        ),
    ] = 0.2,
    tie_weights: Annotated[bool, typer.Option("--tie-weights", help="Share input and output embeddings.")] = False,
    residual: Annotated[bool, typer.Option("--residual", help="Residual connections between stacked layers.")] = False,
    direction: Annotated[
        str,
        typer.Option(
            parser=Choice(DIRECTIONS),
            help="forward, or both: also train a backward LM on the reversed text (ELMo-style; scores both ways, cannot sample).",
        ),
    ] = "forward",
    attention: Annotated[
        int,
        typer.Option(
            parser=Int(0, 100_000), help="Attend over the last K hidden states (Daniluk et al. 2017); 0 = off."
        ),
    ] = 0,
    wdrop: Annotated[
        float,
        typer.Option(
            parser=Fraction,
            help="AWD-LSTM weight drop (DropConnect) on the LSTM's hidden-to-hidden weights; --arch lstm.",
        ),
    ] = 0.0,
    dropoute: Annotated[
        float, typer.Option(parser=Fraction, help="Embedding dropout: drop whole token rows of the embedding matrix.")
    ] = 0.0,
    locked_dropout: Annotated[
        bool,
        typer.Option(
            "--locked-dropout", help="Variational dropout: one --dropout mask per sequence, shared over time."
        ),
    ] = False,
    clock_modules: Annotated[
        int, typer.Option(parser=Int(1, 32), help="Clockwork RNN: modules per layer (periods 1, 2, 4, ...).")
    ] = 4,
    seq_len: Annotated[int, typer.Option(parser=Int(1, 1_000_000), help="Truncated BPTT length in tokens.")] = 128,
    batch_size: Annotated[int, typer.Option(parser=Int(1, 1_000_000), help="Parallel token streams per step.")] = 32,
    lr: Annotated[float, typer.Option(parser=Float(0.0, low_open=True), help="Peak AdamW learning rate.")] = 4e-3,
    weight_decay: Annotated[
        float, typer.Option(parser=Float(0.0), help="AdamW decoupled weight decay (0.2 suits 5-10 minute char runs).")
    ] = 0.2,
    schedule: Annotated[
        str,
        typer.Option(
            parser=Choice(SCHEDULES),
            help="Learning-rate schedule: cosine (over the budget), constant, or plateau (halve after 2 evaluations without a new best).",
        ),
    ] = "cosine",
    warmup: Annotated[int, typer.Option(parser=Int(0), help="Linear learning-rate warm-up steps.")] = 50,
    clip: Annotated[float, typer.Option(parser=Float(0.0), help="Gradient-norm clipping threshold (0 = off).")] = 1.0,
    patience: Annotated[
        int | None,
        typer.Option(
            parser=Int(1), help="Early stopping: stop after this many evaluations without a better validation loss."
        ),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(parser=Int(1), help="Stop after this many steps (the run's total, also when resuming)."),
    ] = None,
    epochs: Annotated[
        float | None,
        typer.Option(parser=Float(0.0, 1e6, low_open=True), help="Stop after this many passes over the data."),
    ] = None,
    time: Annotated[
        str | None,
        typer.Option(
            "--time", parser=Duration(), help="Stop after this long, e.g. 90s, 10m, 1h [default: 10m if no budget]."
        ),
    ] = None,
    eval_every: Annotated[
        int, typer.Option(parser=Int(1), help="Evaluate on validation (and refresh loss.png) every N steps.")
    ] = 100,
    save_every: Annotated[
        str,
        typer.Option(
            parser=SaveEvery(), help="Write a resumable checkpoint every N steps and/or minutes: 200, 10m or 200,10m."
        ),
    ] = "100",
    log_every: Annotated[
        int, typer.Option(parser=Int(1), help="Append a step record to metrics.jsonl every N steps.")
    ] = 10,
    val: Annotated[
        Path | None, typer.Option(parser=InputFile(), help="Validation file [default: last 5% of the corpus].")
    ] = None,
    max_vocab: MaxVocabOpt = None,
    min_count: MinCountOpt = 1,
    vocab_size: VocabSizeOpt = 2000,
    device: DeviceOpt = "auto",
    precision: Annotated[
        str,
        typer.Option(
            parser=Choice(PRECISIONS),
            help="auto (bf16 where the GPU/CPU runs it natively, else fp32), fp32, bf16 or fp16.",
        ),
    ] = "auto",
    seed: SeedOpt = 1234,
    threads: Annotated[int | None, typer.Option(parser=Int(1, 4096), help="CPU threads [default: all].")] = None,
    encoding: EncodingOpt = "utf-8",
    errors: ErrorsOpt = "strict",
    force: Annotated[bool, typer.Option("--force", help="Replace a model already in --out.")] = False,
) -> None:
    """Train a language model on CORPUS; writes a model directory and points checkpoints/latest at it.

    Ctrl-C saves a checkpoint and prints the command that resumes it; a killed run resumes from
    its last checkpoint with the same weights an uninterrupted run would have.

    Example: charlm train input.txt --time 5m

    Resume: charlm train --resume checkpoints/<run> (or the original command plus --resume)
    """
    from charlm.training.config import parse_duration, parse_save_every

    every_steps, every_s = parse_save_every(save_every)
    options = dict(
        out=str(out) if out else None,
        level=level,
        arch=arch,
        layers=layers,
        hidden=hidden,
        embed=embed,
        dropout=dropout,
        tie_weights=tie_weights,
        residual=residual,
        direction=direction,
        attention=attention,
        wdrop=wdrop,
        dropoute=dropoute,
        locked_dropout=locked_dropout,
        clock_modules=clock_modules,
        seq_len=seq_len,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        schedule=schedule,
        warmup=warmup,
        clip=clip,
        patience=patience,
        steps=steps,
        epochs=epochs,
        time=parse_duration(time) if time else None,
        eval_every=eval_every,
        save_every=every_steps,
        save_every_s=every_s,
        log_every=log_every,
        val=str(val) if val else None,
        max_vocab=max_vocab,
        min_count=min_count,
        vocab_size=vocab_size,
        device=device,
        precision=precision,
        seed=seed,
        threads=threads,
        encoding=encoding,
        errors=errors,
        force=force,
        init_from=str(init_from) if init_from else None,
    )
    try:
        result = _run(ctx, corpus, options, resume)
    except KeyboardInterrupt:  # before the run directory was claimed: nothing written yet
        rerun = shlex.join(["charlm", *sys.argv[1:]])
        raise CharlmError(
            f"interrupted before the run started; nothing was written; to start again, rerun {rerun}", 130
        ) from None
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only rank 0 reports
    from charlm.cli.render import err, fmt

    err.print(
        f"done: {result.steps} steps in {result.elapsed_s:.0f} s, {result.tokens_per_s:,.0f} tokens/s; "
        f"best val {fmt(result.best_val_loss, 4)} nats/token = {fmt(result.best_val_bpc, 4)} bits/char"
    )
    print(result.run_dir)


def _run(ctx: typer.Context, corpus: Path | None, options: dict[str, Any], resume: bool) -> Any:
    """The library call of ``train``: a new run or a resumed one, with a progress bar."""
    from charlm.cli.render import TrainProgress
    from charlm.training.claim import StartInterrupted
    from charlm.training.config import TrainConfig
    from charlm.training.loop import find_run
    from charlm.training.loop import resume as resume_run
    from charlm.training.loop import train as run_training

    try:
        with TrainProgress() as progress:
            if resume:
                target = str(corpus) if corpus is not None and not corpus.is_file() else None
                given = {k: v for k, v in options.items() if _given(ctx, k)}
                if corpus is not None and target is None:
                    given["corpus"] = str(corpus)
                return resume_run(find_run(target, options["out"], "checkpoints"), given, progress)
            if corpus is None:
                raise BadOption("give a CORPUS file to train on (or --resume to continue a run)")
            if corpus.is_dir():
                raise BadOption(f"{corpus} is a directory; give a text file (a run directory goes with --resume)")
            return run_training(TrainConfig(corpus=str(corpus), **options), progress)
    except StartInterrupted as exc:
        raise CharlmError(f"{exc} {shlex.join(['charlm', *sys.argv[1:]])}", 130) from None


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was typed on the command line (a resumed run keeps its saved values)."""
    alias = {"save_every_s": "save_every"}.get(name, name)
    source = ctx.get_parameter_source(alias)
    return source is not None and source.name == "COMMANDLINE"


@friendly
def plot(
    runs: Annotated[list[Path], typer.Argument(parser=ModelDir(), help="Run directories (each with a metrics.jsonl).")],
    out: Annotated[Path, typer.Option("--out", "-o", parser=OutPng(), help="PNG file to write.")] = Path("loss.png"),
    title: Annotated[str | None, typer.Option(parser=Text(), help="Plot title [default: the run names].")] = None,
) -> None:
    """Overlay the training and validation loss curves of one or more runs in one PNG.

    Example: charlm plot checkpoints/lstm-run checkpoints/gru-run --out compare.png
    """
    from charlm.plot import plot_runs

    print(plot_runs(runs, out, title))


@friendly
def tokenize(
    corpus: Annotated[Path, typer.Argument(parser=InputFile(), help="UTF-8 text file.")],
    level: LevelOpt = "char",
    max_vocab: MaxVocabOpt = None,
    min_count: MinCountOpt = 1,
    vocab_size: VocabSizeOpt = 2000,
    top: Annotated[int, typer.Option(parser=Int(0, 1_000_000), help="How many frequent tokens to list.")] = 20,
    save: Annotated[
        Path | None,
        typer.Option(parser=OutDir(), help="Write the fitted tokenizer to this directory (not a model directory)."),
    ] = None,
    as_json: JsonOpt = False,
    encoding: EncodingOpt = "utf-8",
    errors: ErrorsOpt = "strict",
) -> None:
    """Fit a tokenizer on CORPUS and show vocabulary size, token count, unknown rate, frequent tokens.

    Example: charlm tokenize input.txt --level bpe --vocab-size 2000
    """
    from charlm.io import json_text, read_text, refuse_model_dir
    from charlm.tokenizers import build_tokenizer, describe

    if save is not None:
        refuse_model_dir(save, "--save")  # before any work: a model's tokenizer is never overwritten
    text = read_text(corpus, encoding, errors)
    tokenizer = build_tokenizer(level, text, max_vocab=max_vocab, min_count=min_count, vocab_size=vocab_size)
    stats, frequent = describe(tokenizer, text, top)
    stats["corpus"] = str(corpus)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        tokenizer.save(save)
    if as_json:
        print(json_text({**stats, "top": [{"token": t, "count": c} for t, c in frequent]}))
        return
    from charlm.cli.render import tokenize_table

    tokenize_table(stats, frequent)
