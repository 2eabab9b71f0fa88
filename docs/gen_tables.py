"""Write the generated tables into the docs: each from the one place its facts live.

A generated block sits between two lines::

    <!-- begin generated: NAME (SOURCE; make docs) -->
    ...
    <!-- end generated: NAME -->

``python docs/gen_tables.py`` (``make docs``) rewrites every block from its source (:data:`BLOCKS`);
tests/test_docs.py fails when a block differs from what this script writes, so a figure in the docs
cannot drift from bench/results, nor the file table from :mod:`charlm.layout`.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _signature(fn: Any) -> str:
    """``name(a, b=1, *, c=None)`` without annotations: what a caller types."""
    parts = []
    for p in list(inspect.signature(fn).parameters.values())[1:]:  # not self
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        else:
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return f"{fn.__name__}({', '.join(parts)})"


def model_members() -> str:
    """The public members of ``charlm.Model``: signature (or property) and the first docstring line."""
    from charlm.api import Model

    members: dict[str, Any] = {}
    for cls in reversed(Model.__mro__[:-1]):  # its bases' members too (charlm.api.component)
        members.update(vars(cls))
    rows = ["| member | what it does |", "| --- | --- |"]
    for name, member in sorted(members.items()):
        if name.startswith("_"):
            continue
        shown = f"`{name}` (property)" if isinstance(member, property) else f"`{_signature(member)}`"
        doc = (inspect.getdoc(member) or "").split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
        rows.append(f"| {shown} | {doc} |")
    return "\n".join(rows) + "\n"


def json_commands() -> str:
    """The commands that take ``--json``, read from the app (README's sentence)."""
    import typer

    from charlm.cli.app import app

    found: list[str] = []

    def walk(group: Any, prefix: str) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                walk(command, f"{prefix}{name} ")
            elif any("--json" in getattr(p, "opts", ()) for p in command.params):
                found.append(f"`{prefix}{name}`")

    walk(typer.main.get_command(app), "")
    return ", ".join(found[:-1]) + f" and {found[-1]} take `--json`.\n"


def extras() -> str:
    """pyproject.toml's optional dependencies, as the README's install table."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    rows = ["| extra | installs |", "| --- | --- |"]
    for name, needs in project["optional-dependencies"].items():
        rows.append(f"| `charlm[{name}]` | {', '.join(f'`{n}`' for n in needs)} |")
    return "\n".join(rows) + "\n"


def _blocks() -> dict[str, tuple[str, str, Callable[[], str]]]:
    """NAME -> (the doc it lives in, where its facts come from, the function that draws it)."""
    sys.path.insert(0, str(ROOT))
    from bench import tables
    from charlm import layout

    quick = ("20261130T134130Z-quick.json", "20261130T135027Z-quick.json")
    return {
        "files": ("docs/reliability.md", "charlm/layout.py", layout.markdown_table),
        "recipe-sweep": ("docs/recipes.md", "bench/results/recipe_sweep.jsonl", tables.sweep),
        "cpu-headline": ("README.md", "bench/results/recipe_sweep.jsonl", tables.headline),
        "json-commands": ("README.md", "charlm/cli/app.py", json_commands),
        "extras": ("README.md", "pyproject.toml", extras),
        "model-members": ("docs/api.md", "charlm/api", model_members),
        "scale": ("docs/performance.md", "bench/results/scale.json", tables.scale),
        "bench-repeat": (
            "docs/performance.md",
            f"bench/results/{quick[0]} and {quick[1]}",
            lambda: tables.repeat(*quick),
        ),
    }


def fill(text: str, name: str, source: str, body: str) -> str:
    """``text`` with block NAME's lines replaced by ``body``; an error if the doc has no such block."""
    pattern = re.compile(
        rf"^<!-- begin generated: {re.escape(name)} .*?-->\n.*?^<!-- end generated: {re.escape(name)} -->\n",
        re.M | re.S,
    )
    block = f"<!-- begin generated: {name} ({source}; make docs) -->\n{body}<!-- end generated: {name} -->\n"
    filled, found = pattern.subn(lambda _: block, text)
    if found != 1:
        raise SystemExit(f"gen_tables: expected one block {name!r}, found {found}")
    return filled


def render() -> dict[Path, str]:
    """Every doc that holds a block, as it should read."""
    docs: dict[Path, str] = {}
    for name, (doc, source, draw) in _blocks().items():
        path = ROOT / doc
        docs[path] = fill(docs.get(path) or path.read_text(encoding="utf-8"), name, source, draw())
    return docs


def main() -> int:
    for path, text in render().items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
