"""The ``export`` command: a model as ONNX graphs that onnxruntime runs without charlm or torch.

Thin like the rest of the CLI: options -> :func:`charlm.export.onnx.export_onnx` -> one line (or
JSON). onnx and onnxruntime (the ``export`` extra) are imported only inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charlm.cli.declared import default, option
from charlm.cli.options import ModelOpt, friendly
from charlm.cli.paths import OutDir
from charlm.errors import BadOption, need
from charlm.io import json_text


@friendly
def export(
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=OutDir(), help="Directory for the exported files (created).")
    ],
    model: ModelOpt = None,
    format: Annotated[str, option("format")] = default("format"),
    quantize: Annotated[str, option("quantize")] = default("quantize"),
    as_json: Annotated[bool, typer.Option("--json", help="Print model.json and the check's errors as JSON.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier export in --out (as a whole; never other files).")
    ] = False,
) -> None:
    """Export a model to ONNX: window.onnx (ids, state -> logits, state), step.onnx (one token), model.json.

    The tokenizer and a model.json describing every input and output are written beside the graphs,
    so onnxruntime and numpy alone can score and sample. Each graph is checked against torch with
    onnxruntime before it is written; architectures that do not export are refused with the reason.
    --out must be new, empty or an earlier export (replaced with --force); the files are staged
    beside it and swapped in together.

    Example: charlm export --model checkpoints/latest --format onnx --out exported/
    """
    if format not in ("onnx",):
        raise BadOption(f"unknown --format {format!r}; use onnx")
    need("onnx", "export")
    need("onnxruntime", "export")
    from charlm.api import load
    from charlm.api.outputs import check_export_target

    check_export_target(out, model, force)  # before loading: never a model, never foreign files
    info = load(model, device="cpu").export_onnx(out, quantize=quantize, force=force)
    if as_json:
        print(json_text({k: v for k, v in info.items() if k not in ("vocab", "text")}))
        return
    worst = max(info["errors"].values())
    print(
        f"exported {info['arch']} ({info['vocab_size']} tokens, {len(info['state'])} state tensors, "
        f"quantize {info['quantize']}) to {info['out']}: window.onnx, step.onnx, model.json; "
        f"onnxruntime matches torch within {worst:.1e}"
    )
