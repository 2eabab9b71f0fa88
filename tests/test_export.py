"""``charlm export --format onnx``: onnxruntime alone reproduces torch's logits and scores.

Every fused architecture (from the registry) exports and matches within 1e-4, untrained and trained
with dropout on (the command line's default); the others are refused with one line naming the reason;
int8 quantisation stays close; the docs' numpy sampler runs.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from charlm.models.registry import ARCHS
from tests.conftest import TINY_TEXT, tiny_config

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

FUSED = [name for name, spec in ARCHS.items() if spec.fused]
OTHER = [name for name, spec in ARCHS.items() if not spec.fused]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "serve-export.md"


def tiny(tmp_path: Path, arch: str, **extra: Any) -> Path:
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    config = TrainConfig(
        corpus=str(corpus),
        out=str(tmp_path / arch),
        checkpoints=str(tmp_path / "checkpoints"),
        arch=arch,
        hidden=24,
        embed=8,
        layers=2,
        seq_len=16,
        batch_size=4,
        steps=3,
        eval_every=50,
        device="cpu",
        dropout=0.0,
        **extra,
    )
    return train(config).run_dir


def export(model: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "charlm", "export", "--model", str(model), "--out", str(out), *options]
    return subprocess.run(command, capture_output=True, text=True)


def zeros(info: dict[str, Any], batch: int) -> dict[str, np.ndarray]:
    """The fresh state model.json describes: each tensor's start values (a fitted start state), else zeros."""
    out = {}
    for s in info["state"]:
        shape = list(s["shape"])
        if "start" in s:
            out[s["input"]] = np.repeat(np.asarray(s["start"], np.float32).reshape(shape), batch, s["batch_axis"])
            continue
        shape[s["batch_axis"]] = batch
        out[s["input"]] = np.zeros(shape, np.float32)
    return out


def run(session: Any, info: dict[str, Any], ids: np.ndarray, state: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    out = session.run(None, {"ids": ids, **state})
    return out[0], {s["input"]: v for s, v in zip(info["state"], out[1:], strict=True)}


@pytest.mark.slow
@pytest.mark.parametrize("arch", FUSED)
@pytest.mark.trains
def test_fused_architectures_match_torch_in_onnxruntime(tmp_path: Path, arch: str) -> None:
    from charlm.api import load
    from charlm.export.onnx import export_onnx

    model_dir = tiny(tmp_path, arch)
    out = tmp_path / "onnx"
    assert max(export_onnx(model_dir, out)["errors"].values()) < 1e-4
    info = json.loads((out / "model.json").read_text())
    assert {p.name for p in out.iterdir()} >= {"window.onnx", "step.onnx", "model.json", "tokenizer.json"}
    window = ort.InferenceSession(str(out / "window.onnx"), providers=["CPUExecutionProvider"])
    step = ort.InferenceSession(str(out / "step.onnx"), providers=["CPUExecutionProvider"])
    lm = load(model_dir, device="cpu")
    ids = torch.randint(0, info["vocab_size"], (5, 11), generator=torch.Generator().manual_seed(1))  # (B,T)
    with torch.inference_mode():
        want, _ = lm.module(ids)  # (B,T,V)
    got, state = run(window, info, ids[:, :6].numpy(), zeros(info, 5))  # two calls, state carried
    got2, _ = run(window, info, ids[:, 6:].numpy(), state)
    assert np.abs(np.concatenate([got, got2], 1) - want.numpy()).max() < 1e-4
    state = zeros(info, 5)
    for t in range(ids.shape[1]):  # the step graph, token by token
        logits, state = run(step, info, ids[:, t].numpy(), state)
        assert np.abs(logits - want[:, t].numpy()).max() < 1e-4
    # a sentence scored with numpy alone equals charlm's score (<eos> first, <eos> counted)
    sentence = "the cat sat on the mat"
    tokens = np.array([info["eos_id"], *lm.tokenizer.encode(sentence), info["eos_id"]])
    logits, _ = run(window, info, tokens[None, :-1], zeros(info, 1))
    logp = logits[0] - np.log(np.exp(logits[0]).sum(-1, keepdims=True))
    nats = float(logp[np.arange(len(tokens) - 1), tokens[1:]].sum())
    assert math.isclose(nats, lm.score(sentence, ngram_weight=0)[0].logprob, abs_tol=1e-3)


def test_export_leaves_the_model_in_eval_mode(tmp_path: Path) -> None:
    """torch.onnx.export restores its wrapper's mode recursively; the wrapper must not switch dropout on."""
    from charlm.export.onnx import _export_graph, describe_state
    from charlm.models.base import build_model
    from charlm.models.config import ModelConfig

    model = build_model(ModelConfig(vocab_size=7, arch="lstm", layers=2, hidden=8, embed=4, dropout=0.5)).eval()
    template, specs = describe_state(model)
    _export_graph(model, template, specs, False, tmp_path / "window.onnx")
    assert not any(module.training for module in model.modules())


@pytest.mark.slow
@pytest.mark.parametrize("arch", FUSED)
@pytest.mark.trains
def test_trained_models_with_dropout_match_torch(tmp_path: Path, corpus: Path, arch: str) -> None:
    """A model trained a few steps with dropout 0.2 (the default) exports, and onnxruntime matches torch.

    The tests above train 3 steps with dropout 0.0, which hid an export that left dropout switched on.
    """
    from charlm.api import load
    from charlm.export.onnx import export_onnx
    from charlm.training.loop import train

    config = tiny_config(corpus, tmp_path, arch, arch=arch, layers=2, steps=20, lr=1e-2, dropout=0.2, eval_every=50)
    model_dir = train(config).run_dir
    out = tmp_path / "onnx"
    assert max(export_onnx(model_dir, out)["errors"].values()) < 1e-4
    info = json.loads((out / "model.json").read_text())
    window = ort.InferenceSession(str(out / "window.onnx"), providers=["CPUExecutionProvider"])
    step = ort.InferenceSession(str(out / "step.onnx"), providers=["CPUExecutionProvider"])
    lm = load(model_dir, device="cpu")
    ids = torch.randint(0, info["vocab_size"], (3, 12), generator=torch.Generator().manual_seed(2))  # (B,T)
    with torch.inference_mode():
        want, _ = lm.module(ids)  # (B,T,V)
        alone, _ = lm.module(ids[:, 6:])  # the second half from a fresh state: the state matters
    assert np.abs(alone.numpy() - want[:, 6:].numpy()).max() > 1e-2
    got, state = run(window, info, ids[:, :6].numpy(), zeros(info, 3))
    got2, _ = run(window, info, ids[:, 6:].numpy(), state)
    assert np.abs(np.concatenate([got, got2], 1) - want.numpy()).max() < 1e-4
    state = zeros(info, 3)
    for t in range(ids.shape[1]):
        logits, state = run(step, info, ids[:, t].numpy(), state)
        assert np.abs(logits - want[:, t].numpy()).max() < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("arch", OTHER)
@pytest.mark.trains
def test_other_architectures_are_refused_with_the_reason(tmp_path: Path, arch: str) -> None:
    from charlm.errors import CharlmError
    from charlm.export.onnx import export_onnx

    with pytest.raises(CharlmError, match=f"^cannot export --arch {arch} .*(time loop|graph)") as refused:
        export_onnx(tiny(tmp_path, arch), tmp_path / "onnx")
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "onnx" / "window.onnx").exists()


@pytest.mark.slow
@pytest.mark.trains
def test_refusal_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    result = export(tiny(tmp_path, "lstm-cell"), tmp_path / "onnx")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("charlm: error: cannot export --arch lstm-cell")


@pytest.mark.slow
@pytest.mark.trains
def test_an_operator_onnx_lacks_is_one_line_and_prints_no_graph(tmp_path: Path) -> None:
    """mingru's parallel scan uses logcumsumexp: refused in one line, without torch's graph dump on stdout."""
    result = export(tiny(tmp_path, "mingru"), tmp_path / "onnx")
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("charlm: error: cannot export --arch mingru")


@pytest.mark.slow
def test_int8_is_smaller_and_close(tmp_path: Path, tiny_model: Path) -> None:
    assert export(tiny_model, tmp_path / "fp32").returncode == 0
    result = export(tiny_model, tmp_path / "int8", "--quantize", "int8")
    assert result.returncode == 0 and "quantize int8" in result.stdout
    info = json.loads((tmp_path / "int8" / "model.json").read_text())
    assert info["quantize"] == "int8"
    ids = np.array([[1, *range(2, 12)]])
    got = {}
    for kind in ("fp32", "int8"):
        session = ort.InferenceSession(str(tmp_path / kind / "window.onnx"), providers=["CPUExecutionProvider"])
        got[kind], _ = run(session, info, ids, zeros(info, 1))
    ops = {n.op_type for n in __import__("onnx").load(str(tmp_path / "int8" / "window.onnx")).graph.node}
    assert ops & {"DynamicQuantizeLSTM", "MatMulInteger", "DynamicQuantizeMatMul"}, ops
    assert np.abs(got["int8"] - got["fp32"]).max() < 0.1 * np.abs(got["fp32"]).max()


def test_bad_options_are_one_line_errors(tmp_path: Path, tiny_model: Path) -> None:
    for options, says in ((["--format", "tflite"], "--format"), (["--quantize", "int4"], "--quantize")):
        result = export(tiny_model, tmp_path / "o", *options)
        assert result.returncode == 2 and result.stderr.startswith("charlm: error:") and says in result.stderr


@pytest.mark.slow
def test_docs_numpy_sampler_runs(tmp_path: Path, tiny_model: Path) -> None:
    """The plain-Python sampler in docs/serve-export.md runs on an export and prints text of the vocabulary."""
    assert export(tiny_model, tmp_path / "exported").returncode == 0
    code = re.search(r"<!-- sampler -->\s*```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert code, "docs/serve-export.md lost its sampler snippet"
    assert len(code.group(1).strip().splitlines()) <= 20
    assert "torch" not in code.group(1) and "charlm" not in code.group(1)
    result = subprocess.run([sys.executable, "-c", code.group(1)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) > 20 and set(result.stdout) <= set(TINY_TEXT)
