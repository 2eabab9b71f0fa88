"""Walking a recurrent state: a tensor or a (nested) tuple/list/dict of tensors, or None."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from charlm.models.config import State


def map_state(fn: Callable[[Tensor], Tensor], state: State) -> State:
    """Apply ``fn`` to every tensor in a (nested tuple/list) recurrent state."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, s) for s in state)
    if isinstance(state, dict):
        return {k: map_state(fn, v) for k, v in state.items()}
    raise TypeError(f"unsupported state type {type(state).__name__}")


def detach_state(state: State) -> State:
    """Cut the graph at a TBPTT window boundary, keeping the values."""
    return map_state(lambda t: t.detach(), state)


def leaves(state: State) -> list[Tensor]:
    """The state's tensors in the order :func:`map_state` visits them."""
    found: list[Tensor] = []

    def keep(t: Tensor) -> Tensor:
        found.append(t)
        return t

    map_state(keep, state)
    return found
