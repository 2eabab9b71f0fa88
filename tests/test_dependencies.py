"""What charlm depends on: extras that say what to install when missing, exact pins only in
constraints.txt, one version, and no reaching into typer's private modules."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import warnings
from pathlib import Path

import pytest
import tomllib
from typer.testing import CliRunner

import charlm
from charlm.cli.app import app
from charlm.errors import CharlmError, CharlmWarning, need
from tests.conftest import no_crash

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def _missing(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import module`` fail as it does where the package is not installed."""
    for module in modules:
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, module, None)


def _one_error_line(result: object, extra: str) -> str:
    no_crash(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]  # type: ignore[attr-defined]
    assert result.exit_code == 1 and len(lines) == 1, result.stderr  # type: ignore[attr-defined]
    assert lines[0].startswith("charlm: error: ") and lines[0].endswith(f"pip install 'charlm[{extra}]'")
    return lines[0]


def _package(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def test_need_names_the_extra_and_passes_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    need("json", "plot")  # installed: nothing happens
    _missing(monkeypatch, "matplotlib")
    with pytest.raises(
        CharlmError, match=r"^drawing needs matplotlib, which is not installed: pip install 'charlm\[plot\]'$"
    ):
        need("matplotlib", "plot", "drawing")


def test_every_module_need_asks_for_is_in_the_extra_it_names() -> None:
    """Each ``need(module, extra)`` in charlm/ names an extra of pyproject.toml that installs module."""
    import_names = {"onnxruntime": "onnxruntime", "onnx": "onnx", "jieba": "jieba", "matplotlib": "matplotlib"}
    found = []
    for path in (ROOT / "charlm").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "need":
                module, extra = (a.value for a in node.args[:2])  # type: ignore[attr-defined]
                found.append((module, extra))
                packages = {_package(r) for r in EXTRAS[extra]}
                assert import_names.get(module, module) in packages, (path.name, module, extra)
    assert {extra for _, extra in found} == {"plot", "zh", "serve", "export"}


def test_plot_without_matplotlib_is_one_line(monkeypatch: pytest.MonkeyPatch, tiny_model: Path, tmp_path: Path) -> None:
    _missing(monkeypatch, "matplotlib")
    result = CliRunner().invoke(app, ["plot", str(tiny_model), "--out", str(tmp_path / "x.png")])
    _one_error_line(result, "plot")
    result = CliRunner().invoke(app, ["gradflow", "--arch", "rnn", "--length", "5", "--plot", str(tmp_path / "g.png")])
    _one_error_line(result, "plot")
    assert not list(tmp_path.iterdir())


@pytest.mark.trains
def test_training_without_matplotlib_warns_once_and_writes_no_plot(
    monkeypatch: pytest.MonkeyPatch, corpus: Path, tmp_path: Path
) -> None:
    from charlm.training.loop import train
    from tests.conftest import tiny_config

    _missing(monkeypatch, "matplotlib")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train(tiny_config(corpus, tmp_path, steps=6, eval_every=2)).run_dir
    said = [str(w.message) for w in caught if issubclass(w.category, CharlmWarning)]
    assert said == [
        "loss.png needs matplotlib, which is not installed: pip install 'charlm[plot]'; training goes on without it"
    ]
    assert (run / "model.safetensors").exists() and not (run / "loss.png").exists()


def test_chinese_without_jieba_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = tmp_path / "zh.txt"
    text.write_text("我们喜欢用神经网络写语言模型。\n" * 50, encoding="utf-8")
    _missing(monkeypatch, "jieba")
    result = CliRunner().invoke(app, ["tokenize", str(text), "--level", "word", "--segment", "zh"])
    assert "Chinese word segmentation needs jieba" in _one_error_line(result, "zh")


@pytest.mark.parametrize(("command", "module", "extra"), [("serve", "fastapi", "serve"), ("export", "onnx", "export")])
def test_serve_and_export_without_their_extra_are_one_line(
    monkeypatch: pytest.MonkeyPatch, tiny_model: Path, tmp_path: Path, command: str, module: str, extra: str
) -> None:
    _missing(monkeypatch, module)
    args = [command, "--model", str(tiny_model)] + (["--out", str(tmp_path / "x")] if command == "export" else [])
    _one_error_line(CliRunner().invoke(app, args), extra)


def test_exact_pins_live_in_constraints_not_in_the_package() -> None:
    project = PYPROJECT["project"]
    for requirement in [*project["dependencies"], *(r for rs in EXTRAS.values() for r in rs)]:
        assert "==" not in requirement, f"{requirement}: pin exact versions in constraints.txt"
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.lower()] = version
    wanted = {_package(r) for rs in EXTRAS.values() for r in rs if not r.startswith("charlm")}
    assert wanted <= set(pins), f"pin these in constraints.txt: {sorted(wanted - set(pins))}"
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_the_version_is_written_once() -> None:
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "charlm.__version__"}
    assert importlib.metadata.version("charlm") == charlm.__version__
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"charlm {charlm.__version__}\n"


def test_no_import_of_typer_private_modules() -> None:
    for path in [*(ROOT / "charlm").rglob("*.py"), *(ROOT / "docs").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            private = [n for n in names if n.startswith("typer.") and any(p.startswith("_") for p in n.split("."))]
            assert not private, f"{path.relative_to(ROOT)} imports {private}"
