"""Adaptive softmax against the full softmax and the plain fp32 reference (issue 9), one run, interleaved.

``python -m bench.adaptive`` (about 6 minutes on 2 loaded cores) or ``--quick``. Three parts:

* ``train``: word 2 x 650, seq 35, batch 20 on synthetic Zipf text with a 30,000-word vocabulary
  (:func:`bench.workloads.word_corpus`): the plain PyTorch fp32 loop, charlm fp32 with the full
  softmax, charlm fp32 with ``--softmax adaptive``, and adaptive in charlm's fastest precision,
  round by round (each round runs every variant once), tokens/s median and spread, MFU against the
  matmul peak, and the validation loss after the same steps;
* ``train_100k``: the same with a 100,000-word vocabulary (full, adaptive and the reference);
* ``read``: scoring (sentences/s) and sampling (tokens/s at batch 1 and 64) of a 2 x 650 word model
  of each head; both read the exact full distribution, so neither is expected to be much faster.

Writes bench/results/adaptive.json; prints it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.reference import sync, train_reference
from bench.workloads import DEVICE, SHAPES, _timed, flops_per_token, peak, word_corpus
from charlm.runtime import resolve_precision

RESULTS = Path(__file__).resolve().parent / "results"


def _summary(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": values}


def train_compare(vocab: int, rounds: int, steps: int, variants: list[str], warm: int = 2) -> dict[str, Any]:
    """Interleaved rounds of each variant (``reference``, ``full``, ``adaptive``, ``adaptive-<precision>``)."""
    from charlm.tokenizers import build_tokenizer
    from charlm.training.windows import batchify, to_tensor

    shape = SHAPES["word"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = root / "corpus.txt"
        word_corpus(corpus, vocab=vocab)
        text = corpus.read_text(encoding="utf-8")
        tokenizer = build_tokenizer("word", text)
        rows = batchify(to_tensor(tokenizer.encode_array(text)), shape["batch_size"]).to(DEVICE)  # (B,L)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name in variants:
                runs[name].append(_one(name, corpus, root, shape, rows, tokenizer.vocab_size, steps, warm))
        saved = root / "adaptive" / "run-fp32" / "config.json"
        cutoffs = json.loads(saved.read_text())["model"]["cutoffs"] if saved.exists() else None
    flops = flops_per_token(tokenizer.vocab_size, shape["embed"], shape["hidden"], shape["layers"])
    ref = statistics.median(r["tokens_per_s"] for r in runs["reference"]) if "reference" in runs else None
    out: dict[str, Any] = {"vocab": tokenizer.vocab_size, "steps": steps, "rounds": rounds, **shape}
    out["full_softmax_flops_per_token"], out["adaptive_cutoffs"] = flops, cutoffs
    for name, items in runs.items():
        speed = _summary([r["tokens_per_s"] for r in items])
        out[name] = {"tokens_per_s": speed, "val_loss": items[-1].get("val_loss")}
        if ref:
            out[name]["ratio_to_reference"] = speed["median"] / ref
    if "full" in runs and "adaptive" in runs:
        out["adaptive_val_loss_rel_diff"] = out["adaptive"]["val_loss"] / out["full"]["val_loss"] - 1.0
    return out


def _charlm_run(
    corpus: Path, root: Path, shape: dict[str, Any], precision: str, steps: int, warm: int
) -> dict[str, float]:
    """One charlm training run of ``steps`` steps: tokens/s after ``warm`` steps, and its losses."""
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train

    stamps: list[float] = []

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "step":
            sync(DEVICE)
            stamps.append(time.perf_counter())

    config = TrainConfig(
        corpus=str(corpus), out=str(root / f"run-{precision}"), checkpoints=str(root / "ck"), force=True,
        dropout=0.0, warmup=2, steps=steps, eval_every=steps, save_every=10**9, device=str(DEVICE),
        precision=precision, **shape,
    )  # fmt: skip
    result = train(config, on_event)
    tokens = shape["batch_size"] * shape["seq_len"] * (steps - warm)
    return {
        "tokens_per_s": tokens / (stamps[-1] - stamps[warm - 1]),
        "val_loss": result.best_val_loss,
        "train_loss": result.train_loss,
    }


def _one(
    name: str, corpus: Path, root: Path, shape: dict[str, Any], rows: Any, vocab: int, steps: int, warm: int
) -> dict[str, float]:
    if name == "reference":
        return train_reference(
            rows, vocab, shape["embed"], shape["hidden"], shape["layers"], shape["seq_len"], steps, warm
        )
    softmax, _, precision = name.partition("-")  # "adaptive-bf16": the adaptive head in bf16
    shape = {**shape, "softmax": softmax, "ngram_order": 0}  # no n-gram build after the timed steps
    return _charlm_run(corpus, root / softmax, shape, precision or "fp32", steps, warm)


def read_speed(vocab: int, sentences: int, length: int) -> dict[str, Any]:
    """Scoring and sampling speed of a 2 x 650 word model with each head (one training step: speed only)."""
    import charlm
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train

    shape: dict[str, Any] = {k: v for k, v in SHAPES["word"].items() if k not in ("seq_len", "batch_size")}
    out: dict[str, Any] = {"vocab": vocab}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        word_corpus(corpus, vocab=vocab)
        texts = corpus.read_text(encoding="utf-8").splitlines()[-sentences:]
        for softmax in ("full", "adaptive"):
            config = TrainConfig(corpus=str(corpus), out=str(Path(tmp) / softmax), checkpoints=str(Path(tmp) / "ck"),
                                 steps=1, eval_every=1, ngram_order=0, device=str(DEVICE), precision="fp32",
                                 softmax=softmax, **shape)  # fmt: skip
            lm = charlm.load(train(config).run_dir, device=str(DEVICE))
            lm.score(texts[:16], ngram_weight=0.0)  # warm-up
            took = _timed(lambda lm=lm: lm.score(texts, batch_size=64, ngram_weight=0.0))
            one = length / _timed(lambda lm=lm: lm.sample(length=length, seed=0, ngram_weight=0.0))
            many = (
                64
                * (length // 4)
                / _timed(lambda lm=lm: lm.sample(length=length // 4, num=64, seed=0, ngram_weight=0.0))
            )
            out[softmax] = {"score_sentences_per_s": len(texts) / took, "sample_batch1_tokens_per_s": one,
                            "sample_batch64_tokens_per_s": many}  # fmt: skip
    out["sentences"], out["words_per_sentence"] = len(texts), 20
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and steps (about 3 minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS / "adaptive.json")
    parser.add_argument("--parts", default="train,train_100k,read", help="which parts, comma-separated")
    args = parser.parse_args()
    rounds, steps, big_steps = (2, 8, 4) if args.quick else (3, 16, 6)
    fast = resolve_precision("auto", DEVICE)
    variants = ["reference", "full", "adaptive", *([f"adaptive-{fast}"] if fast != "fp32" else [])]
    started = time.time()
    peaks = peak()
    report: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "device": str(DEVICE)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    parts = {
        "train": lambda: train_compare(30_000, rounds, steps, variants),
        "train_100k": lambda: train_compare(100_000, 1, big_steps, ["reference", "full", "adaptive"]),
        "read": lambda: read_speed(30_000, 200 if args.quick else 500, 40 if args.quick else 100),
    }
    for name in args.parts.split(","):
        report[name] = parts[name]()
        report["peak_gflops"] = peaks
        report["total_s"] = time.time() - started
        args.out.write_text(json.dumps(report, indent=1) + "\n")  # after each part: a long run keeps what it measured
        print(json.dumps({name: report[name]}, indent=1), flush=True)


if __name__ == "__main__":
    main()
