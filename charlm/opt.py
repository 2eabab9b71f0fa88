"""The declaration of one option (:class:`Opt`): its key, kind of value, default, help and flags.

Torch-free and below the models, so that model options can be declared beside the models
(:mod:`charlm.models.options`); every declaration is registered in :mod:`charlm.options`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from charlm.errors import BadOption
from charlm.values import Value

RECIPE = "[default: from the recipe]"


@dataclass(frozen=True)
class Opt:
    """One option: ``key``, its kind of ``value``, ``default``, ``help`` and command-line ``flags``.

    A key is the option's name (``seed``), or ``scope.name`` where one name means different things
    in different commands (``sample.seed`` has no default, ``train.seed`` has one). ``optional``:
    None is a value too (not given: the help says what happens then). ``recipe``: None means "from
    the recipe" (:mod:`charlm.training.recipes`). The registry of all of them is :mod:`charlm.options`.
    """

    key: str
    value: Value
    default: Any
    help: str
    flags: tuple[str, ...] = ()
    optional: bool = False
    recipe: bool = False

    @property
    def name(self) -> str:
        """The field/parameter name (the key without its scope)."""
        return self.key.rsplit(".", 1)[-1]

    @property
    def flag(self) -> str:
        """The long command-line name, ``--seed``."""
        return self.flags[0].split("/")[0] if self.flags else "--" + self.name.replace("_", "-")

    @property
    def cli_help(self) -> str:
        return f"{self.help} {RECIPE}." if self.recipe else self.help

    def check(self, value: Any) -> Any:
        """``value`` checked by this option's rule; :class:`BadOption` naming the option otherwise."""
        if value is None and (self.optional or self.recipe):
            return None
        try:
            return self.value.check(value)
        except BadOption as exc:
            raise BadOption(f"{self.flag} {exc}") from None

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (without the option's name), or None when nothing is."""
        if value is None and (self.optional or self.recipe):
            return None
        try:
            self.value.check(value)
        except BadOption as exc:
            return str(exc)
        return None
