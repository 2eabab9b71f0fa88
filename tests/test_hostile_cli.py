"""The hostile-input suite (issue 16), run through the real ``charlm`` executable.

Two parts:

* every numbered case of issue 16 (A1-A7b, B8-B15, C16-C19, D20-D25, E26-E32), each asserting
  the exit code, exactly one ``charlm: error:`` line, no traceback, and that the model directories
  it was given are byte-identical afterwards;
* a generated grid: every option of every command in ``charlm.cli.app.COMMANDS``, read from the
  Typer app, gets each bad value its declared type lists (``charlm.cli.values.Value.bad``); a new
  option is covered as soon as it is declared, and an option declared without a validating type
  fails :func:`test_every_option_declares_a_validating_type`.

Subprocesses run in a thread pool; tiny models are trained once, in-process, for the module.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import typer

from charlm.cli.app import COMMANDS, app
from charlm.cli.values import Value
from tests.conftest import TINY_TEXT
from tests.hostile import CHARLM, ENV, Ran, assert_ok, assert_refused, charlm, digest
from tests.hostile import train_tiny as _train

pytestmark = pytest.mark.slow
WORKERS = 4
T = ["--hidden", "8", "--embed", "4", "--layers", "1", "--seq-len", "8", "--batch-size", "2", "--device", "cpu"]
T += ["--precision", "fp32", "--eval-every", "1"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with tiny char and word models and the hostile files the cases read."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "small.txt").write_text(TINY_TEXT, encoding="utf-8")
    _train(root, "base")
    _train(root, "word", "word")
    (root / "one.txt").write_text("a", encoding="utf-8")
    (root / "nul_late.txt").write_bytes(TINY_TEXT.encode() * 220 + b"\x00" + b"tail\n")  # NUL after 1 MiB
    (root / "nul_early.txt").write_bytes(b"the cat\x00 sat\n")
    (root / "latin1.txt").write_bytes("the caf\xe9 sat\n".encode("latin-1"))
    (root / "invalid.txt").write_bytes(b"the cat \xff sat\n")
    (root / "utf16.txt").write_bytes((TINY_TEXT * 7).encode("utf-16"))  # > 64 KB
    (root / "unk_words.txt").write_text("zzz qqq", encoding="utf-8")  # every token <unk>, no <eos>
    (root / "big.txt").write_text(TINY_TEXT * 400, encoding="utf-8")
    (root / "prompts.txt").write_text("the\n\u2603\nthe\n", encoding="utf-8")
    (root / "nbest.txt").write_text("0\tthe cat\t-1.0\n0\tthe cta\t-2.0\n", encoding="utf-8")
    os.symlink("../base", root / "checkpoints" / "latest-copy")
    return root


def _models(world: Path) -> dict[str, dict[str, str]]:
    return {name: digest(world / name) for name in ("base", "word")}


def _copy(world: Path, name: str, src: str = "base") -> Path:
    dst = world / name
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(world / src, dst)
    return dst


def _edit_config(directory: Path, /, **changes: Any) -> None:
    config = json.loads((directory / "config.json").read_text())
    config.update(changes)
    (directory / "config.json").write_text(json.dumps(config))


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"not JSON: {name}")

    return [json.loads(line, parse_constant=refuse) for line in text.splitlines() if line.strip()]


# -- the issue's cases, as one table: (case, args, exit code, words the message must hold) ----------
REFUSED: list[tuple[str, list[str], int, tuple[str, ...]]] = [
    ("A1 tokenize --save onto a model", ["tokenize", "small.txt", "--level", "word", "--save", "base"], 1, ("base",)),
    ("A3 --force --arch foo", ["train", "small.txt", "--out", "base", "--force", "--arch", "foo", *T], 2, ()),
    ("A3 --force --attention -1", ["train", "small.txt", "--out", "base", "--force", "--attention", "-1"], 2, ()),
    ("A3 --force --wdrop 1", ["train", "small.txt", "--out", "base", "--force", "--wdrop", "1"], 2, ("--wdrop",)),
    ("A3 --force --clock-modules 0", ["train", "small.txt", "--out", "base", "--force", "--clock-modules", "0"], 2, ()),
    ("A3 --force missing --val", ["train", "small.txt", "--out", "base", "--force", "--val", "nope.txt"], 2, ()),
    (
        "A3 --force --wdrop with gru",
        ["train", "small.txt", "--out", "base", "--force", "--arch", "gru", "--wdrop", "0.5"],
        2,
        ("--wdrop",),
    ),
    (
        "A3 --force val too short",
        ["train", "small.txt", "--out", "base", "--force", "--val", "one.txt", *T],
        1,
        ("one.txt",),
    ),
    ("A3 --force 1-char corpus", ["train", "one.txt", "--out", "base", "--force", *T], 1, ("1 in all",)),
    ("A4 plot onto metrics.jsonl", ["plot", "base", "--out", "base/metrics.jsonl"], 2, (".png",)),
    ("A4 plot onto the model's loss.png", ["plot", "base", "--out", "base/loss.png"], 1, ("model directory",)),
    ("B9 train --encoding hex", ["train", "small.txt", "--encoding", "hex"], 2, ("text encoding",)),
    ("B9 eval --encoding rot13", ["eval", "small.txt", "--model", "base", "--encoding", "rot13"], 2, ()),
    ("B11 score lone surrogate", ["score", "ab\udcffc", "--model", "base"], 2, ("UTF-8",)),
    ("B11 sample --prime lone surrogate", ["sample", "--model", "base", "--prime", "ab\udcffc"], 2, ("UTF-8",)),
    (
        "B11 eval --errors surrogateescape",
        ["eval", "small.txt", "--model", "base", "--errors", "surrogateescape"],
        2,
        (),
    ),
    (
        "B11 tokenize surrogateescape --save",
        ["tokenize", "small.txt", "--errors", "surrogateescape", "--save", "tk"],
        2,
        (),
    ),
    ("B12 --lr nan", ["train", "small.txt", "--out", "lrnan", "--lr", "nan"], 2, ("finite",)),
    ("B12 --weight-decay nan", ["train", "small.txt", "--out", "wdnan", "--weight-decay", "nan"], 2, ("finite",)),
    ("B12 train --seed huge", ["train", "small.txt", "--seed", "99999999999999999999999"], 2, ()),
    ("B12 sample --seed huge", ["sample", "--model", "base", "--seed", "99999999999999999999999"], 2, ()),
    ("B12 gradflow --seed huge", ["gradflow", "--seed", "99999999999999999999999"], 2, ()),
    ("B12 --save-every superscript", ["train", "small.txt", "--save-every", "\u00b2"], 2, ()),
    ("B12 sample --length huge", ["sample", "--model", "base", "--length", "99999999999999999999"], 2, ()),
    ("B12 sample --temp 1e-40", ["sample", "--model", "base", "--temp", "1e-40"], 2, ("greedy",)),
    ("B12 eval --cache huge", ["eval", "small.txt", "--model", "base", "--cache", "1000000000000000"], 2, ()),
    ("B12 --embed huge", ["train", "small.txt", "--embed", "1000000000000"], 2, ()),
    (
        "B13 gradflow --text 2 chars",
        ["gradflow", "--arch", "rnn", "--text", "two.txt", "--length", "5"],
        1,
        ("--length",),
    ),
    ("B13 gradflow --plot g.txt", ["gradflow", "--plot", "g.txt"], 2, (".png",)),
    ("B13 gradflow --plot DIR", ["gradflow", "--plot", "base"], 2, ("directory",)),
    ("B14 neighbors empty word", ["neighbors", "", "--model", "word"], 2, ("empty",)),
    ("C16 --epochs nan", ["train", "small.txt", "--epochs", "nan"], 2, ("finite",)),
    ("C16 --clip nan", ["train", "small.txt", "--clip", "nan"], 2, ("finite",)),
    ("C16 --threads -1", ["train", "small.txt", "--threads", "-1"], 2, ()),
    ("C17 neighbors <eos>", ["neighbors", "<eos>", "--model", "word"], 1, ("special",)),
    ("C18 --val too short", ["train", "small.txt", "--out", "shortval", "--val", "one.txt", *T], 1, ("at least 2",)),
    (
        "C19 score --file --unk error",
        ["score", "--file", "small.txt", "--model", "base", "--unk", "error"],
        2,
        ("--unk",),
    ),
    (
        "C19 score --file --batch-size 0",
        ["score", "--file", "small.txt", "--model", "base", "--batch-size", "0"],
        2,
        (),
    ),
    ("D20 train NUL after 1 MiB", ["train", "nul_late.txt", "--out", "nul", *T], 1, ("NUL",)),
    ("D20 eval NUL after 1 MiB", ["eval", "nul_late.txt", "--model", "base"], 1, ("NUL",)),
    ("D20 tokenize NUL after 1 MiB", ["tokenize", "nul_late.txt"], 1, ("NUL",)),
    (
        "D20 eval NUL with --encoding utf_8",
        ["eval", "nul_early.txt", "--model", "base", "--encoding", "utf_8"],
        1,
        ("NUL",),
    ),
    ("D20 tokenize NUL latin-1", ["tokenize", "nul_early.txt", "--encoding", "latin-1"], 1, ("NUL",)),
    ("D21 tokenize --errors bogus", ["tokenize", "small.txt", "--errors", "bogus"], 2, ()),
    ("D21 train --errors surrogateescape", ["train", "small.txt", "--errors", "surrogateescape"], 2, ()),
    ("D22 tokenize --max-vocab 2", ["tokenize", "small.txt", "--max-vocab", "2"], 2, ()),
    ("D22 train --max-vocab 0", ["train", "small.txt", "--max-vocab", "0"], 2, ()),
    ("D22 tokenize --min-count 0", ["tokenize", "small.txt", "--min-count", "0"], 2, ()),
    ("D22 train --min-count 0", ["train", "small.txt", "--min-count", "0"], 2, ()),
    ("D24 score --lines invalid UTF-8", ["score", "--lines", "invalid.txt", "--model", "base"], 1, ("utf-8",)),
    (
        "D25 score --unk skip empties",
        ["score", "--unk", "skip", "\u65e5\u672c\u8a9e", "--model", "base"],
        1,
        ("empty",),
    ),
    ("E26 bpe vocabulary too small", ["tokenize", "small.txt", "--level", "bpe", "--vocab-size", "10"], 1, ("raise",)),
    ("E29 --init-from a file", ["train", "small.txt", "--init-from", "small.txt"], 2, ("--init-from",)),
    ("E32 --time 5q", ["train", "small.txt", "--time", "5q"], 2, ("--time",)),
    ("E32 --level foo", ["train", "small.txt", "--level", "foo"], 2, ("--level",)),
    ("E32 --top-p 1.5", ["sample", "--model", "base", "--top-p", "1.5"], 2, ("--top-p",)),
    ("E32 --num 0", ["sample", "--model", "base", "--num", "0"], 2, ("--num",)),
    ("E32 unknown option", ["sample", "--bogus"], 2, ("--bogus",)),
    ("E32 conflicting options", ["sample", "--model", "base", "--beam", "2", "--top-k", "3"], 2, ("--beam",)),
]


def test_issue_cases_are_refused_cleanly(world: Path) -> None:
    """Every refusal of the table: the code, one line, the words, and no model directory touched."""
    (world / "two.txt").write_text("ab", encoding="utf-8")
    before = _models(world)
    # Runs that train into the same --out take its lock, so a second one at the same moment is
    # (rightly) refused as "being written by another run": those go one after another.
    writers = [case for case in REFUSED if case[1][0] == "train" and "--out" in case[1]]
    others = [case for case in REFUSED if case not in writers]
    with ThreadPoolExecutor(WORKERS) as pool:
        serial = pool.submit(lambda: [charlm(*case[1], cwd=world) for case in writers])
        runs = list(pool.map(lambda case: charlm(*case[1], cwd=world), others))
        runs = serial.result() + runs
    failures = []
    for (name, _, code, words), ran in zip(writers + others, runs, strict=True):
        try:
            assert_refused(ran, code, *words)
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert _models(world) == before
    for name in ("lrnan", "wdnan", "tk", "shortval", "nul"):
        assert not (world / name).exists(), f"{name} was created by a refused command"
    assert not list(world.glob(".*.new-*")) and not list(world.glob(".*.lock")), "staging or lock left behind"


def test_a2_resume_without_trainer_state_refuses(world: Path) -> None:
    run = _copy(world, "nostate")
    (run / "trainer_state.pt").unlink()
    before = digest(run)
    assert_refused(charlm("train", "--resume", "nostate", "--steps", "7", cwd=world), 1, "nothing to resume")
    assert digest(run) == before


def test_a5_second_run_into_a_locked_directory_gets_one_line(world: Path) -> None:
    lock = world / ".locked.lock"
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("4242\n")
        fh.flush()
        ran = charlm("train", "small.txt", "--out", "locked", *T, "--steps", "1", cwd=world)
    assert_refused(ran, 1, "another charlm run", "4242")
    assert not (world / "locked").exists()


def _assert_stopped(ran: Ran, words: str) -> None:
    """Exit 130 and one ``charlm: error:`` line, the last; before it only the run's progress (its start line, the bar)."""
    lines = ran.err.splitlines()
    assert ran.code == 130 and "Traceback" not in ran.err, str(ran)
    assert lines and lines[-1].startswith("charlm: error: ") and words in lines[-1], str(ran)
    assert sum(line.startswith("charlm:") for line in lines) == 1, str(ran)
    assert all(line.startswith(("run ", "train ")) or not line.strip() for line in lines[:-1]), str(ran)


def test_a6_sigterm_at_start_up_leaves_nothing_and_says_how_to_rerun(world: Path) -> None:
    """SIGTERM while the run is staged: exit 130, the rerun command, nothing left behind.

    On a loaded machine the signal may land after the first checkpoint instead; then the run has a
    checkpoint and the message gives the resume command. Either way: 130, one line, no staging left.
    """
    proc = subprocess.Popen(
        [str(CHARLM), "train", "big.txt", "--out", "sig", *T, "--steps", "100000", "--eval-every", "100000"],
        cwd=world,
        env=ENV,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list(world.glob(".sig.new-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    ran = Ran(("train", "big.txt"), proc.returncode, out.decode(), err.decode())
    if "rerun" in ran.err:
        _assert_stopped(ran, "rerun charlm train big.txt")
        assert not (world / "sig").exists(), "start-up left files"
    else:  # the signal came after the first checkpoint
        _assert_stopped(ran, "resume with: charlm train --resume")
        assert (world / "sig" / "trainer_state.pt").exists()
    assert not list(world.glob(".sig.*")), "staging or lock left behind"


def test_a6_a_directory_without_a_checkpoint_is_not_a_model(world: Path) -> None:
    stub = world / "stub"
    stub.mkdir()
    (stub / "config.json").write_text("{}")
    (stub / "corpus.ids").write_bytes(b"\x00\x01")
    assert_ok(charlm("train", "small.txt", "--out", "stub", *T, "--steps", "1", cwd=world))
    assert (stub / "trainer_state.pt").exists()


def test_a6_a_directory_with_other_files_is_never_replaced(world: Path) -> None:
    mine = world / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    ran = charlm("train", "small.txt", "--out", "mine", "--force", *T, "--steps", "1", cwd=world)
    assert_refused(ran, 1, "notes.txt")
    assert (mine / "notes.txt").read_text() == "precious"


def test_a7_checkpoints_latest_as_a_real_directory_is_refused_before_training(world: Path, tmp_path: Path) -> None:
    shutil.copy(world / "small.txt", tmp_path / "small.txt")
    (tmp_path / "checkpoints" / "latest").mkdir(parents=True)
    ran = charlm("train", "small.txt", "--out", "run1", *T, "--steps", "1", cwd=tmp_path)
    assert_refused(ran, 1, "checkpoints/latest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "small.txt"]
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["latest"]


def test_a7b_force_replaces_the_directory_as_a_whole(world: Path) -> None:
    common = ["small.txt", "--out", "swap", *T, "--steps", "1"]
    assert_ok(charlm("train", *common, "--level", "bpe", "--vocab-size", "300", "--val", "small.txt", cwd=world))
    assert (world / "swap" / "tokenizer.model").exists() and (world / "swap" / "val.ids").exists()
    assert_refused(charlm("train", *common, cwd=world), 1, "--force")
    assert_ok(charlm("train", *common, "--force", cwd=world))
    left = {p.name for p in (world / "swap").iterdir()}
    assert not left & {"tokenizer.model", "val.ids", "val.json"}, left
    assert json.loads((world / "swap" / "config.json").read_text())["tokenizer"]["kind"] == "char"


@pytest.mark.parametrize(
    "model",
    [[1, 2], {"vocab_size": 53, "hidden": -5}, {"vocab_size": 53, "hidden": "16"}],
    ids=["list", "negative", "string"],
)
def test_b8_malformed_model_section_is_one_line_everywhere(world: Path, model: Any) -> None:
    bad = _copy(world, "badcfg")
    _edit_config(bad, model=model)
    before = digest(bad)
    commands = [["info", "--model", "badcfg"]]
    if model == [1, 2]:  # every loader, once
        commands += [
            ["score", "ab", "--model", "badcfg"],
            ["sample", "--model", "badcfg", "--length", "3"],
            ["eval", "small.txt", "--model", "badcfg"],
            ["neighbors", "the", "--model", "badcfg"],
            ["gradflow", "--model", "badcfg", "--length", "5", "--plot", "g.png"],
            ["train", "small.txt", "--init-from", "badcfg", "--out", "ft", *T, "--steps", "1"],
        ]
    with ThreadPoolExecutor(WORKERS) as pool:
        runs = list(pool.map(lambda args: charlm(*args, cwd=world), commands))
    for ran in runs:
        assert_refused(ran, 1, "invalid model section")
    assert digest(bad) == before and not (world / "ft").exists()


def test_b10_utf16_over_64kb_evaluates(world: Path) -> None:
    for extra in ([], ["--errors", "replace"]):
        ran = charlm("eval", "utf16.txt", "--model", "base", "--encoding", "utf-16", "--json", *extra, cwd=world)
        assert_ok(ran)
        assert _strict_json(ran.out)[0]["tokens"] > 0


def test_b15_plot_skips_a_metrics_line_without_step(world: Path) -> None:
    run = world / "nostep"
    run.mkdir(exist_ok=True)
    lines = [{"event": "step", "train_loss": 3.0}, {"event": "step", "step": 1, "train_loss": 2.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert_ok(charlm("plot", "nostep", "--out", "nostep.png", cwd=world))
    assert (world / "nostep.png").stat().st_size > 0


def test_c17_json_is_strict(world: Path) -> None:
    before = _models(world)
    unk = charlm("eval", "unk_words.txt", "--model", "word", "--json", cwd=world)
    assert_ok(unk)
    result = _strict_json(unk.out)[0]
    assert result["ppl_no_oov"] is None and "ppl_no_oov" in result["null_reasons"]
    analogy = charlm("neighbors", "--analogy", "the", "cat", "dog", "--model", "word", "--json", "-k", "50", cwd=world)
    assert_ok(analogy)
    assert all(isinstance(n["similarity"], float) for n in _strict_json(analogy.out)[0])
    assert _models(world) == before


def test_d23_pipes_are_read_once(world: Path) -> None:
    text = TINY_TEXT.encode()
    assert_ok(charlm("tokenize", "/dev/stdin", stdin=text, cwd=world))
    assert_ok(charlm("eval", "/dev/stdin", "--model", "base", stdin=text, cwd=world))
    assert_ok(charlm("score", "--file", "/dev/stdin", "--model", "base", stdin=text, cwd=world))
    assert_ok(charlm("train", "/dev/stdin", "--out", "piped", *T, "--steps", "1", stdin=text, cwd=world))


def test_d24_stdin_gets_the_same_verdict_as_a_file(world: Path) -> None:
    ran = charlm("score", "--model", "base", stdin=b"the cat \xff sat\n", cwd=world)
    assert_refused(ran, 1, "not valid utf-8")
    assert_refused(charlm("score", "--model", "base", stdin=b"the\x00cat\n", cwd=world), 1, "NUL")


def test_e27_advice_names_only_options_the_command_has(world: Path) -> None:
    commands = [
        ["score", "--lines", "latin1.txt", "--model", "base"],
        ["score", "--file", "latin1.txt", "--model", "base"],
        ["sample", "--model", "base", "--prime-file", "latin1.txt"],
    ]
    with ThreadPoolExecutor(WORKERS) as pool:
        runs = list(pool.map(lambda args: charlm(*args, cwd=world), commands))
    for ran in runs[:2]:  # score has --encoding (since the component merge): its advice may name it
        assert_refused(ran, 1, "utf-8", "--encoding")
    assert "--encoding" not in assert_refused(runs[2], 1, "UTF-8"), str(runs[2])  # sample has none


def test_e28_string_format_version(world: Path) -> None:
    bad = _copy(world, "strver")
    _edit_config(bad, format_version="1")
    message = assert_refused(charlm("info", "--model", "strver", cwd=world), 1, "format version")
    assert "newer" not in message


def test_e31_interactive_bad_line_is_refused_alone(world: Path) -> None:
    ran = charlm(
        "sample", "-i", "--model", "base", "--unk", "error", "--length", "3", "--seed", "1",
        stdin=(world / "prompts.txt").read_bytes(), cwd=world,
    )  # fmt: skip
    assert ran.code == 0 and "Traceback" not in ran.err, str(ran)
    assert ran.err.count("charlm: error:") == 1 and ran.out.count("the") >= 2, str(ran)


# -- the generated grid ---------------------------------------------------------------------------
BASE_ARGS = {
    "train": ["small.txt", "--out", "gridrun", *T, "--steps", "1"],
    "plot": ["base", "--out", "grid.png"],
    "tokenize": ["small.txt"],
    "info": ["--model", "base"],
    "sample": ["--model", "base", "--length", "3"],
    "score": ["abc", "--model", "base"],
    "eval": ["small.txt", "--model", "base"],
    "gradflow": ["--arch", "rnn", "--length", "5", "--batch", "2", "--hidden", "4", "--plot", "grid.png"],
    "neighbors": ["the", "--model", "word"],
    "predict": ["the", "--model", "base"],
    "rescore": ["nbest.txt", "--model", "base"],
    "serve": ["--model", "base", "--port", "0"],
    "export": ["--out", "gridrun", "--model", "base"],
    "ngram build": ["--model", "base"],
    "recipes": [],
    "ngram export": ["--arpa", "grid.arpa", "--model", "base"],
}


def _leaves() -> list[str]:
    """Every command line's command: ``train`` ... and each command of a group (``ngram build``)."""
    names = []
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        names += [f"{name} {leaf}" for leaf in sub] if sub else [name]
    return names


def _params(name: str) -> list[Any]:
    command: Any = typer.main.get_command(app)
    for part in name.split():
        command = command.commands[part]
    return list(command.params)


def _parser(param: Any) -> Any:
    return param.type_descriptor.parameter_info.parser


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False))


def grid(name: str) -> list[list[str]]:
    """Command lines giving each option of ``name`` each bad value its type declares."""
    cases = []
    for param in _params(name):
        if _is_flag(param) or not isinstance(_parser(param), Value):
            continue
        for bad in _parser(param).bad:
            base, words = list(BASE_ARGS[name]), name.split()
            if not param.opts[0].startswith("-"):  # the positional argument
                cases.append([*words, bad, *base[1:]])
            elif param.nargs > 1:  # --analogy A B C
                cases.append([*words, *base[1:], param.opts[0], bad, *["x"] * (param.nargs - 1)])
            else:
                cases.append([*words, *base, param.opts[0], bad])
    return cases


def test_every_option_declares_a_validating_type() -> None:
    """No option escapes the grid: each non-flag parameter of each command has a Value parser."""
    missing = [
        f"{name} {param.name}"
        for name in _leaves()
        for param in _params(name)
        if not _is_flag(param) and not isinstance(_parser(param), Value)
    ]
    assert not missing, f"declare these with a charlm.cli.values type: {missing}"
    assert set(BASE_ARGS) == set(_leaves()) and set(COMMANDS) <= {name.split()[0] for name in BASE_ARGS}


@pytest.mark.parametrize("name", _leaves())
def test_generated_grid_of_bad_values(world: Path, name: str) -> None:
    cases = grid(name)
    assert cases
    before = _models(world)
    with ThreadPoolExecutor(WORKERS) as pool:
        runs = list(pool.map(lambda args: charlm(*args, cwd=world, timeout=120), cases))
    failures = []
    for ran in runs:
        try:
            assert_refused(ran, 2)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, f"{len(failures)} of {len(runs)} cases:\n\n" + "\n\n".join(failures[:10])
    assert _models(world) == before
    assert not (world / "gridrun").exists() and not (world / "grid.png").exists() and not (world / "grid.arpa").exists()
