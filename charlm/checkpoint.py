"""The one save/load path for model directories (their files are declared in :mod:`charlm.layout`).

``config.json`` (format version, versions, model, tokenizer and training config, summary),
``model.safetensors`` (best-on-validation weights, what ``charlm.load`` uses), ``last.safetensors``
and ``trainer_state.pt`` (what ``--resume`` continues) are written and read here.

Loading never unpickles code: weights are safetensors, metadata is JSON and the trainer state is
read with ``torch.load(weights_only=True)``. Every write goes to a temp file, is fsynced and renamed,
so a crash at any moment leaves the previous file intact. GPU-trained weights load on CPU.

Weight names are mapped on load in one place, :func:`upgrade_names`: a ``--direction both`` model
saved before the bidirectional wrapper (charlm 0.1) named its backward half ``core_bwd.*``,
``proj_bwd.*``, ``head_bwd.*`` beside the forward ``embed``/``core``/``proj``/``head``; today they are
``backward_lm.*`` and ``forward_lm.*`` (:class:`charlm.models.base.BidirectionalLM`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from charlm.errors import CharlmError
from charlm.io import write_atomic, write_bytes_atomic, write_json_atomic
from charlm.layout import BEST, CONFIG, LAST, TRAINER_STATE
from charlm.layout import DYNAMIC_STATS as DYNAMIC_STATS  # re-exported: training writes it, eval reads it
from charlm.models.base import AnyLM, build_model
from charlm.models.config import ModelConfig
from charlm.models.options import validate_model
from charlm.tokenizers import Tokenizer, load_tokenizer

FORMAT_VERSION = 1
DEFAULT_MODEL = Path("checkpoints") / "latest"


# The backward half's old prefixes (charlm 0.1, before BidirectionalLM) and today's.
_OLD_BACKWARD = {"core_bwd.": "backward_lm.core.", "proj_bwd.": "backward_lm.proj.", "head_bwd.": "backward_lm.head."}


def upgrade_names(tensors: dict[str, Any], aliases: bool = False) -> dict[str, Any]:
    """Weights named the pre-wrapper way (``core_bwd.*`` ...) under today's names; others unchanged.

    ``aliases``: also give the shared embedding its second name, ``backward_lm.embed.weight``, as
    ``state_dict()`` lists it (safetensors files store a shared tensor once, under its first name).
    """
    if not any(name.startswith("core_bwd.") for name in tensors):
        return tensors
    renamed: dict[str, Any] = {}
    for name, tensor in tensors.items():
        old = next((prefix for prefix in _OLD_BACKWARD if name.startswith(prefix)), None)
        renamed[_OLD_BACKWARD[old] + name[len(old) :] if old else f"forward_lm.{name}"] = tensor
    if aliases and "forward_lm.embed.weight" in renamed:
        renamed["backward_lm.embed.weight"] = renamed["forward_lm.embed.weight"]
    return renamed


def _named_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name, each shared (tied) tensor once."""
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """Write the model's weights to ``path`` atomically (tied weights stored once).

    Tensors are copied to contiguous CPU memory first: cuDNN keeps an RNN's weights as views of
    one flat buffer, which safetensors would otherwise refuse as shared storage.
    """
    tensors = {name: t.detach().to("cpu").contiguous().clone() for name, t in _named_tensors(model).items()}
    write_bytes_atomic(path, save(tensors, metadata={"format": "pt"}))


def load_weights(model: torch.nn.Module, path: Path, device: torch.device | str = "cpu") -> None:
    """Fill ``model`` from a safetensors file, refusing damaged or mismatched files."""
    if not path.exists():
        raise CharlmError(
            f"{path.parent} has no {path.name}; the model was not saved yet or the directory is incomplete"
        )
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        raise CharlmError(f"{path} is damaged ({first}); restore it or retrain") from None
    tensors = upgrade_names(tensors)
    if set(tensors) != set(_named_tensors(model)):
        raise CharlmError(f"{path} does not match the model in config.json (different tensors)")
    try:
        model.load_state_dict(tensors, strict=False)  # tied aliases (head.weight) are filled by sharing
    except RuntimeError:
        raise CharlmError(f"{path} does not match the model in config.json (tensor shapes differ)") from None


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write named CPU tensors (e.g. gradient statistics) as safetensors, atomically."""
    write_bytes_atomic(path, save({k: t.detach().cpu().contiguous() for k, t in tensors.items()}))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Read named tensors written by :func:`save_tensors`, refusing a damaged file in one line."""
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        raise CharlmError(f"{path} is damaged ({first}); delete it or retrain") from None


def write_config(directory: Path, payload: dict[str, Any]) -> None:
    """Write config.json atomically, stamping format and library versions."""
    from charlm import __version__

    full = {"format_version": FORMAT_VERSION, "charlm_version": __version__, "torch_version": torch.__version__}
    full.update({k: v for k, v in payload.items() if k not in full})
    write_json_atomic(directory / CONFIG, full)


def read_config(directory: Path) -> dict[str, Any]:
    """Read and validate config.json: format version and model section (the one check every loader gets).

    The returned ``model`` section is complete (defaults filled in) and valid for :func:`validate_model`.
    """
    path = directory / CONFIG
    if not path.exists():
        raise CharlmError(f"{directory} has no {CONFIG}; is it a charlm model directory?")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CharlmError(f"{path} is damaged (not valid JSON); restore it or retrain") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise CharlmError(f"{path} is not a charlm model config")
    version = payload.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CharlmError(f"{path} has format version {version!r}, not a whole number; restore it or retrain")
    if version > FORMAT_VERSION:
        raise CharlmError(
            f"{path} has format version {version}, newer than this charlm reads ({FORMAT_VERSION}); upgrade charlm"
        )
    return {**payload, "model": model_section(path, payload["model"]).to_dict()}


def model_section(path: Path, section: Any) -> ModelConfig:
    """The validated ModelConfig of a config.json ``model`` section, or one line naming what is wrong."""
    if not isinstance(section, dict):
        raise CharlmError(f"{path} has an invalid model section (not an object); restore it or retrain")
    try:
        config = ModelConfig.from_dict(section)
        validate_model(config)
    except TypeError:
        raise CharlmError(f"{path} has an invalid model section (a field is missing); restore it or retrain") from None
    except CharlmError as exc:
        raise CharlmError(f"{path} has an invalid model section ({exc}); restore it or retrain") from None
    return config


def resolve_model_dir(model: str | Path | None) -> Path:
    """The model directory to use: ``model`` or checkpoints/latest, which must exist."""
    directory = Path(model) if model else DEFAULT_MODEL
    if not directory.exists():
        if model is None:
            raise CharlmError("no model at checkpoints/latest; train one with `charlm train FILE` or pass --model DIR")
        raise CharlmError(
            f"{directory}: no such model directory; pass --model with a directory written by charlm train"
        )
    if not directory.is_dir():
        raise CharlmError(f"{directory} is a file; --model takes a model directory")
    return directory.resolve()


def load_model(
    directory: str | Path | None, device: torch.device | str = "cpu", weights: str = BEST
) -> tuple[AnyLM, Tokenizer, dict[str, Any]]:
    """Load (model in eval mode, tokenizer, config dict) from a model directory."""
    path = resolve_model_dir(directory)
    config = read_config(path)
    model_config = ModelConfig.from_dict(config["model"])
    tokenizer = load_tokenizer(path)
    saved: dict[str, Any] = config["tokenizer"] if isinstance(config.get("tokenizer"), dict) else {}
    if saved.get("kind", tokenizer.kind) != tokenizer.kind or saved.get(
        "fingerprint", fingerprint(tokenizer)
    ) != fingerprint(tokenizer):
        raise CharlmError(
            f"{path}: tokenizer.json is not the tokenizer these weights were trained with "
            "(the files come from different runs); restore it or retrain"
        )
    if tokenizer.vocab_size != model_config.vocab_size:
        raise CharlmError(
            f"{path}: the tokenizer has {tokenizer.vocab_size} tokens but the model expects "
            f"{model_config.vocab_size}; the files come from different runs"
        )
    weights_path = path / weights
    if weights == BEST and not weights_path.exists() and (path / LAST).exists():
        weights_path = path / LAST
    model = build_model(model_config)
    load_weights(model, weights_path, device="cpu")
    model.to(device)
    model.eval()
    return model, tokenizer, config


def fingerprint(tokenizer: Tokenizer) -> str:
    """A hash of the tokenizer's vocabulary, stored in config.json and checked on load."""
    payload = json.dumps(tokenizer.to_json(), sort_keys=True, ensure_ascii=False).encode()  # type: ignore[attr-defined]
    return hashlib.sha256(payload + getattr(tokenizer, "model_proto", b"")).hexdigest()[:16]


def save_trainer_state(directory: Path, state: dict[str, Any]) -> None:
    """Write the resumable trainer state (tensors and plain Python values) atomically.

    The trainer keeps the model weights of the same step inside this one file, so the rename is
    the single commit point of a checkpoint: a kill can never pair weights and state of two steps.
    """
    write_atomic(directory / TRAINER_STATE, lambda fh: torch.save(state, fh))


def load_trainer_state(directory: Path) -> dict[str, Any]:
    """Read trainer_state.pt without unpickling code (``weights_only=True``)."""
    path = directory / TRAINER_STATE
    if not path.exists():
        raise CharlmError(f"{directory} has no {TRAINER_STATE}; it cannot be resumed (use --init-from to fine-tune)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError, RuntimeError, EOFError...
        raise CharlmError(f"{path} is damaged or unsafe and was not loaded ({_first_words(exc)})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state["model"] = upgrade_names(state["model"], aliases=True)
    return state


def _first_words(exc: BaseException, limit: int = 100) -> str:
    """The first line of an exception's message, cut at a word boundary with an ellipsis if long."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + " ..."


def point_latest(run_dir: Path, checkpoints: Path) -> None:
    """Make ``checkpoints/latest`` a symlink to ``run_dir`` (atomically replaced)."""
    checkpoints.mkdir(parents=True, exist_ok=True)
    link = checkpoints / "latest"
    target = os.path.relpath(run_dir.resolve(), checkpoints.resolve())
    tmp = checkpoints / f".latest.{os.getpid()}.tmp"  # per process: runs sharing checkpoints/ do not collide
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    try:
        if link.exists() and not link.is_symlink():
            raise CharlmError(f"{link} is a real directory or file, not charlm's link to the latest run; move it away")
        os.replace(tmp, link)
    finally:
        tmp.unlink(missing_ok=True)
