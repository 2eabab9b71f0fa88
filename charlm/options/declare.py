"""The declaration of one option (:class:`Opt`) and the registry every surface reads them from.

An option (:class:`charlm.values.Opt`) is declared once: its key, its kind of value (bounds, choices, bad examples), its default
and its help. The command line builds its Typer options from these (:mod:`charlm.cli.declared`),
the library checks the values it is given with :func:`check` (TrainConfig, the Model's options, the
service's limits) and the service builds its request bodies from them (:mod:`charlm.serve.requests`).

A key is the option's name (``seed``), or ``scope.name`` where one name means different things in
different commands (``train.seed`` has a default, ``sample.seed`` none; ``gradflow.hidden`` is not
``train.hidden``). :func:`declared` looks a key up; ``declared("sample.seed")`` finds the scoped
declaration first and falls back to ``seed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from charlm.opt import Opt
from charlm.options import train, use

REGISTRY: dict[str, Opt] = {}


def declare(options: Iterable[Opt]) -> None:
    """Add declarations to the registry (each key once)."""
    for opt in options:
        if opt.key in REGISTRY:
            raise ValueError(f"option {opt.key!r} is declared twice")
        REGISTRY[opt.key] = opt


def declared(key: str) -> Opt:
    """The declaration of ``key`` (``scope.name`` falls back to ``name``)."""
    _load()
    if key in REGISTRY:
        return REGISTRY[key]
    name = key.rsplit(".", 1)[-1]
    if name in REGISTRY:
        return REGISTRY[name]
    raise KeyError(f"no option {key!r} is declared")


def default(key: str) -> Any:
    """The declared default of ``key``."""
    return declared(key).default


def check(key: str, value: Any) -> Any:
    """``value`` checked against the declaration of ``key`` (:meth:`Opt.check`)."""
    return declared(key).check(value)


def check_all(scope: str, values: dict[str, Any]) -> None:
    """Check every value whose name has a declaration in ``scope`` (or unscoped)."""
    for name, value in values.items():
        try:
            opt = declared(f"{scope}.{name}")
        except KeyError:
            continue
        opt.check(value)


def all_options() -> dict[str, Opt]:
    """Every declaration, by key."""
    _load()
    return dict(REGISTRY)


def _load() -> None:
    if not REGISTRY:
        declare((*train.OPTIONS, *use.OPTIONS))
