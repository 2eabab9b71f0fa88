"""The shape of charlm/: imports point one way (cli, serve -> api -> training | eval -> options -> models,
tokenizers -> io, values -> errors), no module imports itself back through others, lazily or not, and the
surfaces (the command line and the service) reach the library through charlm.api alone."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "charlm"

# Lower numbers are lower layers; a module may import only modules of a strictly lower layer, or of
# its own layer inside its own package (models.base -> models.cells).
LAYERS = {
    "charlm.errors": 0,
    "charlm.layout": 0,
    "charlm.interrupts": 0.5,  # Ctrl-C and SIGTERM, raised and remembered (stdlib only)
    "charlm.progress": 0.5,  # the progress callback type of long passes (stdlib only)
    "charlm.writer": 1.5,  # the one writer: claims, staging, swaps (over io)
    "charlm.streams": 1.2,  # pipes, FIFOs and stdin read once, up to a limit (over io)
    "charlm.inputs": 2,
    "charlm.io": 1,
    "charlm.values": 1,
    "charlm.opt": 1.2,  # Opt, over values
    "charlm.sizes": 1.2,  # memory sizes and pruning thresholds as options
    "charlm.durations": 1.2,  # kinds of option value and Opt (one rule for every surface)
    "charlm.runtime": 1,
    "charlm.models": 2,
    "charlm.tokenizers": 2,
    "charlm.options": 3,  # every option declared once (above models: it names their choices)
    "charlm.checkpoint": 3,
    "charlm.ngram": 3,
    "charlm.plot": 3,
    "charlm.training": 4,
    "charlm.eval": 4,
    "charlm.export": 4.5,  # below api (Model.export_onnx): reads a model directory through checkpoint
    "charlm.api": 5,
    "charlm.serve": 6,  # above api, like cli
    "charlm.cli": 7,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> the charlm modules it imports anywhere in its body (lazy imports included)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target in modules and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def _layer(module: str) -> tuple[str, int] | None:
    for prefix, rank in sorted(LAYERS.items(), key=lambda kv: -len(kv[0])):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, rank
    return None


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in _modules() if m not in ("charlm", "charlm.__main__") and _layer(m) is None]
    assert not unplaced, f"give these modules a layer in LAYERS: {unplaced}"


def test_imports_point_down() -> None:
    upward = []
    for module, targets in _graph().items():
        here = _layer(module)
        if here is None:
            continue
        for target in targets:
            there = _layer(target)
            if there is None:
                continue
            same_package = here[0] == there[0]
            if there[1] > here[1] or (there[1] == here[1] and not same_package):
                upward.append(f"{module} -> {target}")
    assert not upward, f"imports that point up or sideways: {sorted(upward)}"


def _cycles(graph: dict[str, set[str]]) -> set[str]:
    cycles: set[str] = set()

    def walk(node: str, path: list[str], done: set[str]) -> None:
        if node in path:
            cycles.add(" -> ".join([*path[path.index(node) :], node]))
            return
        if node in done:
            return
        done.add(node)
        for nxt in sorted(graph.get(node, ())):
            walk(nxt, [*path, node], done)

    for start in graph:
        walk(start, [], set())
    return cycles


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, f"import cycles: {sorted(cycles)[:5]}"


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert not _cycles({"a": {"b"}, "b": {"c"}, "d": {"a"}})


# What the command line and the service may import besides themselves: the API, the option
# declarations, and the plumbing below every layer (errors, text reading, threads).
SURFACE_MAY_IMPORT = ("charlm.api", "charlm.serve", "charlm.options", "charlm.values", "charlm.opt", "charlm.errors", "charlm.io", "charlm.inputs",
                      "charlm.runtime", "charlm.interrupts", "charlm.streams", "charlm.progress")  # fmt: skip


def test_surfaces_reach_the_library_through_the_api() -> None:
    """cli/ and serve/ call Model and charlm.train, never eval/, training/, models/ ... directly."""
    around = []
    for module, targets in _graph().items():
        if not module.startswith(("charlm.cli", "charlm.serve")):
            continue
        surface = ".".join(module.split(".")[:2])
        for target in targets:
            if target.startswith(surface) or target.startswith(SURFACE_MAY_IMPORT):
                continue
            around.append(f"{module} -> {target}")
    assert not around, f"a surface reaching around charlm.api: {sorted(around)}"


MAX_MODULE_LINES = 320
MAX_FUNCTION_BODY = 50  # lines from the first statement of the body (docstring included) to the last


def test_modules_and_functions_stay_small() -> None:
    """No module over 320 lines, no function body over 50 (a command's option declarations are its signature)."""
    big = []
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = (node.end_lineno or 0) - node.body[0].lineno + 1
                if body > MAX_FUNCTION_BODY:
                    big.append(f"{name}.{node.name}: a {body}-line body")
    assert not big, f"split by concern: {big}"
