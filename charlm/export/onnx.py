"""ONNX export: a model directory -> two ONNX graphs, the tokenizer and a JSON of what they mean.

::

    out/window.onnx   ids (B,T) int64, state_0..state_k -> logits (B,T,V), state_out_0..state_out_k
    out/step.onnx     ids (B,) int64,  state_0..state_k -> logits (B,V),   state_out_0..state_out_k
    out/model.json    inputs/outputs, state shapes (batch axis), vocabulary, <eos>/<unk> ids
    out/tokenizer.json (and tokenizer.model for sentencepiece), config.json: copied from the model

``out`` is claimed like every output (:mod:`charlm.writer`): written in a staging directory beside it
and swapped in as a whole, so an export never mixes with an earlier one, and a kill leaves one or the other.

A core's state is flattened to a list of tensors; a fresh state is the model's start state (each
tensor's ``start`` values in ``model.json``) or all zeros (checked at export time), so another
runtime needs only ``numpy``. Every export
is verified with onnxruntime against torch on a batch size and length other than the traced ones;
an architecture whose graph does not match (a Python time loop unrolled to a fixed length) is
refused with the reason. ``quantize="int8"`` writes dynamically quantised graphs of the recurrent
(LSTM) and matrix-multiply weights (:func:`quantize_int8`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from charlm.checkpoint import load_model, resolve_model_dir
from charlm.errors import BadOption, CharlmError
from charlm.export.layout import EXPORT, OPSET, describe, names
from charlm.io import write_json_atomic
from charlm.layout import CONFIG, TOKENIZER, TOKENIZER_MODEL
from charlm.models.base import LanguageModel
from charlm.models.config import State
from charlm.writer import claim_dir

FORMATS = ("onnx",)
QUANTIZE = ("none", "int8")
TOLERANCE = 1e-4
GRAPHS = ("window", "step")


def flatten(state: State) -> list[Tensor]:
    """The tensors of a (nested tuple/list) state, depth first."""
    if state is None:
        return []
    if isinstance(state, Tensor):
        return [state]
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in flatten(s)]
    raise CharlmError(f"a {type(state).__name__} recurrent state does not export to ONNX")


def unflatten(template: State, flat: Sequence[Tensor]) -> State:
    """Rebuild ``template``'s nesting from ``flat`` (the inverse of :func:`flatten`)."""
    items = iter(flat)

    def build(node: State) -> State:
        if isinstance(node, Tensor):
            return next(items)
        return type(node)(build(s) for s in node)

    return build(template)


class _Graph(nn.Module):
    """The model with a flat state: ``(ids, *state) -> (logits, *state)``; ``step`` takes ids (B,).

    Built in eval mode: ``torch.onnx.export`` traces in eval mode and then restores the wrapper's own
    mode *recursively*, so a wrapper left in nn.Module's default training mode would switch the wrapped
    model's dropout on for everything after the export (the check against torch included).
    """

    def __init__(self, model: LanguageModel, template: State, step: bool) -> None:
        super().__init__()
        self.model, self.template, self.step = model, template, step
        self.eval()

    def forward(self, ids: Tensor, *flat: Tensor) -> tuple[Tensor, ...]:
        tokens = ids.unsqueeze(1) if self.step else ids  # (B,1) or (B,T)
        logits, state = self.model(tokens, unflatten(self.template, flat))  # (B,T,V)
        return (logits[:, 0] if self.step else logits, *flatten(state))


def describe_state(model: LanguageModel) -> tuple[State, list[dict[str, Any]]]:
    """The state's nesting and, per tensor, its shape at batch 1 and its batch axis.

    A model with a start state of its own (``--start-state fitted`` or ``learned``) records it per
    tensor as ``start`` (its values at batch 1, row-major); the others start from zeros. Refuses a
    core whose fresh state is neither: the exported graphs always take a state.
    """
    with torch.inference_mode():
        ids = torch.tensor([[1, 2, 3]] * 3)  # (3,T)
        logits, state = model(ids[:2])
        _, wider = model(ids)
        template = state
        shapes = [(list(a.shape), list(b.shape)) for a, b in zip(flatten(state), flatten(wider), strict=True)]
        specs: list[dict[str, Any]] = []
        for small, big in shapes:
            axes = [i for i, (x, y) in enumerate(zip(small, big, strict=True)) if x != y]
            if len(axes) != 1:
                raise CharlmError("its recurrent state has no single batch axis, so it cannot be exported")
            specs.append({"shape": [1 if i == axes[0] else n for i, n in enumerate(small)], "batch_axis": axes[0]})
        start = model.start_state(1)
        if start is not None:
            for spec, tensor in zip(specs, flatten(start), strict=True):
                spec["start"] = [float(x) for x in tensor.detach().cpu().float().reshape(-1)]
        fresh = [_zeros(s, 2) for s in specs]
        again, _ = model(ids[:2], unflatten(template, fresh))
        if not torch.allclose(logits, again, atol=1e-6):
            raise CharlmError("its fresh state is neither zeros nor a start state, which the exported graphs assume")
    return template, specs


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send file descriptor 1 to a scratch file: when tracing fails, torch's exporter prints the whole
    TorchScript graph there from C++ (it switches its ONNX log on regardless of ``verbose``)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _export_graph(model: LanguageModel, template: State, specs: list[dict[str, Any]], step: bool, path: Path) -> None:
    """Trace one graph (batch 2, length 5) with dynamic batch (and time) axes into ``path``."""
    ins, outs = names(len(specs))
    ids = torch.tensor([3, 4]) if step else torch.tensor([[1, 2, 3, 4, 5]] * 2)  # (B,) or (B,T)
    state = [_zeros(s, 2) for s in specs]
    axes: dict[str, dict[int, str]] = {"ids": {0: "batch"} if step else {0: "batch", 1: "time"}}
    axes["logits"] = {0: "batch"} if step else {0: "batch", 1: "time"}
    for name, spec in zip([*ins, *outs], [*specs, *specs], strict=True):
        axes[name] = {spec["batch_axis"]: "batch"}
    if model.training:
        raise CharlmError("the model is in training mode (dropout on); export an eval-mode model")
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(), _quiet_stdout():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Graph(model, template, step),
            (ids, *state),
            str(path),
            input_names=["ids", *ins],
            output_names=["logits", *outs],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def _zeros(spec: dict[str, Any], batch: int) -> Tensor:
    """The fresh state tensor of ``spec`` for ``batch`` rows: its recorded ``start`` values, or zeros."""
    shape = list(spec["shape"])
    if "start" in spec:
        one = torch.tensor(spec["start"], dtype=torch.float32).reshape(shape)  # batch axis of size 1
        return one.repeat(*[batch if i == spec["batch_axis"] else 1 for i in range(len(shape))])
    shape[spec["batch_axis"]] = batch
    return torch.zeros(shape)


def verify(model: LanguageModel, specs: list[dict[str, Any]], path: Path, step: bool) -> float:
    """Largest |logit difference| between onnxruntime and torch on batch 3, length 7 (two calls, state carried).

    Raises CharlmError when the graph does not run or gives the wrong shape at that size.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ins, _ = names(len(specs))
    gen = torch.Generator().manual_seed(0)
    state_t: State = None
    state_np = [_zeros(s, 3).numpy() for s in specs]
    worst = 0.0
    for _ in range(2):
        ids = torch.randint(0, model.config.vocab_size, (3,) if step else (3, 7), generator=gen)
        with torch.inference_mode():
            logits, state_t = model(ids.unsqueeze(1) if step else ids, state_t)
        expect = (logits[:, 0] if step else logits).numpy()
        try:
            got = session.run(None, {"ids": ids.numpy(), **dict(zip(ins, state_np, strict=True))})
        except Exception as exc:  # onnxruntime's own error types
            raise CharlmError(
                f"its traced graph does not run at another batch size or length ({type(exc).__name__})"
            ) from None
        if got[0].shape != expect.shape:
            raise CharlmError(
                f"its Python time loop is unrolled to the traced length, so the graph cannot take other lengths "
                f"(logits {list(got[0].shape)} for {list(expect.shape)})"
            )
        worst = max(worst, float(np.abs(got[0] - expect).max()))
        state_np = got[1:]
    return worst


def export_onnx(
    model_dir: str | Path | None,
    out: str | Path,
    quantize: str = "none",
    tolerance: float = TOLERANCE,
    force: bool = False,
) -> dict[str, Any]:
    """Export ``model_dir`` into the directory ``out``; returns ``model.json``'s content plus ``errors``.

    ``out`` is claimed first (:mod:`charlm.writer`): a model directory, a directory of other files or
    (without ``force``) an earlier export are refused before anything is loaded; the files are written
    into a staging directory beside it, which replaces ``out`` as a whole once every graph checks out.
    """
    if quantize not in QUANTIZE:
        raise BadOption(f"unknown --quantize {quantize!r}; use one of {', '.join(QUANTIZE)}")
    source = resolve_model_dir(model_dir)
    with claim_dir(out, EXPORT, force, sources=[source]) as staging:
        info, errors = _export_into(source, staging, quantize, tolerance)
    return {**info, "errors": errors, "out": str(out)}


def _export_into(
    source: Path, target: Path, quantize: str, tolerance: float
) -> tuple[dict[str, Any], dict[str, float]]:
    """Write the graphs (each checked against torch), the tokenizer, config.json and model.json into ``target``."""
    model, tokenizer, _ = load_model(source, "cpu")
    arch = model.config.arch
    if not isinstance(model, LanguageModel):  # a --direction both model (BidirectionalLM)
        raise CharlmError(f"cannot export {source}: a --direction both model scores both ways and has no single graph")
    try:
        template, specs = describe_state(model)
    except CharlmError as exc:
        raise CharlmError(f"cannot export --arch {arch}: {exc}") from None
    errors: dict[str, float] = {}
    for name in GRAPHS:
        path = target / f"{name}.onnx"
        try:
            _export_graph(model, template, specs, name == "step", path)
            errors[name] = verify(model, specs, path, name == "step")
        except torch.onnx.OnnxExporterError as exc:  # e.g. an operator ONNX has no counterpart for
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CharlmError(f"cannot export --arch {arch} ({name} graph): {reason}") from None
        except CharlmError as exc:
            raise CharlmError(f"cannot export --arch {arch} ({name} graph): {exc}") from None
        if not errors[name] <= tolerance:
            raise CharlmError(
                f"cannot export --arch {arch}: onnxruntime's {name} logits differ from torch's by "
                f"{errors[name]:.3g} (> {tolerance:g})"
            )
        if quantize == "int8":
            quantize_int8(path, path)
    for extra in (TOKENIZER, TOKENIZER_MODEL, CONFIG):
        if (source / extra).exists():
            shutil.copyfile(source / extra, target / extra)
    info = describe(model, tokenizer, specs, quantize)
    write_json_atomic(target / "model.json", info)
    return info, errors


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation (weights int8, activations quantised on the fly) of LSTM and MatMul/Gemm weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # its advice to pre-process models is for convolutional vision graphs
    staged = target.with_name(f".{target.name}.int8.tmp")  # beside the target: inside the export's staging
    try:
        quantize_dynamic(
            str(source), str(staged), weight_type=QuantType.QInt8, op_types_to_quantize=["LSTM", "MatMul", "Gemm"]
        )
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
        logging.disable(logging.NOTSET)
