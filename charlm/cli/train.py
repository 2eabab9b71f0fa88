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

from charlm.cli.options import (
    CutoffsOpt,
    DeviceOpt,
    EncodingOpt,
    ErrorsOpt,
    JsonOpt,
    LevelOpt,
    MaxVocabOpt,
    MinCountOpt,
    SeedOpt,
    SegmentOpt,
    SoftmaxOpt,
    VocabSizeOpt,
    friendly,
)
from charlm.cli.paths import InputFile, ModelDir, OutDir, OutPng
from charlm.cli.values import Choice, Duration, Float, Int, SaveEvery, Text
from charlm.errors import BadOption, CharlmError
from charlm.models.config import DIRECTIONS, START_STATES
from charlm.models.registry import ARCHS, arch_help
from charlm.training.config import SCHEDULES

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
RECIPE = "[default: from the recipe]."
Fraction = Float(0.0, 1.0, high_open=True)


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
    level: LevelOpt = "char",
    arch: Annotated[str | None, typer.Option(parser=Choice(ARCHS), help=f"{arch_help()} {RECIPE}")] = None,
    layers: Annotated[int | None, typer.Option(parser=Int(1, 100), help=f"Stacked recurrent layers {RECIPE}")] = None,
    hidden: Annotated[int | None, typer.Option(parser=Int(1, 65536), help=f"Hidden units per layer {RECIPE}")] = None,
    embed: Annotated[int | None, typer.Option(parser=Int(1, 65536), help=f"Embedding size {RECIPE}")] = None,
    dropout: Annotated[
        float | None,
        typer.Option(
            parser=Fraction,
            help=f"Dropout on embeddings, between layers and before the head (0 for a few minutes, 0.2 for 10, 0.3-0.5 for hours) {RECIPE}",
        ),
    ] = None,
    tie_weights: Annotated[
        bool | None,
        typer.Option("--tie-weights/--no-tie-weights", help=f"Share input and output embeddings {RECIPE}"),
    ] = None,
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
    mogrify_rounds: Annotated[
        int, typer.Option(parser=Int(0, 100), help="Mogrifier LSTM: rounds of mutual gating of input and state.")
    ] = 5,
    mogrify_rank: Annotated[
        int, typer.Option(parser=Int(0, 65536), help="Mogrifier LSTM: rank of the gating matrices (0 = full).")
    ] = 0,
    start_state: Annotated[
        str,
        typer.Option(
            parser=Choice(START_STATES),
            help="Where every line starts (scoring, sampling, fresh rows, resets): zero, or learned (a trained start state).",
        ),
    ] = "zero",
    reset_at_eos: Annotated[
        float,
        typer.Option(
            parser=Float(0.0, 1.0),
            help="At each line end, reset that row's carried state to the start state with this probability, so the model learns to start lines the way score reads them (0 = off, 1 = every line from the start: rnnlm's -independent).",
        ),
    ] = 0.0,
    softmax: SoftmaxOpt = "full",
    cutoffs: CutoffsOpt = None,
    seq_len: Annotated[
        int | None, typer.Option(parser=Int(1, 1_000_000), help=f"Truncated BPTT length in tokens {RECIPE}")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(parser=Int(1, 1_000_000), help=f"Parallel token streams per step {RECIPE}")
    ] = None,
    lr: Annotated[
        float | None, typer.Option(parser=Float(0.0, low_open=True), help=f"Peak AdamW learning rate {RECIPE}")
    ] = None,
    weight_decay: Annotated[
        float | None, typer.Option(parser=Float(0.0), help=f"AdamW decoupled weight decay {RECIPE}")
    ] = None,
    schedule: Annotated[
        str,
        typer.Option(
            parser=Choice(SCHEDULES),
            help="Learning-rate schedule: cosine (over the budget), constant, or plateau (halve after 2 evaluations without a new best).",
        ),
    ] = "cosine",
    warmup: Annotated[
        int | None, typer.Option(parser=Int(0), help=f"Linear learning-rate warm-up steps {RECIPE}")
    ] = None,
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
    segment: SegmentOpt = "auto",
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
    ngram_order: Annotated[
        int | None,
        typer.Option(
            parser=Int(0, 20),
            help="Order of the n-gram built at the end (charlm ngram) [default: 6 char, 5 word, 4 subword]; 0: none.",
        ),
    ] = None,
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
    from charlm.cli.progress import TrainProgress, train_done
    from charlm.training.claim import StartInterrupted

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
    from charlm.inputs import resolve_inputs
    from charlm.training.launch import launch

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
    title: Annotated[str | None, typer.Option(parser=Text(), help="Plot title [default: the run names].")] = None,
) -> None:
    """Overlay the training and validation loss curves of one or more runs in one PNG.

    Example: charlm plot checkpoints/lstm-run checkpoints/gru-run --out compare.png
    """
    from charlm.plot import plot_runs

    print(plot_runs(runs, out, title))


@friendly
def tokenize(
    corpus: Annotated[
        list[Path],
        typer.Argument(
            parser=InputFile(dir_ok=True, stdin_ok=True),
            help="UTF-8 text file(s): several files, a directory (its *.txt) or - for stdin.",
        ),
    ],
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
    segment: SegmentOpt = "auto",
    force: Annotated[
        bool, typer.Option("--force", help="With --save: replace a tokenizer saved there earlier (never other files).")
    ] = False,
) -> None:
    """Fit a tokenizer on CORPUS and show vocabulary size, token count, unknown rate, frequent tokens.

    Example: charlm tokenize input.txt --level bpe --vocab-size 2000

    Chinese words: charlm tokenize notes.txt --level word (--segment auto cuts them with jieba)
    """
    from charlm.inputs import resolve_inputs
    from charlm.io import json_text, read_text
    from charlm.tokenizers import SAVED, build_tokenizer, describe, save_tokenizer
    from charlm.writer import check_target

    sources = [c for c in corpus if str(c) != "-" and not c.is_dir()]  # the input files (a folder's are *.txt)
    if save is not None:
        check_target(save, SAVED, force, sources)  # before any work: a model's tokenizer is never overwritten
    with resolve_inputs(corpus, encoding, errors) as (path, codec, on_error):
        text = read_text(path, codec, on_error)
    tokenizer = build_tokenizer(level, text, max_vocab, min_count, vocab_size, segment)
    stats, frequent = describe(tokenizer, text, top)
    stats["corpus"] = " ".join(str(c) for c in corpus)
    if save is not None:
        save_tokenizer(tokenizer, save, force, sources)
    if as_json:
        print(json_text({**stats, "top": [{"token": t, "count": c} for t, c in frequent]}))
        return
    from charlm.cli.render import tokenize_table

    tokenize_table(stats, frequent)
