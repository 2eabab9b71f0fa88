"""The docs say what the code does: docs/cli.md is what docs/gen_cli.py writes from the commands' --help
and its examples run; the generated tables (docs/gen_tables.py) match their sources; docs/api.md's
examples run and print what they show; the user docs carry no timestamps, issue talk or machine paths."""

from __future__ import annotations

import importlib.util
import re
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
@pytest.mark.trains
def test_every_example_in_cli_md_runs(cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("corpus.txt").write_text(TINY_TEXT, encoding="utf-8")
    Path("sentences.txt").write_text(SENTENCES, encoding="utf-8")
    runner = cli
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


# -- the other generated pages: tables written from the code and from bench/results ----------------


def _tables() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_tables", ROOT / "docs" / "gen_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tables_are_up_to_date() -> None:
    stale = [
        str(path.relative_to(ROOT)) for path, text in _tables().render().items() if path.read_text("utf-8") != text
    ]
    assert not stale, f"{stale}: a generated table differs from its source; run `make docs`"


def test_a_generated_block_replaces_only_itself() -> None:
    fill = _tables().fill
    text = "a\n<!-- begin generated: t (src; make docs) -->\nold\n<!-- end generated: t -->\nb\n"
    assert fill(text, "t", "src", "new\n") == text.replace("old", "new")
    with pytest.raises(SystemExit, match="expected one block 'u'"):
        fill(text, "u", "src", "x\n")


def test_the_file_table_is_what_a_run_writes(tiny_model: Path) -> None:
    """A default char run writes every file the table says it always writes, the plot and the n-gram."""
    from charlm import layout

    written = {p.name for p in tiny_model.iterdir()}
    assert written == layout.ALWAYS | {layout.PLOT, layout.NGRAM, layout.NGRAM_META}


@pytest.mark.trains
def test_the_conditional_files_are_written_when_the_table_says(corpus: Path, tmp_path: Path) -> None:
    from charlm import io, layout
    from charlm.training.loop import train
    from tests.conftest import tiny_config

    val = tmp_path / "val.txt"
    val.write_text(TINY_TEXT[:400], encoding="utf-8")
    options = dict(level="bpe", vocab_size=300, val=str(val), ngram_order=0, steps=4, eval_every=2)
    run = train(tiny_config(corpus, tmp_path, **options)).run_dir
    written = {p.name for p in run.iterdir()}
    assert written == layout.ALWAYS | {layout.PLOT, layout.TOKENIZER_MODEL, layout.VAL_IDS, layout.VAL_META}
    assert io.MODEL_MARKERS == layout.MODEL_MARKERS and io.is_model_dir(run)


def _user_docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_user_docs_carry_no_timestamps_no_issue_talk_and_no_machine_paths() -> None:
    found = []
    for path in _user_docs():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for pattern in (
                r"\bissues?\b",
                r"\b20\d\d-\d\d-\d\d\b",
                r"\b\d\d?:\d\d UTC\b",
                r"\bthis session\b",
                r"/work/",
            ):
                if re.search(pattern, line, re.I):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert not found, "\n".join(found)


def test_serve_help_names_every_endpoint(tiny_model: Path) -> None:
    pytest.importorskip("fastapi")
    import charlm
    from charlm.serve.app import create_app

    service = create_app(charlm.load(tiny_model, device="cpu"))
    while not hasattr(service, "routes"):  # the body-size guard wraps the FastAPI app
        service = service.app
    documentation = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    routes = {r.path for r in service.routes} - documentation
    assert {"/score", "/eval", "/predict", "/sample", "/info", "/health"} <= routes
    help_text = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200).output
    assert all(route in help_text for route in routes), sorted(r for r in routes if r not in help_text)


# -- docs/api.md: every python block runs, and the output it shows is the output it prints ---------


def python_blocks(markdown: str) -> list[tuple[str, str | None]]:
    """Each ```python block and the ```text block right after it (its printed output), if any."""
    blocks = re.findall(r"```(\w*)\n(.*?)```", markdown, re.S)
    found: list[tuple[str, str | None]] = []
    for n, (kind, body) in enumerate(blocks):
        if kind == "python":
            nxt = blocks[n + 1] if n + 1 < len(blocks) else ("", "")
            found.append((body, nxt[1] if nxt[0] == "text" else None))
    return found


@pytest.mark.trains
def test_every_example_in_api_md_runs_and_prints_what_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import charlm
    from charlm.training.config import TrainConfig
    from tests.conftest import TINY

    monkeypatch.chdir(tmp_path)
    Path("input.txt").write_text(TINY_TEXT, encoding="utf-8")
    Path("test.txt").write_text(SENTENCES * 20, encoding="utf-8")
    (tmp_path / "tests" / "fixtures").mkdir(parents=True)
    (tmp_path / "tests" / "fixtures" / "v0").symlink_to(ROOT / "tests" / "fixtures" / "v0")

    def tiny(**options: object) -> TrainConfig:  # the page's run, at the tests' size and a few steps
        return TrainConfig(**{**options, **TINY, "steps": min(int(str(options.get("steps", 20))), 20)})

    monkeypatch.setattr(charlm, "TrainConfig", tiny, raising=False)
    blocks = python_blocks((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 4 and sum(shown is not None for _, shown in blocks) >= 2
    namespace: dict[str, object] = {}
    for code, shown in blocks:
        capsys.readouterr()
        exec(compile(code, "docs/api.md", "exec"), namespace)
        printed = capsys.readouterr().out
        if shown is not None:
            assert printed == shown, f"docs/api.md shows\n{shown}but the block prints\n{printed}"
