"""Judging a command's output target before any work (:mod:`charlm.writer`), for the surfaces.

The library calls claim their targets themselves (``Model.export_onnx``, ``Model.export_arpa``,
:func:`charlm.api.tokenize`); these let the command line refuse a bad target before it loads a
model or reads a corpus, in the same words. Each writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from charlm.checkpoint import resolve_model_dir
from charlm.writer import check_target


def check_export_target(out: str | Path, model: str | Path | None = None, force: bool = False) -> None:
    """Refuse ``out`` for ``charlm export`` of ``model`` (default checkpoints/latest) in one line."""
    from charlm.export.layout import EXPORT

    check_target(out, EXPORT, force, sources=[resolve_model_dir(model)])


def check_arpa_target(arpa: str | Path, model: str | Path | None = None) -> None:
    """Refuse ``arpa`` for ``charlm ngram export`` of ``model`` in one line."""
    from charlm.ngram.arpa import ARPA

    check_target(arpa, ARPA, sources=[resolve_model_dir(model)])


def check_tokenizer_target(save: str | Path, force: bool = False, sources: Sequence[str | Path] = ()) -> None:
    """Refuse ``save`` for ``charlm tokenize --save`` (``sources``: the input files) in one line."""
    from charlm.tokenizers import SAVED

    check_target(save, SAVED, force, sources)
