"""The files of a model (run) directory, declared once.

Every other statement of the list reads :data:`FILES`: what makes a directory a model that no
command but ``train --force`` may overwrite (:func:`charlm.io.is_model_dir`), what a run may
replace as a whole (:mod:`charlm.training.claim`), the names the writers use (checkpoint, ngram
store, tokenizers, metrics) and the table in docs/reliability.md, which ``docs/gen_tables.py``
writes from it. tests/test_docs.py checks that a real run writes these files and no others.
"""

from __future__ import annotations

from dataclasses import dataclass

CONFIG = "config.json"
BEST = "model.safetensors"
LAST = "last.safetensors"
TRAINER_STATE = "trainer_state.pt"
TOKENIZER = "tokenizer.json"
TOKENIZER_MODEL = "tokenizer.model"
METRICS = "metrics.jsonl"
PLOT = "loss.png"
DYNAMIC_STATS = "dynamic_stats.safetensors"
NGRAM, NGRAM_META = "ngram.npz", "ngram.json"
CORPUS_IDS, CORPUS_META = "corpus.ids", "corpus.json"
VAL_IDS, VAL_META = "val.ids", "val.json"


@dataclass(frozen=True)
class RunFile:
    """One file of a run directory: its name, what it holds, and when a run writes it."""

    name: str
    holds: str
    when: str = ""  # empty: every run writes it; else the condition, e.g. "--level bpe or unigram"
    model: bool = False  # its presence makes a directory a model (never overwritten without --force)


FILES: tuple[RunFile, ...] = (
    RunFile(
        CONFIG, "format version, charlm and torch versions, model, tokenizer and training config, summary", "", True
    ),
    RunFile(BEST, "best-on-validation weights: what `charlm.load` and every command read", "", True),
    RunFile(LAST, "latest weights; with trainer_state.pt, what `--resume` continues", "", True),
    RunFile(
        TRAINER_STATE,
        "optimizer, schedule, step, data position, carried hidden state, counters, RNG states "
        "(tensors and plain values only; the commit point of a checkpoint)",
        "",
        True,
    ),
    RunFile(TOKENIZER, "the tokenizer: level, vocabulary, special tokens, segmenter", "", True),
    RunFile(TOKENIZER_MODEL, "the sentencepiece model", "--level bpe or unigram"),
    RunFile(METRICS, "one JSON object per logged step, evaluation or notice"),
    RunFile(PLOT, "train and validation loss curves", "with matplotlib (the plot extra)"),
    RunFile(DYNAMIC_STATS, "gradient RMS on the training text, for dynamic evaluation (`--dynamic`)"),
    RunFile(NGRAM, "the n-gram's counts over the run's tokens", "unless --ngram-order 0"),
    RunFile(NGRAM_META, "the n-gram's order, discounts and tuned mixing weights", "unless --ngram-order 0"),
    RunFile(CORPUS_IDS, "the corpus as a memory-mapped token-id array, reused on resume"),
    RunFile(CORPUS_META, "the corpus cache's fingerprint (source, size, encoding, tokenizer) and counts"),
    RunFile(VAL_IDS, "the --val file as token ids", "with --val FILE"),
    RunFile(VAL_META, "the --val cache's fingerprint", "with --val FILE"),
)
NAMES = frozenset(f.name for f in FILES)
MODEL_MARKERS = tuple(f.name for f in FILES if f.model)
ALWAYS = frozenset(f.name for f in FILES if not f.when)


def markdown_table() -> str:
    """:data:`FILES` as the Markdown table of docs/reliability.md."""
    rows = ["| file | holds | written |", "| --- | --- | --- |"]
    for f in FILES:
        rows.append(f"| `{f.name}` | {f.holds} | {f.when or 'always'} |")
    return "\n".join(rows) + "\n"
