"""The Python API: ``charlm.load(dir)`` returns a :class:`Model` that scores, evaluates, samples,
looks into its embeddings and serves as a component (prediction, the stateful scorer, rescoring);
:func:`rescore` re-ranks n-best lists with several models; :func:`gradflow` measures gradient flow.

Everything a command can do, these can: the CLI calls exactly these (with ``unk=``, the file options,
the cache and the bidirectional scores); they return plain dataclasses and never print.

    model.py        Model: loading, scoring, evaluation, sampling, embeddings; load()
    component.py    Model's component methods (predict, begin/advance/end, rescore); rescore()
    diagnostics.py  gradflow()
"""

from charlm.api.component import Component, rescore
from charlm.api.diagnostics import gradflow
from charlm.api.model import Model, load

__all__ = ["Component", "Model", "gradflow", "load", "rescore"]
