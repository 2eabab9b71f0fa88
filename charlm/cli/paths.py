"""Validating value types for options that name files and directories (see :mod:`charlm.cli.values`).

Inputs must exist and be readable files: a device (/dev/zero, /dev/null, a terminal) is refused; a
pipe, FIFO or /dev/stdin is read once, into a temporary file removed at exit, so a command may read
it twice, up to the stream limit (:func:`charlm.streams.stream_limit`, 1 GiB);
model directories must exist; output directories must not be files; plots are PNG files in an
existing directory (what the target holds is :mod:`charlm.writer`'s to judge, when it is claimed).
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from pathlib import Path

from charlm.cli.values import Value, check_text_arg
from charlm.errors import CharlmError


def _spool(path: Path) -> Path:
    """Copy a pipe or FIFO (read once) into a temporary file removed at exit, up to the stream limit.

    An endless stream is refused once it passes :func:`charlm.streams.stream_limit` bytes, so it never fills the disk.
    """
    from charlm.streams import copy_stream

    folder = Path(tempfile.mkdtemp(prefix="charlm-pipe-"))
    atexit.register(shutil.rmtree, folder, True)
    copy = folder / (path.name or "stdin")
    try:
        with open(path, "rb") as src, open(copy, "wb") as dst:
            copy_stream(src, dst.write, str(path), nul_ok=True)  # the reader judges the bytes
    except CharlmError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return copy


class InputFile(Value):
    """An existing, readable file (``dir_ok``: or a directory); a pipe is read once, into a temp file.

    Its content (text, encoding, NUL bytes) is the reader's to judge (:mod:`charlm.io`), when it is read.
    """

    __name__ = "FILE"
    bad = ("/nonexistent/charlm-file.txt", "/", "/dev/zero")

    def __init__(self, dir_ok: bool = False, stdin_ok: bool = False) -> None:
        self.dir_ok, self.stdin_ok = dir_ok, stdin_ok
        if dir_ok:
            self.bad = ("/nonexistent/charlm-file.txt", "", "/dev/zero")

    def parse(self, text: str) -> Path:
        if not text:
            raise CharlmError("is empty; give a file name")
        if self.stdin_ok and text == "-":
            return Path(text)  # standard input, read once by charlm.inputs.resolve_inputs
        check_text_arg(text)
        path = Path(text)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise CharlmError(f"{path}: no such file") from None
        except OSError as exc:
            raise CharlmError(f"{path}: cannot read it ({exc.strerror})") from None
        if stat.S_ISDIR(mode):
            if self.dir_ok:
                return path
            raise CharlmError(f"{path} is a directory; give a text file")
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise CharlmError(f"{path} is a device, not a file; give a file (or pipe the data in)")
        if not os.access(path, os.R_OK):
            raise CharlmError(f"{path}: cannot read it (permission denied)")
        if not stat.S_ISREG(mode):
            path = _spool(path)
        return path


class ModelDir(Value):
    """An existing directory (the library checks that it holds a model)."""

    __name__ = "DIR"
    bad = ("/nonexistent/charlm-model", "/dev/null")

    def parse(self, text: str) -> Path:
        if not text:
            raise CharlmError("is empty; give a model directory")
        path = Path(check_text_arg(text))
        if not path.exists():
            raise CharlmError(f"{path}: no such model directory; give a directory written by charlm train")
        if not path.is_dir():
            raise CharlmError(f"{path} is a file; give a model directory written by charlm train")
        return path


class OutDir(Value):
    """A directory to create or fill: not an existing file."""

    __name__ = "DIR"
    bad = ("/dev/null",)

    def parse(self, text: str) -> Path:
        if not text:
            raise CharlmError("is empty; give a directory name")
        path = Path(check_text_arg(text))
        if path.exists() and not path.is_dir():
            raise CharlmError(f"{path} is a file; give a directory")
        return path


class OutPng(Value):
    """A .png file to write, in an existing directory, that is not a directory itself."""

    __name__ = "FILE.png"
    bad = ("plot.txt", "/nonexistent/dir/plot.png")

    def parse(self, text: str) -> Path:
        if not text:
            raise CharlmError("is empty; give a .png file name")
        path = Path(check_text_arg(text))
        if path.is_dir():
            raise CharlmError(f"{path} is a directory; give a .png file name")
        if path.suffix.lower() != ".png":
            raise CharlmError(f"{path}: the plot is a PNG; give a file name ending in .png")
        if not path.parent.is_dir():
            raise CharlmError(f"{path.parent}: no such directory")
        return path  # what is there (a model, a file that is not a PNG) is charlm.writer's to judge: exit 1


class OutFile(Value):
    """A file to write, in an existing directory, that is not a directory itself."""

    __name__ = "FILE"
    bad = ("/", "/nonexistent/dir/out.txt")

    def parse(self, text: str) -> Path:
        if not text:
            raise CharlmError("is empty; give a file name")
        path = Path(check_text_arg(text))
        if path.is_dir():
            raise CharlmError(f"{path} is a directory; give a file name")
        if not path.parent.is_dir():
            raise CharlmError(f"{path.parent}: no such directory")
        return path
