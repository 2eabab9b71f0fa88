"""The commands that make models and tokenizers: ``train``, ``tokenize`` and ``plot``.

Options -> one library call (:func:`charlm.training.launch.launch`, which starts or resumes a run,
:func:`charlm.tokenizers.build_tokenizer`, :func:`charlm.plot.plot_runs`) -> rendered output.
Heavy imports (torch) happen inside the commands so ``charlm --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from charlm.cli.options import JsonOpt, SegmentOpt, friendly
from charlm.errors import CharlmError
from charlm.models.registry import arch_help


@friendly
def train(
    ctx: typer.Context,
    corpus: Annotated[
        list[Path] | None,
        typer.Argument(
            help="UTF-8 text file(s) to learn from: several files, a directory (its *.txt, sorted) or - for stdin (with --resume: optional, or the run directory)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory [default: checkpoints/<corpus>-<level>-<arch>-<time>].")
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
        typer.Option(help="Fine-tune: start from this model's weights and tokenizer, with a new optimizer."),
    ] = None,
    level: Annotated[str, typer.Option(help="Tokenizer: char, word, bpe or unigram.")] = "char",
    arch: Annotated[str, typer.Option(help=arch_help())] = "lstm",
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = 2,
    hidden: Annotated[int, typer.Option(help="Hidden units per layer.")] = 512,
    embed: Annotated[int, typer.Option(help="Embedding size.")] = 128,
    dropout: Annotated[
        float,
        typer.Option(
            help="Dropout on embeddings, between layers and before the head (0.2 suits 10-minute budgets; 0 for a few minutes, 0.3-0.5 for hours)."
        ),
    ] = 0.2,
    tie_weights: Annotated[bool, typer.Option("--tie-weights", help="Share input and output embeddings.")] = False,
    residual: Annotated[bool, typer.Option("--residual", help="Residual connections between stacked layers.")] = False,
    direction: Annotated[
        str,
        typer.Option(
            help="forward, or both: also train a backward LM on the reversed text (ELMo-style; scores both ways, cannot sample)."
        ),
    ] = "forward",
    attention: Annotated[
        int, typer.Option(help="Attend over the last K hidden states (Daniluk et al. 2017); 0 = off.")
    ] = 0,
    wdrop: Annotated[
        float,
        typer.Option(help="AWD-LSTM weight drop (DropConnect) on the LSTM's hidden-to-hidden weights; --arch lstm."),
    ] = 0.0,
    dropoute: Annotated[
        float, typer.Option(help="Embedding dropout: drop whole token rows of the embedding matrix.")
    ] = 0.0,
    locked_dropout: Annotated[
        bool,
        typer.Option(
            "--locked-dropout", help="Variational dropout: one --dropout mask per sequence, shared over time."
        ),
    ] = False,
    clock_modules: Annotated[int, typer.Option(help="Clockwork RNN: modules per layer (periods 1, 2, 4, ...).")] = 4,
    mogrify_rounds: Annotated[
        int, typer.Option(help="Mogrifier LSTM: rounds of mutual gating of input and state.")
    ] = 5,
    mogrify_rank: Annotated[int, typer.Option(help="Mogrifier LSTM: rank of the gating matrices (0 = full).")] = 0,
    start_state: Annotated[
        str,
        typer.Option(
            help="Where every line starts (scoring, sampling, fresh rows, resets): zero, or learned (a trained start state)."
        ),
    ] = "zero",
    reset_at_eos: Annotated[
        float,
        typer.Option(
            help="At each line end, reset that row's carried state to the start state with this probability, so the model learns to start lines the way score reads them (0 = off, 1 = every line from the start: rnnlm's -independent)."
        ),
    ] = 0.0,
    seq_len: Annotated[int, typer.Option(help="Truncated BPTT length in tokens.")] = 128,
    batch_size: Annotated[int, typer.Option(help="Parallel token streams per step.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak AdamW learning rate.")] = 4e-3,
    weight_decay: Annotated[
        float, typer.Option(help="AdamW decoupled weight decay (0.2 suits 5-10 minute char runs).")
    ] = 0.2,
    schedule: Annotated[
        str,
        typer.Option(
            help="Learning-rate schedule: cosine (over the budget), constant, or plateau (halve after 2 evaluations without a new best)."
        ),
    ] = "cosine",
    warmup: Annotated[int, typer.Option(help="Linear learning-rate warm-up steps.")] = 50,
    clip: Annotated[float, typer.Option(help="Gradient-norm clipping threshold (0 = off).")] = 1.0,
    patience: Annotated[
        int | None,
        typer.Option(help="Early stopping: stop after this many evaluations without a better validation loss."),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="Stop after this many steps (the run's total, also when resuming).")
    ] = None,
    epochs: Annotated[float | None, typer.Option(help="Stop after this many passes over the data.")] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Stop after this long, e.g. 90s, 10m, 1h [default: 10m if no budget].")
    ] = None,
    eval_every: Annotated[int, typer.Option(help="Evaluate on validation (and refresh loss.png) every N steps.")] = 100,
    save_every: Annotated[
        str, typer.Option(help="Write a resumable checkpoint every N steps and/or minutes: 200, 10m or 200,10m.")
    ] = "100",
    log_every: Annotated[int, typer.Option(help="Append a step record to metrics.jsonl every N steps.")] = 10,
    val: Annotated[Path | None, typer.Option(help="Validation file [default: last 5% of the corpus].")] = None,
    max_vocab: Annotated[int | None, typer.Option(help="Char/word: keep at most this many tokens.")] = None,
    min_count: Annotated[int, typer.Option(help="Char/word: drop tokens seen fewer times.")] = 1,
    vocab_size: Annotated[int, typer.Option(help="bpe/unigram: number of pieces.")] = 2000,
    segment: SegmentOpt = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[
        str, typer.Option(help="auto (bf16 where the GPU/CPU runs it natively, else fp32), fp32, bf16 or fp16.")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1234,
    threads: Annotated[int | None, typer.Option(help="CPU threads [default: all].")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the corpus.")] = "utf-8",
    errors: Annotated[str, typer.Option(help="On undecodable bytes: strict, replace or ignore.")] = "strict",
    force: Annotated[bool, typer.Option("--force", help="Replace a model already in --out.")] = False,
    ngram_order: Annotated[
        int | None,
        typer.Option(
            help="Order of the n-gram built at the end (charlm ngram) [default: 6 char, 5 word, 4 subword]; 0: none."
        ),
    ] = None,
) -> None:
    """Train a language model on CORPUS; writes a model directory and points checkpoints/latest at it.

    Ctrl-C saves a checkpoint and prints the command that resumes it; a killed run resumes from
    its last checkpoint with the same weights an uninterrupted run would have.

    Example: charlm train input.txt --time 5m

    Resume: charlm train --resume checkpoints/<run> (or the original command plus --resume)
    """
    from charlm.cli.progress import TrainProgress, train_done
    from charlm.io import resolve_inputs
    from charlm.training.launch import launch

    paths, params = list(corpus or []), dict(ctx.params)
    with TrainProgress() as progress:
        # One file as it is; with --resume a directory is the run to continue, without it a folder of *.txt.
        if not paths or (len(paths) == 1 and str(paths[0]) != "-" and (resume or not paths[0].is_dir())):
            params["corpus"] = paths[0] if paths else None
            result = launch(params, _typed(ctx), resume, progress)
        elif resume:
            raise CharlmError("--resume reads the run's cached corpus; give one corpus file or none")
        else:  # several files, a directory's *.txt or stdin: one joined temporary file
            with resolve_inputs(paths, encoding, errors) as (path, codec, on_error):
                params.update(corpus=path, encoding=codec, errors=on_error)
                result = launch(params, _typed(ctx), resume, progress)
    if result.reports:  # under torchrun only rank 0 reports
        train_done(result)


def _typed(ctx: typer.Context) -> set[str]:
    """The options typed on the command line (a resumed run keeps its saved values for the others)."""
    sources = {name: ctx.get_parameter_source(name) for name in ctx.params}
    return {name for name, source in sources.items() if source is not None and source.name == "COMMANDLINE"}


@friendly
def plot(
    runs: Annotated[list[Path], typer.Argument(help="Run directories (each with a metrics.jsonl).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")] = Path("loss.png"),
    title: Annotated[str | None, typer.Option(help="Plot title [default: the run names].")] = None,
) -> None:
    """Overlay the training and validation loss curves of one or more runs in one PNG.

    Example: charlm plot checkpoints/lstm-run checkpoints/gru-run --out compare.png
    """
    from charlm.plot import plot_runs

    if out.is_dir():
        raise CharlmError(f"{out} is a directory; --out takes a .png file name")
    if not out.parent.exists():
        raise CharlmError(f"{out.parent}: no such directory for --out")
    print(plot_runs(runs, out, title))


@friendly
def tokenize(
    corpus: Annotated[
        list[Path], typer.Argument(help="UTF-8 text file(s): several files, a directory (its *.txt) or - for stdin.")
    ],
    level: Annotated[str, typer.Option(help="char, word, bpe or unigram.")] = "char",
    max_vocab: Annotated[int | None, typer.Option(help="Char/word: keep at most this many tokens.")] = None,
    min_count: Annotated[int, typer.Option(help="Char/word: drop tokens seen fewer times.")] = 1,
    vocab_size: Annotated[int, typer.Option(help="bpe/unigram: number of pieces.")] = 2000,
    top: Annotated[int, typer.Option(help="How many frequent tokens to list.")] = 20,
    save: Annotated[Path | None, typer.Option(help="Write the fitted tokenizer to this directory.")] = None,
    as_json: JsonOpt = False,
    encoding: Annotated[str, typer.Option(help="Text encoding of the corpus.")] = "utf-8",
    errors: Annotated[str, typer.Option(help="On undecodable bytes: strict or replace.")] = "strict",
    segment: SegmentOpt = "auto",
) -> None:
    """Fit a tokenizer on CORPUS and show vocabulary size, token count, unknown rate, frequent tokens.

    Example: charlm tokenize input.txt --level bpe --vocab-size 2000

    Chinese words: charlm tokenize notes.txt --level word (--segment auto cuts them with jieba)
    """
    from charlm.io import read_text, resolve_inputs
    from charlm.tokenizers import build_tokenizer, describe

    with resolve_inputs(corpus, encoding, errors) as (path, codec, on_error):
        text = read_text(path, codec, on_error)
    tokenizer = build_tokenizer(level, text, max_vocab, min_count, vocab_size, segment)
    stats, frequent = describe(tokenizer, text, top)
    stats["corpus"] = " ".join(str(c) for c in corpus)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        tokenizer.save(save)
    if as_json:
        print(json.dumps({**stats, "top": [{"token": t, "count": c} for t, c in frequent]}, ensure_ascii=False))
        return
    from charlm.cli.render import tokenize_table

    tokenize_table(stats, frequent)
