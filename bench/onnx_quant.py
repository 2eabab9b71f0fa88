"""ONNX export, fp32 against dynamic int8: scoring speed and bits/char, with onnxruntime alone.

    python -m bench.onnx_quant --model DIR [--max-chars N] [--threads 1]

Exports the model twice (``charlm export --quantize none|int8``), then scores tinyshakespeare
validation (the last 5% of input.txt) and WikiText-2 test with each graph: the text is one stream,
cut into ``--rows`` parallel rows at line starts, read in windows of ``--window`` tokens with the
state carried (the layout ``charlm eval`` uses). Reports tokens/s, bits/char and the ratios, and
writes ``bench/results/onnx_quant.json``. Only numpy and onnxruntime run the scoring.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import DATA

ROOT = Path(__file__).resolve().parents[1]


def texts(data: Path, max_chars: int | None) -> dict[str, str]:
    shakespeare = (data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    out = {
        "tinyshakespeare-val": shakespeare[int(len(shakespeare) * 0.95) :],
        "wikitext2-test": (data / "wikitext-2" / "test.txt").read_text(encoding="utf-8"),
    }
    return {k: v[:max_chars] if max_chars else v for k, v in out.items()}


def log_softmax(x: np.ndarray) -> np.ndarray:
    top = x.max(-1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(-1, keepdims=True))


def score_stream(session: Any, info: dict[str, Any], ids: np.ndarray, rows: int, window: int) -> float:
    """Total nats of ``ids`` (the first conditioned on <eos>), ``rows`` parallel rows, state carried."""
    full = np.concatenate([[info["eos_id"]], ids])
    per_row = math.ceil((len(full) - 1) / rows)
    total = 0.0
    state = {}
    for s in info["state"]:
        shape = list(s["shape"])
        shape[s["batch_axis"]] = rows
        one = np.asarray(s["start"], np.float32).reshape(s["shape"]) if "start" in s else None
        state[s["input"]] = np.repeat(one, rows, s["batch_axis"]) if one is not None else np.zeros(shape, np.float32)
    for start in range(0, per_row, window):
        x = np.zeros((rows, window), np.int64)
        y = np.full((rows, window), -1, np.int64)
        for r in range(rows):
            a = r * per_row + start
            b = min(a + window, (r + 1) * per_row, len(full) - 1)
            if b > a:
                x[r, : b - a], y[r, : b - a] = full[a:b], full[a + 1 : b + 1]
        out = session.run(None, {"ids": x, **state})
        logp = log_softmax(out[0].astype(np.float64))
        mask = y >= 0
        total -= float(np.take_along_axis(logp, np.where(mask, y, 0)[..., None], -1)[..., 0][mask].sum())
        state = {s["input"]: v for s, v in zip(info["state"], out[1:], strict=True)}
    return total


def measure(model: str, corpora: dict[str, str], rows: int, window: int, threads: int) -> dict[str, Any]:
    import onnxruntime as ort

    from charlm.checkpoint import load_model
    from charlm.export.onnx import export_onnx

    _, tokenizer, _ = load_model(model, "cpu")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for quantize in ("none", "int8"):
            out = Path(tmp) / quantize
            info = export_onnx(model, out, quantize=quantize)
            session = ort.InferenceSession(str(out / "window.onnx"), options, providers=["CPUExecutionProvider"])
            size = (out / "window.onnx").stat().st_size
            for name, text in corpora.items():
                ids = tokenizer.encode_array(text)
                started = time.perf_counter()
                nats = score_stream(session, info, ids, rows, window)
                seconds = time.perf_counter() - started
                results[f"{quantize}/{name}"] = {
                    "bpc": nats / (len(text) * math.log(2)),
                    "tokens": len(ids),
                    "seconds": seconds,
                    "tokens_per_s": len(ids) / seconds,
                    "window_onnx_bytes": size,
                }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--max-chars", type=int, default=None, help="Score only the first N characters of each text.")
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    corpora = texts(args.data, args.max_chars)
    results = measure(args.model, corpora, args.rows, args.window, args.threads)
    summary = {}
    for name in corpora:
        fp, q = results[f"none/{name}"], results[f"int8/{name}"]
        summary[name] = {
            "speedup": fp["seconds"] / q["seconds"],
            "bpc_fp32": fp["bpc"],
            "bpc_int8": q["bpc"],
            "bpc_change_pct": 100 * (q["bpc"] - fp["bpc"]) / fp["bpc"],
        }
        print(
            f"{name}: {fp['tokens']} tokens; fp32 {fp['tokens_per_s']:.0f} tok/s {fp['bpc']:.4f} bpc; "
            f"int8 {q['tokens_per_s']:.0f} tok/s {q['bpc']:.4f} bpc; speed-up {summary[name]['speedup']:.2f}x, "
            f"bits/char {summary[name]['bpc_change_pct']:+.2f}%"
        )
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "results": results, "summary": summary}
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "onnx_quant.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
