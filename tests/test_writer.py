"""The one writer (charlm.writer): targets judged before anything is written, staged, swapped in as a whole.

Every writer kind the commands use (``WRITERS``) is checked against every kind of target (``TARGETS``):
a model directory, a path inside one, a symlink into one, the command's own input, a directory of
foreign files, an earlier output (with and without --force), a file of another kind. The subprocess
side (the real executable, kill -9) is tests/test_hostile_writers.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from charlm import checkpoint as ckpt
from charlm.errors import CharlmError
from charlm.export.layout import EXPORT
from charlm.ngram.arpa import ARPA
from charlm.plot import PNG
from charlm.tokenizers import SAVED
from charlm.writer import WEIGHTS, Kind, check_target, claim_dir, claim_file, model_home
from tests.hostile import digest

WRITERS: dict[str, Kind] = {"export": EXPORT, "tokenize --save": SAVED, "plot": PNG, "ngram export": ARPA}
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def _world(root: Path) -> dict[str, Path]:
    """A model directory, an input file, a foreign directory and files, and a symlink into the model."""
    model = root / "model"
    model.mkdir()
    for name in (*WEIGHTS, "config.json", "tokenizer.json"):
        (model / name).write_bytes(b"weights" if name.endswith((".safetensors", ".pt")) else b"{}")
    (root / "input.txt").write_text("the cat\n")
    (root / "foreign").mkdir()
    (root / "foreign" / "config.json").write_text('{"my": "settings"}')
    (root / "notes.txt").write_text("precious")
    os.symlink("model", root / "link")
    return {"model": model, "input": root / "input.txt"}


# kind of target -> (path under the world for a directory writer, for a file writer, words of the refusal)
TARGETS: dict[str, tuple[str, str, str]] = {
    "model directory": ("model", "model/out.x", "model directory"),
    "inside a model": ("model/sub", "model/sub/out.x", "model directory"),
    "symlink into a model": ("link", "link/out.x", "model directory"),
    "the input itself": ("input.txt", "input.txt", "inputs"),
    "foreign directory": ("foreign", "foreign/config.json", "not"),
    "foreign file": ("notes.txt", "notes.txt", "notes.txt"),
}


def _claim(path: Path, kind: Kind, sources: list[Path] | None = None) -> Any:
    return claim_dir(path, kind, sources=sources or []) if kind.directory else claim_file(path, kind, sources or [])


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_refuses_every_bad_target_before_writing(tmp_path: Path, writer: str, target: str) -> None:
    world = _world(tmp_path)
    kind = WRITERS[writer]
    relative = TARGETS[target][0] if kind.directory else TARGETS[target][1]
    before = digest(tmp_path)
    with pytest.raises(CharlmError, match=TARGETS[target][2]) as refused:
        check_target(tmp_path / relative, kind, sources=[world["input"]])
    assert "\n" not in str(refused.value)
    with pytest.raises(CharlmError), _claim(tmp_path / relative, kind, [world["input"]]):
        raise AssertionError("claimed")  # the claim itself refuses the same way, before its lock or staging
    assert digest(tmp_path) == before


@pytest.mark.parametrize("writer", WRITERS)
def test_an_earlier_output_is_replaced_as_a_whole_only_as_its_own_kind(tmp_path: Path, writer: str) -> None:
    kind = WRITERS[writer]
    out = tmp_path / "out"
    if kind.directory:
        first = {"export": ["window.onnx", "step.onnx", "config.json"], "tokenize --save": ["tokenizer.model"]}[writer]
        with claim_dir(out, kind) as staging:
            _fill(staging, writer, first)
        with pytest.raises(CharlmError, match="--force"):
            check_target(out, kind)
        with claim_dir(out, kind, force=True) as staging:
            _fill(staging, writer, [])
        assert sorted(p.name for p in out.iterdir()) == sorted(_marker(writer)), "old files survived the swap"
    else:
        out.write_bytes(PNG_BYTES if kind is PNG else b"\\data\\\nngram 1=1\n")
        with claim_file(out, kind) as target:
            target.write(lambda fh: fh.write(PNG_BYTES if kind is PNG else b"\n\\data\\\nnew\n"))
        assert out.read_bytes().lstrip().startswith(kind.magic[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "staging, lock or temp left behind"


def _marker(writer: str) -> dict[str, bytes]:
    if writer == "export":
        return {"model.json": b'{"format": "charlm-onnx"}'}
    return {"tokenizer.json": b'{"kind": "char", "chars": []}'}


def _fill(staging: Path, writer: str, extra: list[str]) -> None:
    for name, data in _marker(writer).items():
        (staging / name).write_bytes(data)
    for name in extra:
        (staging / name).write_bytes(b"old")


@pytest.mark.parametrize("writer", [w for w, k in WRITERS.items() if k.directory])
def test_a_failed_write_leaves_the_old_output_and_no_staging(tmp_path: Path, writer: str) -> None:
    kind, out = WRITERS[writer], tmp_path / "out"
    with claim_dir(out, kind) as staging:
        _fill(staging, writer, [])
    before = digest(out)
    with pytest.raises(RuntimeError, match="failed half-way"), claim_dir(out, kind, force=True) as staging:
        (staging / "model.json").write_bytes(b"half")
        raise RuntimeError("failed half-way")
    assert digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staging_and_temp_files_of_killed_writers_are_cleared(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / f".out.new-{pid}").mkdir()
    (tmp_path / f".plot.png.{pid}.tmp").write_bytes(b"half")
    (tmp_path / f".out.new-{os.getpid() + 10**6}").mkdir()  # not a pid of this machine: also dead
    with claim_dir(tmp_path / "out", EXPORT) as staging:
        _fill(staging, "export", [])
    with claim_file(tmp_path / "plot.png", PNG) as target:
        target.write(lambda fh: fh.write(PNG_BYTES))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "plot.png"]


def test_a_signal_whose_interrupt_was_swallowed_stops_the_swap(tmp_path: Path) -> None:
    from charlm import interrupts

    out = tmp_path / "out"
    with interrupts.caught(), pytest.raises(KeyboardInterrupt), claim_dir(out, EXPORT) as staging:
        _fill(staging, "export", [])
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            __import__("time").sleep(0.05)
        except KeyboardInterrupt:
            pass  # swallowed, as a library's bare except would
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_read_only_directory_is_refused_in_one_line(read_only_dir: Path) -> None:
    for kind, name in ((EXPORT, "out"), (PNG, "plot.png")):
        with pytest.raises(CharlmError, match="cannot write to") as refused, _claim(read_only_dir / name, kind):
            pass
        assert "\n" not in str(refused.value)
    assert [p.name for p in read_only_dir.iterdir()] == ["kept"]


def test_model_home_follows_links_and_parents(tmp_path: Path) -> None:
    world = _world(tmp_path)
    assert model_home(world["model"] / "a" / "b.png") == world["model"].resolve()
    assert model_home(tmp_path / "link" / "x") == world["model"].resolve()
    assert model_home(tmp_path / "foreign") is None


def test_weights_are_the_checkpoint_files() -> None:
    assert set(WEIGHTS) == {ckpt.BEST, ckpt.LAST, ckpt.TRAINER_STATE}
