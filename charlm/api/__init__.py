"""The Python API: ``charlm.load(dir)`` returns a :class:`Model` that scores, evaluates, samples,
looks into its embeddings and serves as a component (prediction, the stateful scorer, rescoring);
:func:`rescore` re-ranks n-best lists with several models; :func:`gradflow` measures gradient flow.

Everything a command can do, these can: the CLI calls exactly these (with ``unk=``, the file options,
the cache and the bidirectional scores); they return plain dataclasses and never print.

    model.py        Model: loading, scoring, evaluation, sampling, embeddings; load()
    component.py    Model's component methods (predict, begin/advance/end, rescore); rescore()
    diagnostics.py  gradflow()
    info.py         ModelInfo, what info() returns
    tools.py        tokenize(), tokenize_file(), recipes(), plot(), launch(): the commands that load no model

The result types the command line and the service render are re-exported here, so they reach the
library through this package alone (tests/test_layers.py checks it).
"""

from charlm.api.component import Component, rescore
from charlm.api.diagnostics import gradflow
from charlm.api.info import ModelInfo
from charlm.api.model import Model, load
from charlm.api.tools import launch, plot, recipes, tokenize, tokenize_file
from charlm.checkpoint import resolve_model_dir
from charlm.eval.gradflow import DISTANCES
from charlm.eval.predict import Prediction
from charlm.eval.rescore import Weights
from charlm.eval.rescore_run import RescoreResult
from charlm.eval.sample import Sample
from charlm.eval.score import SentenceScore, rank
from charlm.options import ScoringOptions
from charlm.training.claim import StartInterrupted
from charlm.training.events import Event

__all__ = [
    "DISTANCES",
    "Component",
    "Event",
    "Model",
    "ModelInfo",
    "Prediction",
    "RescoreResult",
    "Sample",
    "ScoringOptions",
    "SentenceScore",
    "StartInterrupted",
    "Weights",
    "gradflow",
    "launch",
    "load",
    "plot",
    "rank",
    "recipes",
    "rescore",
    "resolve_model_dir",
    "tokenize",
    "tokenize_file",
]
