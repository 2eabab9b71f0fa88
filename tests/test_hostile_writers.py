"""Nothing destroyed (issue 22), through the real ``charlm`` executable.

* B1-B7: the issue's cases, each asserting the exit code, one ``charlm: error:`` line, and every model
  directory byte-identical afterwards;
* the writers' grid: every writing command (``WRITING``) x every kind of target (``TARGETS``: a model
  directory, a file inside one, the command's own input, a directory of foreign files, a symlink
  into a model, a read-only directory) is refused in one line before anything is written;
* kill -9 at random moments of each writer (``KILLED``): the target holds the old output or the new one;
* the readers' grid: every file-reading option of every command (read from the Typer app) x a FIFO,
  an empty, a huge (sparse, 1 TiB), a truncated and a malformed file: exit 0 or one line, never a
  traceback or a hang, the models untouched (a device: the generated grid of test_hostile_cli.py).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from charlm.cli.paths import InputFile
from tests.conftest import TINY_TEXT
from tests.hostile import CHARLM, ENV, assert_ok, assert_refused, charlm, digest, train_tiny
from tests.test_hostile_cli import BASE_ARGS, _leaves, _params, _parser

pytestmark = pytest.mark.slow
WORKERS = 4
T = ["--hidden", "8", "--embed", "4", "--layers", "1", "--seq-len", "8", "--batch-size", "2", "--device", "cpu"]
T += ["--precision", "fp32", "--ngram-order", "0"]
MODELS = ("base", "word")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("writers")
    (root / "small.txt").write_text(TINY_TEXT, encoding="utf-8")
    train_tiny(root, "base")
    train_tiny(root, "word", "word")
    (root / "mine").mkdir()
    (root / "mine" / "notes.txt").write_text("precious")
    (root / "mine" / "photo.png").write_text("not a picture")
    os.symlink("word", root / "tolink")
    assert_ok(charlm("ngram", "export", "--model", "base", "--arpa", "good.arpa", cwd=root))
    return root


def _models(world: Path) -> dict[str, dict[str, str]]:
    return {name: digest(world / name) for name in MODELS}


def _leftovers(world: Path) -> list[str]:
    return sorted(
        str(p.relative_to(world)) for p in world.rglob(".*") if p.name.endswith((".lock", ".tmp")) or ".new-" in p.name
    )


# -- B1-B7 ----------------------------------------------------------------------------------------------


def test_b1_b2_b3_export_never_writes_over_a_model_user_files_or_its_source(world: Path) -> None:
    userproj = world / "userproj"
    userproj.mkdir()
    (userproj / "config.json").write_text('{"my":"settings"}')
    before, mine = _models(world), digest(userproj)
    assert_refused(charlm("export", "--model", "base", "--out", "word", cwd=world), 1, "model directory")
    assert_refused(charlm("export", "--model", "base", "--out", "userproj", cwd=world), 1, "userproj")
    assert_refused(charlm("export", "--model", "base", "--out", "base", cwd=world), 1, "model directory")
    assert_refused(charlm("export", "--model", "base", "--out", "userproj", "--force", cwd=world), 1, "userproj")
    assert _models(world) == before and digest(userproj) == mine
    assert not _leftovers(world)


def test_b4_a_new_export_replaces_an_earlier_one_as_a_whole(world: Path) -> None:
    kx = world / "kx"
    assert_ok(charlm("export", "--model", "word", "--out", "kx", cwd=world))
    (kx / "tokenizer.model").write_bytes(b"left by an earlier subword export")  # a file the new one does not write
    assert_refused(charlm("export", "--model", "base", "--out", "kx", cwd=world), 1, "--force")
    assert_ok(charlm("export", "--model", "base", "--out", "kx", "--force", cwd=world))
    names = sorted(p.name for p in kx.iterdir())
    assert names == ["config.json", "model.json", "step.onnx", "tokenizer.json", "window.onnx"], names
    assert (kx / "tokenizer.json").read_bytes() == (world / "base" / "tokenizer.json").read_bytes()
    assert not _leftovers(world)


@pytest.mark.parametrize("target", ["copy/model.safetensors", "word/config.json", "copy/ngram.npz"])
def test_b5_b6_ngram_export_never_writes_over_a_model_file(world: Path, target: str) -> None:
    copy = world / "copy"
    if not copy.exists():
        shutil.copytree(world / "base", copy)
    before, copied = _models(world), digest(copy)
    model = "copy" if target.startswith("copy") else "base"
    assert_refused(charlm("ngram", "export", "--arpa", target, "--model", model, cwd=world), 1)
    assert _models(world) == before and digest(copy) == copied


def test_b7_a_device_is_refused_at_once_never_copied(world: Path) -> None:
    started = time.monotonic()
    ran = charlm("score", "the king", "-m", "base", "--ngram", "/dev/zero", "--ngram-weight", "0.5", cwd=world)
    assert_refused(ran, 2, "/dev/zero", "device")
    assert time.monotonic() - started < 60


# -- the writers' grid ------------------------------------------------------------------------------------

# writer -> (its command line for a target, what it writes: "dir" or a file suffix)
WRITING: dict[str, tuple[Callable[[str], list[str]], str]] = {
    "export": (lambda t: ["export", "--model", "base", "--out", t], "dir"),
    "tokenize --save": (lambda t: ["tokenize", "small.txt", "--save", t], "dir"),
    "train": (lambda t: ["train", "small.txt", "--out", t, *T, "--steps", "1"], "dir"),
    "ngram export": (lambda t: ["ngram", "export", "--model", "base", "--arpa", t], ".arpa"),
    "plot": (lambda t: ["plot", "base", "--out", t], ".png"),
    "gradflow --plot": (
        lambda t: ["gradflow", "--model", "base", "--length", "5", "--batch", "2", "--plot", t],
        ".png",
    ),
}
# kind of target -> its path for a directory writer, for a file writer of a suffix (the source is base)
TARGETS: dict[str, Callable[[str], str]] = {
    "model directory": lambda kind: "word",
    "file inside a model": lambda kind: "word/config.json" if kind in ("dir", ".arpa") else "word/loss.png",
    "new path inside a model": lambda kind: "word/sub" if kind == "dir" else f"word/new{kind}",
    "the source itself": lambda kind: "small.txt" if kind == "dir" else f"base/loss{kind}",
    "foreign directory": lambda kind: (
        "mine" if kind == "dir" else ("mine/notes.txt" if kind == ".arpa" else "mine/photo.png")
    ),
    "symlink into a model": lambda kind: "tolink" if kind == "dir" else f"tolink/x{kind}",
}


def _grid_cases() -> list[tuple[str, str]]:
    return [(writer, target) for writer in WRITING for target in TARGETS]


def _expected_code(world: Path, path: str, kind: str) -> int:
    """2 when the command line alone is wrong (a directory named for a file or a file for a directory), else 1."""
    real = (world / path).resolve()
    shape_mismatch = (kind == "dir" and real.is_file()) or (kind != "dir" and real.is_dir())
    return 2 if shape_mismatch else 1


def test_every_writer_refuses_every_bad_target_before_writing(world: Path) -> None:
    cases = _grid_cases()
    before = {**_models(world), "mine": digest(world / "mine")}
    lines = [WRITING[w][0](TARGETS[t](WRITING[w][1])) for w, t in cases]
    lines.append(WRITING["export"][0]("base"))  # export's own model as its --out
    with ThreadPoolExecutor(WORKERS) as pool:
        runs = list(pool.map(lambda args: charlm(*args, cwd=world, timeout=240), lines))
    failures = []
    for (writer, target), ran in zip([*cases, ("export", "its own --model")], runs, strict=True):
        kind = WRITING[writer][1]
        path = TARGETS[target](kind) if target in TARGETS else "base"
        try:
            assert_refused(ran, _expected_code(world, path, kind))
        except AssertionError as exc:
            failures.append(f"{writer} x {target}: {exc}")
    assert not failures, f"{len(failures)} of {len(runs)}:\n\n" + "\n\n".join(failures)
    assert {**_models(world), "mine": digest(world / "mine")} == before
    assert not (world / "word" / "sub").exists() and not _leftovers(world)


@pytest.mark.parametrize("writer", WRITING)
def test_every_writer_refuses_a_read_only_directory(world: Path, read_only_dir: Path, writer: str) -> None:
    command, kind = WRITING[writer]
    target = str(read_only_dir / ("out" if kind == "dir" else f"out{kind}"))
    assert_refused(charlm(*command(target), cwd=world), 1, "cannot write")
    assert [p.name for p in read_only_dir.iterdir()] == ["kept"]


# -- kill -9 at random moments ----------------------------------------------------------------------------

BPE = ["--level", "bpe", "--vocab-size", "300"]
GRADFLOW = ["--length", "20", "--batch", "2", "--hidden", "4"]
# writer -> (a command line writing the target, one writing an earlier output of another model or kind, the target)
KILLED: dict[str, tuple[list[str], list[str], str]] = {
    "export": (["export", "-m", "base", "--out", "k", "--force"], ["export", "-m", "word", "--out", "k", "--force"], "k"),
    "tokenize --save": (["tokenize", "small.txt", *BPE, "--save", "k", "--force"], ["tokenize", "small.txt", "--save", "k", "--force"], "k"),
    "ngram export": (["ngram", "export", "-m", "base", "--arpa", "k.arpa"], ["ngram", "export", "-m", "word", "--arpa", "k.arpa"], "k.arpa"),
    "plot": (["plot", "base", "word", "--out", "k.png"], ["plot", "word", "--out", "k.png"], "k.png"),
    "gradflow --plot": (["gradflow", "-a", "rnn", *GRADFLOW, "--plot", "k.png"], ["gradflow", "-a", "gru", *GRADFLOW, "--plot", "k.png"], "k.png"),
    "train": (["train", "small.txt", "--out", "k", *T, "--steps", "3", "--force"], ["train", "small.txt", "--out", "k", *T, "--steps", "3", "--level", "word", "--force"], "k"),
}  # fmt: skip
MOMENTS = 3


def _snapshot(path: Path) -> Any:
    if path.is_dir() and (path / "trainer_state.pt").exists():  # a run's files carry times: its kind and completeness
        config = json.loads((path / "config.json").read_text())
        tokenizer = json.loads((path / "tokenizer.json").read_text())
        return ("run", config["tokenizer"]["kind"], tokenizer["kind"])  # a new run is whole from its first checkpoint
    return digest(path) if path.is_dir() else path.read_bytes() if path.exists() else None


def _run_killed(args: list[str], cwd: Path, delay: float) -> int:
    proc = subprocess.Popen([str(CHARLM), *args], cwd=cwd, env=ENV, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    return proc.returncode


@pytest.mark.parametrize("writer", KILLED)
def test_kill_9_at_random_moments_leaves_the_old_output_or_the_new_one(
    tmp_path: Path, world: Path, writer: str
) -> None:
    args, old_args, target = KILLED[writer]
    for name in ("small.txt", "base", "word"):
        (tmp_path / name).symlink_to(world / name)
    started = time.monotonic()
    assert_ok(charlm(*args, cwd=tmp_path))
    duration = time.monotonic() - started
    new = _snapshot(tmp_path / target)
    rng = random.Random(writer)
    outcomes = []
    for _ in range(MOMENTS):
        assert_ok(charlm(*old_args, cwd=tmp_path))
        old = _snapshot(tmp_path / target)
        assert old != new
        code = _run_killed(args, tmp_path, rng.uniform(0.05, duration))
        now = _snapshot(tmp_path / target)
        assert now in (old, new), f"{writer}: a kill -9 left neither the old output nor the new one: {now}"
        outcomes.append(("killed " if code == -signal.SIGKILL else "finished ") + ("old" if now == old else "new"))
    assert_ok(charlm(*args, cwd=tmp_path))  # the next run clears what the killed ones left behind
    assert _snapshot(tmp_path / target) == new
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], outcomes


def test_kill_9_during_ngram_build_leaves_a_whole_ngram_or_none(tmp_path: Path, world: Path) -> None:
    from charlm.ngram.model import NgramModel

    model = tmp_path / "m"
    shutil.copytree(world / "base", model)
    rng = random.Random("ngram build")
    for _ in range(MOMENTS):
        _run_killed(["ngram", "build", "--model", "m", "--order", "4"], tmp_path, rng.uniform(0.2, 4.0))
        if (model / "ngram.json").exists():
            meta = json.loads((model / "ngram.json").read_text())
            assert [int(k.size) for k in NgramModel.load(model / "ngram.npz").keys] == meta["types"]
    assert_ok(charlm("ngram", "build", "--model", "m", "--order", "4", cwd=tmp_path))
    assert_ok(charlm("score", "the cat", "--model", "m", cwd=tmp_path))


# -- the readers' grid ------------------------------------------------------------------------------------


def _file_options() -> list[tuple[str, Any]]:
    """(command, parameter) of every option or argument that reads a file (an InputFile parser)."""
    return [(name, param) for name in _leaves() for param in _params(name) if isinstance(_parser(param), InputFile)]


# A device (/dev/zero) is in every InputFile's ``bad`` values: the generated grid of tests/test_hostile_cli.py
# gives it to every file option (exit 2); here, what gets past the parser.
BAD_FILES = ("fifo", "empty", "huge", "truncated", "malformed")


def _bad_file(world: Path, kind: str, arpa: bool, tag: str) -> str:
    """A path of ``kind`` (ARPA-shaped content for an --ngram option); FIFOs are fed by :func:`_feeding`."""
    good = (world / "good.arpa").read_bytes() if arpa else TINY_TEXT.encode() + "caf\u00e9\n".encode()
    path = world / "bad" / f"{tag}-{kind}"
    path.parent.mkdir(exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "huge":
        with open(path, "wb") as fh:
            fh.write(good[:4096])
            fh.truncate(1 << 40)  # 1 TiB, sparse: NUL bytes after the first 4 KiB
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2] if arpa else good[:-2])  # ARPA cut in half; text cut inside the é
    else:
        path.write_bytes(good.replace(b"\n-", b"\nnan\t-", 1) if arpa else b"\xff\xfe\x00garbage\n")
    return str(path)


def _feeding(fifo: str, data: bytes) -> threading.Thread:
    def feed() -> None:
        try:
            with open(fifo, "wb") as fh:
                fh.write(data)
        except OSError:
            pass

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def _reader_cases(world: Path) -> list[tuple[str, list[str], str, bytes]]:
    cases = []
    for n, (name, param) in enumerate(_file_options()):
        arpa = param.name == "ngram"
        for kind in BAD_FILES:
            path = _bad_file(world, kind, arpa, f"{n}")
            base, words = list(BASE_ARGS[name]), name.split()
            if not param.opts[0].startswith("-"):
                line = [*words, path, *base[1:]]
            else:
                line = [*words, *base, param.opts[0], path]
            if name == "train":
                line += ["--out", f"bad/run{n}-{kind}", "--ngram-order", "0"]
            feed = (world / "good.arpa").read_bytes() if arpa else TINY_TEXT.encode()
            cases.append((f"{name} {param.opts[0]} x {kind}", line, path if kind == "fifo" else "", feed))
    return cases


def test_every_file_reading_option_is_bounded_and_strict(world: Path) -> None:
    """Exit 0 or one line (1 or 2), never a traceback or a hang, the models untouched."""
    before = _models(world)
    cases = _reader_cases(world)
    feeders = [_feeding(fifo, feed) for _, _, fifo, feed in cases if fifo]
    with ThreadPoolExecutor(WORKERS) as pool:
        runs = list(pool.map(lambda case: charlm(*case[1], cwd=world, timeout=180), cases))
    failures = []
    for (name, _, _, _), ran in zip(cases, runs, strict=True):
        try:
            if ran.code != 0:
                assert_refused(ran, ran.code)
                assert ran.code in (1, 2), str(ran)
            else:
                assert "Traceback" not in ran.err, str(ran)
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    for thread in feeders:
        thread.join(timeout=5)
    assert not failures, f"{len(failures)} of {len(runs)}:\n\n" + "\n\n".join(failures)
    assert _models(world) == before
    assert len(cases) >= len(BAD_FILES) * 12, len(cases)
