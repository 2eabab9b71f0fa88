"""docs/cli.md is what docs/gen_cli.py writes from the commands' --help, and every example in it runs."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from charlm.cli.app import app
from tests.conftest import TINY_TEXT

ROOT = Path(__file__).resolve().parents[1]
CLI_MD = ROOT / "docs" / "cli.md"
SENTENCES = "the cat sat on the mat\nmat the on sat cat the\nthe king is dead\n"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli", ROOT / "docs" / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def examples(markdown: str, fences: tuple[str, ...] = ("```bash",)) -> list[str]:
    """Every ``charlm ...`` line inside a block opened by one of ``fences``, in document order.

    ```bash blocks hold the examples the test runs; ```sh blocks those shown but not run (gen_cli.NOT_RUN).
    """
    found, inside = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            inside = line.strip() in fences
        elif inside and line.startswith("charlm "):
            found.append(line)
    return found


def test_cli_md_is_up_to_date() -> None:
    fresh = _generator().render(app)
    assert CLI_MD.read_text(encoding="utf-8") == fresh, "docs/cli.md is stale: run `make docs`"


def test_every_command_is_documented_with_an_example() -> None:
    gen = _generator()
    text = CLI_MD.read_text(encoding="utf-8")
    lines = examples(text, ("```bash", "```sh"))
    for name in gen.commands(app):
        assert f"## charlm {name}\n" in text
        assert any(shlex.split(line, comments=True)[1] == name for line in lines), (
            f"no example of charlm {name} in docs/cli.md"
        )


@pytest.mark.slow
def test_every_example_in_cli_md_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("corpus.txt").write_text(TINY_TEXT, encoding="utf-8")
    Path("sentences.txt").write_text(SENTENCES, encoding="utf-8")
    runner = CliRunner()
    lines = examples(CLI_MD.read_text(encoding="utf-8"))
    assert len(lines) >= 10
    for line in lines:
        args = shlex.split(line, comments=True)[1:]
        result = runner.invoke(app, args)
        hint = "examples must run where docs/cli.md says; give new commands theirs in EXAMPLES in docs/gen_cli.py"
        assert result.exit_code == 0 and result.exception is None, (
            f"{line}\n{result.output}\n{result.exception!r}\n{hint}"
        )
        assert result.stdout.strip() or "--out" in args, f"{line}: printed nothing and wrote no --out"
