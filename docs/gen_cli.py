"""Generate docs/cli.md, the command reference, from the Typer app: every command's ``--help`` and examples.

Run ``python docs/gen_cli.py`` (or ``make docs``) after changing a command; tests/test_docs.py fails
when docs/cli.md differs from what this script writes, and runs every example in it. Commands are
enumerated from the app itself, so a new command appears here without editing this file; its
examples come from :data:`EXAMPLES` or, until someone adds them there, from the ``Example:`` lines
of its own ``--help`` (which the docs test then runs, so they must work in the example directory).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "cli.md"
WIDTH = 100  # help is wrapped at a fixed width so the file does not depend on the terminal

# The examples run in this order, in an empty directory holding only the two files described in
# SETUP, so each may use what an earlier one made (checkpoints/tiny, checkpoints/words, ...).
SETUP = """\
The examples below run, top to bottom, in an empty directory that holds two files: `corpus.txt`
(a few hundred lines of plain English: `the cat sat on the mat`, `the king is dead long live the
king`, ...) and `sentences.txt` (one sentence per line). tests/test_docs.py does exactly that,
so every example here is known to work; the models are tiny (seconds on a CPU), so their outputs
mean nothing. Swap in your own corpus and drop the size options for a real model."""

# An example whose comment starts with NOT_RUN (a server that does not return, a GPU-only command) is
# shown in an ```sh block, which tests/test_docs.py does not run; every other example must run.
NOT_RUN = "not run:"
TINY = "--hidden 32 --embed 16 --layers 1 --seq-len 16 --batch-size 8"
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "train": [
        (
            f"charlm train corpus.txt --out checkpoints/words --level word --arch gru {TINY} --steps 20 --tie-weights",
            "word-level GRU; points checkpoints/latest at it",
        ),
        (
            f"charlm train corpus.txt --out checkpoints/tiny {TINY} --steps 30 --eval-every 10 --seed 1",
            "char LSTM; now checkpoints/latest",
        ),
        (
            "charlm train corpus.txt --out checkpoints/tuned --init-from checkpoints/tiny --steps 5 --lr 1e-3 "
            "--seq-len 16 --batch-size 8",
            "fine-tune: shape, weights and tokenizer from tiny; a new optimizer",
        ),
        ("charlm train --resume checkpoints/tiny --steps 40", "continue tiny to 40 steps in all"),
    ],
    "plot": [
        ("charlm plot checkpoints/tiny checkpoints/words --out compare.png --title 'char vs word'", "one PNG"),
    ],
    "tokenize": [
        ("charlm tokenize corpus.txt --top 5", "vocabulary, token count, chars/token, unknown rate"),
        ("charlm tokenize corpus.txt --level word --max-vocab 20 --json", "the same as one JSON object"),
        ("charlm tokenize corpus.txt --level word --save tok", "write the fitted tokenizer to tok/"),
    ],
    "recipes": [
        ("charlm recipes --device cpu --level char", "what charlm train picks for each budget on a CPU, and why"),
        ("charlm recipes --json", "every row, one JSON object per line"),
    ],
    "info": [
        ("charlm info", "checkpoints/latest"),
        ("charlm info --model checkpoints/words --json", "everything as JSON"),
    ],
    "sample": [
        ("charlm sample --prime 'the ' --length 60 --temp 0.8 --seed 1", "one sample, repeatable with --seed"),
        ("charlm sample --num 3 --length 40 --top-p 0.9 --until-eos --show-logprob --seed 2", "three, one line each"),
        ("charlm sample --beam 4 --prime 'the king' --length 12 --device cpu", "most probable continuation"),
    ],
    "score": [
        ("charlm score 'the cat sat on the mat' 'mat the on sat cat the'", "ranked table, best first"),
        ("charlm score 'the king is dead' --per-token", "each token's log-probability"),
        ("charlm score --lines sentences.txt --normalize token --json", "one JSON object per line"),
        ("charlm score --file corpus.txt --json", "the whole file as one text (see eval)"),
    ],
    "eval": [
        ("charlm eval corpus.txt", "streamed: state carried across lines"),
        ("charlm eval corpus.txt --independent --json", "each line from a fresh state"),
        ("charlm eval corpus.txt --cache 100 --cache-theta 0.3 --cache-lambda 0.1 --device cpu", "neural cache"),
        ("charlm eval corpus.txt sentences.txt --json", "several files (or a directory, or -) read as one text"),
    ],
    "predict": [
        ("charlm predict 'the cat sat on the ' -k 5", "next tokens (characters for a char model)"),
        ("charlm predict 'the cat sat on the ' --words -k 3", "next words: a beam to a space or punctuation"),
        ("charlm predict 'the cat sat on the ___' --blank --candidates mat,king,log", "rank words for the gap"),
        ("charlm predict 'the cat sat on the' --model checkpoints/words -k 3 --json", "a word model, as JSON"),
        ("charlm predict 'the cat sat on the ' -k 5 --ngram-weight 0", "the network alone (no n-gram mixed in)"),
    ],
    "rescore": [
        (
            "charlm rescore test.nbest -m checkpoints/tiny -m checkpoints/words --tune dev.nbest --tune-refs dev.refs "
            "--refs test.refs",
            f"{NOT_RUN} needs n-best lists; python bench/nbest.py writes a WikiText-2 set",
        ),
        (
            "charlm rescore test.nbest --weight 0.3 --length-penalty 0.5 --json",
            f"{NOT_RUN} fixed weights, all re-ranked",
        ),
        (
            "charlm rescore test.nbest -m checkpoints/tiny --ngram-weight 0",
            f"{NOT_RUN} each model's log-probability without its n-gram",
        ),
    ],
    "gradflow": [
        (
            "charlm gradflow --arch rnn --arch lstm --hidden 16 --length 30 --batch 4 --seed 1 --text corpus.txt",
            "random weights; writes gradflow.png",
        ),
        ("charlm gradflow --model checkpoints/tiny --length 30 --plot tiny.png --json", "a trained model"),
    ],
    "neighbors": [
        ("charlm neighbors cat -k 3 --model checkpoints/words", "word-level models only"),
        ("charlm neighbors --analogy king cat dog --model checkpoints/words", "nearest to king - cat + dog"),
    ],
    "serve": [
        ("charlm serve --model checkpoints/tiny --port 8000", f"{NOT_RUN} a server, on 127.0.0.1 until stopped"),
        ("charlm serve --port 0 --workers 2 --max-batch 32", f"{NOT_RUN} a free port (printed), two processes"),
    ],
    "export": [
        ("charlm export --model checkpoints/tiny --format onnx --out exported", "window.onnx, step.onnx, model.json"),
        ("charlm export --model checkpoints/tiny --out exported-int8 --quantize int8 --json", "int8 weights"),
    ],
    "ngram": [
        ("charlm ngram build --model checkpoints/tiny --order 4", "count the run's tokens; tune the weight"),
        ("charlm ngram export --arpa tiny.arpa --model checkpoints/tiny", "the n-gram as an ARPA file"),
        ("charlm score 'the cat sat on the mat' --model checkpoints/tiny --ngram-weight 0", "the network alone"),
        ("charlm score 'the cat sat' --model checkpoints/tiny --ngram tiny.arpa --ngram-weight 0.5", "mix in ARPA"),
    ],
}


def commands(app: typer.Typer) -> dict[str, Any]:
    """The app's commands by name (click command objects), in the order ``charlm --help`` lists them."""
    group: Any = typer.main.get_command(app)  # a click group (typer vendors click)
    return dict(group.commands)


def help_text(app: typer.Typer, args: list[str]) -> str:
    """``charlm ARGS --help`` exactly as a terminal WIDTH columns wide shows it."""
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="charlm", terminal_width=WIDTH)
    if result.exit_code != 0:
        raise RuntimeError(f"charlm {' '.join(args)} --help failed: {result.output}")
    return result.output.rstrip() + "\n"


def help_examples(text: str) -> list[tuple[str, str]]:
    """The ``Example: charlm ...`` lines of a help text (several on one line are split at ``|``)."""
    found = []
    for match in re.finditer(r"Example: (charlm .+)", text):
        found += [(part.strip(), "from --help") for part in match.group(1).split("|") if part.strip()]
    return found


def examples_for(name: str, text: str) -> list[tuple[str, str]]:
    return EXAMPLES.get(name) or help_examples(text)


def render(app: typer.Typer) -> str:
    """The whole of docs/cli.md."""
    names = list(commands(app))
    parts = [
        "# Command reference\n",
        "Generated from the commands' `--help` by `python docs/gen_cli.py` (`make docs`); do not edit by "
        "hand: tests/test_docs.py fails when this file is stale and runs every example in it.\n",
        "Every command that uses a model takes `--model DIR` (default `checkpoints/latest`). Results go to "
        "stdout, progress and messages to stderr. Exit codes: 0 success; 1 bad input, file or model (one "
        "`charlm: error: ...` line on stderr); 2 bad usage (unknown option, malformed value); 130 interrupted.\n",
        "Commands: " + ", ".join(f"[`{n}`](#charlm-{n})" for n in names) + ".\n",
        "## Examples: where they run\n",
        SETUP + "\n",
        "## charlm\n",
        "```text\n" + help_text(app, []) + "```\n",
    ]
    for name in names:
        text = help_text(app, [name])
        parts.append(f"## charlm {name}\n")
        parts.append("```text\n" + text + "```\n")
        found = examples_for(name, text)
        runnable = [f"{cmd}   # {why}" for cmd, why in found if not why.startswith(NOT_RUN)]
        shown = [f"{cmd}   # {why}" for cmd, why in found if why.startswith(NOT_RUN)]
        if runnable:
            parts.append("Examples:\n\n```bash\n" + "\n".join(runnable) + "\n```\n")
        if shown:
            parts.append("Not run by the docs test:\n\n```sh\n" + "\n".join(shown) + "\n```\n")
    return "\n".join(parts)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from charlm.cli.app import app

    OUT.write_text(render(app), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
