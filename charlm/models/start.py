"""Where a line starts: the learned start state, and resetting rows of a carried state inside a window.

*Learned start state* (``--start-state learned``): the state a line starts from is the state the core
reaches from zeros after reading one learned input vector (a learned ``<bos>`` embedding)::

    start (E,) --expand--> (B,1,E) --core, from zeros--> start state (any layout: (h, c), the clockwork's
                                                           clock, the attention memory ...)

so it is a trained parameter for every registered core, whatever its state looks like. Scoring,
corpus evaluation, sampling without a prime and training after a reset all begin there: a model
treats ``state=None`` as "start of a line" (:meth:`charlm.models.base.LanguageModel.forward`).

*Resets inside a window* (``--reset-at-eos P``): ``resets (B,T)`` marks the steps whose incoming
state is replaced, in that row only, by the start state. The window is cut at every column that
holds a reset, and each piece runs through the core in one call (the fused cuDNN/oneDNN kernel
stays fused), the marked rows swapped to the start state between pieces::

    row 0:  a b <eos>| c d e f | g h          cut at the columns with any reset (|);
    row 1:  p q r s  | t <eos>  u | v w       at each cut, rows with a reset start afresh

Without any reset the model runs exactly as before (one call, same numbers).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import Tensor, nn

from charlm.models.config import State
from charlm.models.state import leaves, map_state


class FittedStart(nn.Module):
    """A start state held as it is (``--start-state fitted``): one tensor per leaf of the core's state, one row.

    Zeros until :func:`charlm.training.start_fit.fit_start_state` fits it, at the end of training,
    to the lines of the training text with every other weight frozen: the state from which the
    trained network predicts the start of a line best. Each leaf is stored with a batch of 1
    (``start.leaves.N`` in model.safetensors) and expanded to the batch asked for.
    """

    def __init__(self, core: nn.Module, input_size: int) -> None:
        super().__init__()
        was_training = core.training
        core.eval()
        with torch.no_grad():
            _, template = core(torch.zeros(1, 1, input_size), None)
        core.train(was_training)
        self.template = map_state(lambda t: t.detach(), template)  # the layout only (not saved)
        self.dims = batch_dims(core, input_size, torch.device("cpu"))
        self.leaves = nn.ParameterList(nn.Parameter(torch.zeros_like(t), requires_grad=False) for t in leaves(template))

    def forward(self, core: nn.Module, batch: int) -> State:
        params, dims = iter(self.leaves), iter(self.dims)

        def grow(_: Tensor) -> Tensor:
            leaf, dim = next(params), next(dims)
            if dim < 0:
                return leaf
            shape = [-1] * leaf.dim()
            shape[dim] = batch
            return leaf.expand(*shape).contiguous()

        return map_state(grow, self.template)


class StartState(nn.Module):
    """A learned input vector whose one step from zeros gives the start state (see the module docstring)."""

    def __init__(self, input_size: int) -> None:
        super().__init__()
        self.vector = nn.Parameter(torch.zeros(input_size))  # (E,)

    def forward(self, core: nn.Module, batch: int) -> State:
        x = self.vector.view(1, 1, -1).expand(batch, 1, -1)  # (B,1,E)
        _, state = core(x, None)
        return state


def batch_dims(core: nn.Module, input_size: int, device: torch.device) -> list[int]:
    """The batch dimension of every tensor of the core's state, in :func:`map_state` order.

    Found by running one step for 2 and for 3 rows (eval mode, no gradient: no random numbers drawn).
    """
    was_training = core.training
    core.eval()
    with torch.no_grad():
        two, three = (leaves(core(torch.zeros(rows, 1, input_size, device=device), None)[1]) for rows in (2, 3))
    core.train(was_training)
    dims = []
    for a, b in zip(two, three, strict=True):
        differing = [d for d, (m, n) in enumerate(zip(a.shape, b.shape, strict=True)) if m != n]
        dims.append(differing[0] if differing else -1)  # -1: shared by all rows (never reset)
    return dims


def reset_rows(state: State, fresh: State, rows: Tensor, dims: list[int]) -> State:
    """``state`` with the rows where ``rows (B,)`` is True taken from ``fresh`` (same layout)."""
    fresh_leaves = iter(leaves(fresh))
    dim_iter = iter(dims)

    def pick(t: Tensor) -> Tensor:
        new, dim = next(fresh_leaves), next(dim_iter)
        if dim < 0:
            return t
        shape = [1] * t.dim()
        shape[dim] = t.size(dim)
        return torch.where(rows.view(shape), new.to(t.dtype), t)

    return map_state(pick, state)


def run_with_resets(
    core: nn.Module,
    x: Tensor,
    state: State,
    resets: Tensor,
    fresh: Callable[[State, int], State],
    dims: list[int],
) -> tuple[Tensor, State]:
    """Run ``core`` over ``x (B,T,E)``, resetting rows where ``resets (B,T)`` says; ``fresh(state, B)`` is the start."""
    steps = x.size(1)
    columns = resets.any(0).nonzero().flatten().tolist()  # the columns with any reset
    cuts = sorted({0, *columns}) + [steps]
    outputs = []
    for start, stop in itertools.pairwise(cuts):
        rows = resets[:, start]  # (B,)
        if state is not None and bool(rows.any()):
            state = reset_rows(state, fresh(state, x.size(0)), rows, dims)
        y, state = core(x[:, start:stop], state)  # (B,t,H)
        outputs.append(y)
    # One piece is returned as the core gave it: its memory layout decides how dropout draws its mask.
    return (outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)), state  # (B,T,H)


def zeros_like_state(state: State) -> State:
    """The zero (fresh) state in the layout of ``state``: what ``None`` means to every core."""
    return map_state(torch.zeros_like, state)
