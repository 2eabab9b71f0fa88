"""Which output head a model has (``--softmax full | adaptive``), its cutoffs, and when it is refused.

Torch- and numpy-free at import, so options are checked before any import of torch. The adaptive head itself lives in
:mod:`charlm.models.adaptive`. Word ids are ranked by frequency (``<unk>`` and ``<eos>`` first, then
the most frequent words), so a cluster is a contiguous id range::

    ids  0 ........ c0 ........ c1 .......... V
         [shortlist )[ tail 1    )[ tail 2      )     cutoffs = (c0, c1)

The shortlist and one entry per tail share the head's softmax; a tail's words get a second softmax
that only the tokens falling in that tail pay for during training.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from charlm.errors import BadOption

if TYPE_CHECKING:
    import numpy as np

SOFTMAXES = ("full", "adaptive")
# Below this many words the full softmax is a small part of a step: clusters would save little.
ADAPTIVE_MIN_VOCAB = 4000
# Cutoffs chosen from token frequencies: the shortlist covers 75% of the training tokens, the first
# tail up to 90%, and (vocabularies of 50,000 words or more) a second tail up to 97%.
COVERAGE = (0.75, 0.90)
COVERAGE_LARGE = (0.75, 0.90, 0.97)
LARGE_VOCAB = 50_000
MIN_SHORTLIST = 1000
MIN_CLUSTER = 500


def too_small(vocab: int) -> str:
    return (
        f"--softmax adaptive needs a word vocabulary of at least {ADAPTIVE_MIN_VOCAB:,} "
        f"(this one has {vocab:,}): below that the full softmax is already cheap; drop --softmax adaptive"
    )


def check_softmax(softmax: Any, cutoffs: Any, vocab: int | None) -> None:
    """One clear line for a head that cannot work; ``vocab=None`` checks what is known before tokenizing."""
    if softmax not in SOFTMAXES:
        raise BadOption(f"unknown --softmax {softmax!r}; use {' or '.join(SOFTMAXES)}")
    cuts = tuple(cutoffs or ())
    if softmax == "full":
        if cuts:
            raise BadOption("--cutoffs is for --softmax adaptive")
        return
    if any(isinstance(c, bool) or not isinstance(c, int) for c in cuts):
        raise BadOption(f"--cutoffs must be whole numbers (got {list(cuts)})")
    if cuts and (cuts[0] < 2 or any(b <= a for a, b in itertools.pairwise(cuts))):
        raise BadOption(f"--cutoffs must increase and start at 2 or more (got {','.join(map(str, cuts))})")
    if vocab is None:
        return
    if vocab < ADAPTIVE_MIN_VOCAB:
        raise BadOption(too_small(vocab))
    if cuts and cuts[-1] >= vocab:
        raise BadOption(f"--cutoffs must stay below the vocabulary size {vocab:,} (got {','.join(map(str, cuts))})")


def parse_cutoffs(text: str) -> tuple[int, ...]:
    """``--cutoffs 2000,10000`` -> ``(2000, 10000)``."""
    parts = [p.strip() for p in text.split(",")]
    if not parts or not all(p.isdigit() and len(p) <= 9 for p in parts):
        raise BadOption(f"cannot read --cutoffs {text!r}; write increasing word counts, e.g. 2000,10000")
    cuts = tuple(int(p) for p in parts)
    check_softmax("adaptive", cuts, None)
    return cuts


def choose_cutoffs(counts: Sequence[int] | np.ndarray) -> tuple[int, ...]:
    """Cutoffs from per-id token counts (ids ranked by frequency): where coverage reaches each level.

    Each boundary is the number of leading ids that cover that share of the training tokens, at least
    :data:`MIN_SHORTLIST` for the shortlist and :data:`MIN_CLUSTER` words per cluster; a boundary
    that would leave a last cluster smaller than that is dropped.
    """
    import numpy as np  # here, so option checking stays free of numpy

    counts = np.asarray(counts, dtype=np.float64)
    vocab = len(counts)
    cover = np.cumsum(counts) / max(float(counts.sum()), 1.0)  # (V,) share of tokens in ids [0, k]
    cuts: list[int] = []
    for level in COVERAGE_LARGE if vocab >= LARGE_VOCAB else COVERAGE:
        k = int(np.searchsorted(cover, level)) + 1  # ids needed to cover ``level`` of the tokens
        k = max(k, cuts[-1] + MIN_CLUSTER if cuts else MIN_SHORTLIST)
        if k <= vocab - MIN_CLUSTER:
            cuts.append(k)
    if not cuts:  # a tiny vocabulary (refused elsewhere): one tail with the rarer half
        cuts = [max(2, vocab // 2)]
    return tuple(cuts)
