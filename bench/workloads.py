"""One measurement per subprocess: ``python -m bench.workloads NAME [ARGS]`` prints one JSON line.

``peak``: matmul GFLOP/s in fp32 and bf16. ``train KIND ROUNDS STEPS``: charlm (fp32 and its fastest
precision) and the plain reference, warmed up until stable and then interleaved round by round
(:mod:`bench.interleave`): median tokens/s with min-max, MFU, and the validation loss after the same steps. ``score``: sentences/s for 1,000 sentences. ``sample``: tokens/s at batch 1 and 64.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import SHAKESPEARE
from bench.reference import sample_reference, sync
from charlm.runtime import pick_device, resolve_precision

DEVICE = pick_device(os.environ.get("BENCH_DEVICE", "auto"))

SHAPES = {  # vocab is fixed by the corpus (tinyshakespeare: 65 chars; synthetic Zipf text: 30,000 words)
    "char": {"level": "char", "layers": 2, "hidden": 512, "embed": 128, "seq_len": 128, "batch_size": 64},
    "word": {"level": "word", "layers": 2, "hidden": 650, "embed": 650, "seq_len": 35, "batch_size": 20},
    "word3x1150": {"level": "word", "layers": 3, "hidden": 1150, "embed": 400, "seq_len": 70, "batch_size": 80},
}


def peak(n: int = 0, reps: int = 6) -> dict[str, float]:
    """Best-of-``reps`` GFLOP/s of an (n,n)@(n,n) matmul in fp32 and in bf16 on the bench device.

    On CPU both torch.mm (MKL for fp32, which takes an AVX2 path on AMD CPUs) and oneDNN's linear
    are timed and the faster counts: the peak is what the hardware can do, not what one library does.
    """
    n = n or (8192 if DEVICE.type == "cuda" else 2048)
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(n, n, dtype=dtype, device=DEVICE), torch.randn(n, n, dtype=dtype, device=DEVICE)
        candidates = [lambda a=a, b=b: a @ b]
        if DEVICE.type == "cpu" and torch.backends.mkldnn.is_available():
            am, bm = a.to_mkldnn(), b.to_mkldnn()
            candidates.append(lambda am=am, bm=bm: torch._C._nn.mkldnn_linear(am, bm))
        best = math.inf
        for fn in candidates:
            try:
                fn()  # warm-up
            except RuntimeError:
                continue
            best = min(best, *(_timed(fn) for _ in range(reps)))
        out[name] = 2 * n**3 / best / 1e9
    return out


def _timed(fn: Any) -> float:
    sync(DEVICE)
    started = time.perf_counter()
    fn()
    sync(DEVICE)
    return time.perf_counter() - started


def flops_per_token(vocab: int, embed: int, hidden: int, layers: int) -> float:
    """Training FLOPs per token of an LSTM LM: 3 (fwd + 2x bwd) x 2 x the multiply-adds of its matmuls."""
    macs = sum(4 * hidden * ((embed if k == 0 else hidden) + hidden) for k in range(layers)) + hidden * vocab
    return 6.0 * macs


def word_corpus(path: Path, vocab: int = 30_000, tokens: int = 200_000, seed: int = 0) -> None:
    """Synthetic Zipf-distributed word text with exactly ``vocab`` distinct words (speed only)."""
    rng = np.random.default_rng(seed)
    draws = np.minimum(rng.zipf(1.1, tokens), vocab) - 1
    words = np.concatenate([np.arange(vocab), draws])
    lines = [" ".join(f"w{i}" for i in words[k : k + 20]) for k in range(0, len(words), 20)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _charlm_config(corpus: Path, root: Path, shape: dict[str, Any], precision: str) -> Any:
    """charlm's run for the speed test: the bench shape, no dropout, evaluation and saving out of the way."""
    from charlm.training.config import TrainConfig

    return TrainConfig(
        corpus=str(corpus),
        out=str(root / f"run-{precision}"),
        checkpoints=str(root / "ck"),
        force=True,
        dropout=0.0,
        warmup=2,
        steps=10**6,
        eval_every=10**6,
        save_every=10**6,
        device=str(DEVICE),
        precision=precision,
        **shape,
    )


def reference_on_corpus(root: Path, shape: dict[str, Any]) -> tuple[Path, Any]:
    """The bench corpus for ``shape`` written to ``root/corpus.txt`` (tinyshakespeare for char, a
    synthetic Zipf corpus for word) and the plain fp32 reference stepping over it."""
    from bench.reference import ReferenceSteps
    from charlm.tokenizers import build_tokenizer
    from charlm.training.windows import batchify, to_tensor

    corpus = root / "corpus.txt"
    if shape["level"] == "char":
        corpus.write_text(SHAKESPEARE.read_text(encoding="utf-8"), encoding="utf-8")
    else:
        word_corpus(corpus)
    text = corpus.read_text(encoding="utf-8")
    tokenizer = build_tokenizer(shape["level"], text)
    rows = batchify(to_tensor(tokenizer.encode_array(text)), shape["batch_size"]).to(DEVICE)  # (B,L)
    ref = ReferenceSteps(rows, tokenizer.vocab_size, shape["embed"], shape["hidden"], shape["layers"], shape["seq_len"])
    return corpus, ref


def train_speed(kind: str, rounds: int, steps: int, max_warm: int = 6) -> dict[str, Any]:
    """Reference fp32, charlm fp32 and charlm's fastest precision: warmed up, then ``rounds`` interleaved rounds.

    Each round times ``steps`` steps of every contender (bench/interleave.py); the report has each
    one's median tokens/s with its min-max, and the ratio of medians against the reference.
    """
    from bench.interleave import CharlmSteps, interleave, ratios, spread, warm_up

    shape = SHAPES[kind]
    fast = resolve_precision("auto", DEVICE)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus, ref = reference_on_corpus(root, shape)
        vocab = ref.vocab
        peaks = peak()
        charlm = {p: CharlmSteps(_charlm_config(corpus, root, shape, p)) for p in dict.fromkeys(("fp32", fast))}
        contenders = {"reference": (ref, ref.tokens_per_step), **{p: (c, c.tokens_per_step) for p, c in charlm.items()}}
        try:
            warm = warm_up(contenders, steps, max_warm=max_warm)
            rates = interleave(contenders, rounds, steps)
            losses = {p: c.val_loss() for p, c in charlm.items()}
        finally:
            for c in charlm.values():
                c.close()
        peaks = {k: max(v, peak()[k]) for k, v in peaks.items()}
    flops = flops_per_token(vocab, shape["embed"], shape["hidden"], shape["layers"])
    out: dict[str, Any] = {
        "kind": kind,
        "device": str(DEVICE),
        "vocab": vocab,
        "steps": steps * (warm + rounds),  # each contender's steps in all (the val loss is after these)
        "steps_per_round": steps,
        "warmup_rounds": warm,
        "rounds": rounds,
        "method": "interleaved",
        "fast": fast,
        "flops_per_token": flops,
        "peak_gflops": peaks,
        **shape,
    }
    compared = ratios(rates)
    for name, values in rates.items():
        precision = "fp32" if name == "reference" else name
        summary = spread(values)
        out[name] = {
            "tokens_per_s": summary["median"],
            **{k: summary[k] for k in ("min", "max", "rel_range")},
            "all_tokens_per_s": values,
            "ratio": compared[name]["ratio"],
            "round_ratio": compared[name]["per_round"],
            "mfu": flops * summary["median"] / (peaks[precision] * 1e9),
            **({"val_loss": losses[name]} if name in losses else {"train_loss": float(ref.loss)}),
        }
    if fast != "fp32":
        out["val_loss_rel_diff"] = abs(out[fast]["val_loss"] / out["fp32"]["val_loss"] - 1.0)
    return out


def _model_dir(root: Path, hidden: int) -> Path:
    """A 2 x ``hidden`` char model on tinyshakespeare (one step: speed does not depend on training)."""
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train

    result = train(
        TrainConfig(
            corpus=str(SHAKESPEARE),
            out=str(root / f"m{hidden}"),
            checkpoints=str(root / "ck"),
            layers=2,
            hidden=hidden,
            steps=1,
            eval_every=1,
            device=str(DEVICE),
            precision="fp32",
        )
    )
    return result.run_dir


def sentences(n: int = 1000, width: int = 110) -> list[str]:
    """``n`` sentences of about ``width`` characters cut from tinyshakespeare at word boundaries."""
    words = SHAKESPEARE.read_text(encoding="utf-8").split()
    out, line = [], ""
    for word in words:
        line = f"{line} {word}" if line else word
        if len(line) >= width:
            out.append(line)
            line = ""
            if len(out) == n:
                break
    return out


def score_speed(n: int = 1000) -> dict[str, Any]:
    import charlm

    with tempfile.TemporaryDirectory() as tmp:
        lm = charlm.load(_model_dir(Path(tmp), 384), device=str(DEVICE))
        texts = sentences(n)
        options: dict[str, Any] = {"batch_size": 256}
        if "precision" in inspect.signature(lm.score).parameters:  # scoring in the fastest precision
            options["precision"] = resolve_precision("auto", DEVICE)
        lm.score(texts[:64], **options)  # warm-up
        took = _timed(lambda: lm.score(texts, **options))
    return {
        "sentences": len(texts),
        "mean_chars": sum(map(len, texts)) / len(texts),
        "sentences_per_s": n / took,
        **options,
    }


def sample_speed(length_1: int, length_64: int) -> dict[str, Any]:
    import charlm

    with tempfile.TemporaryDirectory() as tmp:
        lm = charlm.load(_model_dir(Path(tmp), 512), device=str(DEVICE))
        lm.sample(length=20, seed=0)  # warm-up
        one = length_1 / _timed(lambda: lm.sample(length=length_1, seed=0))
        many = 64 * length_64 / _timed(lambda: lm.sample(length=length_64, num=64, seed=0))
        fast: dict[str, Any] = {}
        if "precision" in inspect.signature(lm.sample).parameters:  # batch 64 in the fastest precision too
            fast["precision"] = resolve_precision("auto", DEVICE)
            lm.sample(length=20, num=64, seed=0, **fast)  # warm-up
            took = _timed(lambda: lm.sample(length=length_64, num=64, seed=0, **fast))
            fast["batch64_fast_tokens_per_s"] = 64 * length_64 / took
    vocab = lm.tokenizer.vocab_size
    ref = sample_reference(vocab, 128, 512, 2, 1, max(20, length_1 // 20), DEVICE)
    return {
        "batch1_tokens_per_s": one,
        "batch64_tokens_per_s": many,
        "reference_batch1_tokens_per_s": ref,
        "ratio_batch1": one / ref,
        **fast,
    }


def main(argv: list[str]) -> None:
    torch.manual_seed(0)
    name = argv[0]
    nums = [int(a) for a in argv[2 if name == "train" else 1 :]]
    work = {
        "peak": peak,
        "train": lambda: train_speed(argv[1], *nums),
        "score": lambda: score_speed(*nums),
        "sample": lambda: sample_speed(*nums),
    }
    if name not in work:
        raise SystemExit(f"unknown workload {name!r}; one of {', '.join(work)}")
    print(json.dumps(work[name]()))


if __name__ == "__main__":
    main(sys.argv[1:])
