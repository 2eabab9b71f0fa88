"""The one writer: every command that writes claims its target before any work, stages, and swaps in as a whole.

::

    parent/.NAME.lock        flock'ed while one command writes NAME (holds the pid); a second one gets one line
    parent/.NAME.new-PID/    a directory output (a run, an ONNX export, a saved tokenizer) is written here ...
    parent/NAME/             ... then put in place as a whole: renamed, or exchanged with the earlier output
    parent/.NAME.PID.tmp     a one-file output (a PNG plot, an ARPA file) is written here, then renamed

Before anything is written, and before the work that produces it, :func:`check_target` judges the
target. Refused in one line (exit 1): a model directory, a path inside one (a symlink that leads
into one included), one of the command's own inputs, a directory holding files the command does not
write, an existing file of another kind (a plot never replaces a text file), a directory that cannot
be written. An earlier output of the same kind is replaced: a directory only with ``--force`` (it
holds several files), a file by the new file. ``--force`` never replaces anything else.

A kill -9 at any moment leaves the old output or the new one: the swap is one rename (or one atomic
exchange); staging left by a killed command is removed by the next one that writes there (its pid is
gone). A command that fails or is interrupted removes its staging itself. A signal whose
KeyboardInterrupt was swallowed (:mod:`charlm.interrupts`) stops the swap.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charlm import interrupts, layout
from charlm.errors import CharlmError
from charlm.io import exchange_dirs, fsync_dir, write_atomic

# The files that make a directory a model no writer may touch: weights or a checkpoint (a config.json or
# tokenizer.json alone is not one: an export and a saved tokenizer hold those too).
WEIGHTS = (layout.BEST, layout.LAST, layout.TRAINER_STATE)


@dataclass(frozen=True)
class Kind:
    """What a command writes: a directory of known ``files`` (``marker`` says one holds an earlier
    output), or one file that starts with one of ``magic``; ``option`` names it in messages."""

    what: str
    option: str
    files: frozenset[str] = field(default_factory=frozenset)
    marker: Callable[[Path], bool] | None = None
    magic: tuple[bytes, ...] = ()

    @property
    def directory(self) -> bool:
        return bool(self.files)


def holds_weights(directory: Path) -> bool:
    return directory.is_dir() and any((directory / name).exists() for name in WEIGHTS)


def model_home(path: str | Path) -> Path | None:
    """The model directory ``path`` is or lies inside, symlinks followed; None when there is none."""
    real = Path(path).resolve()
    for directory in (real, *real.parents):
        if holds_weights(directory):
            return directory
    return None


def _within(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def _shown(names: Sequence[str]) -> str:
    return ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")


def _check_sources(path: Path, real: Path, sources: Sequence[str | Path]) -> None:
    for source in sources:
        src = Path(source).resolve()
        if real == src:
            raise CharlmError(f"{path} is one of this command's inputs; write the output elsewhere")
        if src.is_dir() and _within(real, src):
            raise CharlmError(f"{path} is inside {source}, one of this command's inputs; write the output elsewhere")


def _check_directory(path: Path, real: Path, kind: Kind, force: bool) -> None:
    if real.exists() and not real.is_dir():
        raise CharlmError(f"{path} is a file; {kind.option} takes a directory")
    if not real.is_dir():
        return
    names = sorted(p.name for p in real.iterdir())
    if not names:
        return
    foreign = [name for name in names if name not in kind.files]
    if foreign:
        raise CharlmError(
            f"{path} holds files that are not {kind.what} ({_shown(foreign)}); choose a new or empty directory"
        )
    if kind.marker is not None and not kind.marker(real):
        raise CharlmError(f"{path} holds {_shown(names)}, not written as {kind.what}; choose a new or empty directory")
    if not force:
        raise CharlmError(f"{path} already holds {kind.what}; pass --force to replace it as a whole, or choose another")


def _check_file(path: Path, real: Path, kind: Kind) -> None:
    if real.is_dir():
        raise CharlmError(f"{path} is a directory; {kind.option} takes a file name")
    if not real.parent.is_dir():
        raise CharlmError(f"{path.parent}: no such directory")
    if not real.exists():
        return
    if not real.is_file():
        raise CharlmError(f"{path} is not a regular file (a device, FIFO or socket); give a file name")
    with open(real, "rb") as fh:
        head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")  # a BOM or blank lines before an ARPA header
    if not any(head.startswith(magic) for magic in kind.magic):
        raise CharlmError(
            f"{path} exists and is not {kind.what}; charlm replaces only its own output there; choose another name"
        )


def check_target(path: str | Path, kind: Kind, force: bool = False, sources: Sequence[str | Path] = ()) -> Path:
    """Refuse ``path`` as ``kind``'s output in one line, or return it resolved (symlinks followed). Writes nothing."""
    path = Path(path)
    real = path.resolve()
    home = model_home(real if kind.directory else real.parent)
    if home is not None:
        where = "is" if home == real else "is inside"
        raise CharlmError(
            f"{path} {where} the model directory {home}; {kind.option} never writes into a model; choose a path outside it"
        )
    _check_sources(path, real, sources)
    if kind.directory:
        _check_directory(path, real, kind, force)
    else:
        _check_file(path, real, kind)
    return real


class Lock:
    """An exclusive ``flock`` on ``parent/.NAME.lock`` (with the holder's pid), released on :meth:`release`."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = target.parent / f".{target.name}.lock"
        self.fd: int | None = None

    def acquire(self) -> Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise CharlmError(
                    f"cannot write to {self.target.parent} ({exc.strerror}); choose a writable place"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise CharlmError(
                    f"{self.target} is being written by another charlm run or command (pid {holder}); "
                    "wait for it to finish or choose another"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the holder removed the file between our open and our lock: try again
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self.fd)
        self.fd = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale(final: Path) -> None:
    """Remove staging directories and temp files left beside ``final`` by killed commands (their pid is gone)."""
    for old in final.parent.glob(f".{final.name}.new-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    for old in final.parent.glob(f".{final.name}.*.tmp"):
        pid = old.name[len(final.name) + 2 : -len(".tmp")]
        if pid.isdigit() and not _pid_alive(int(pid)):
            old.unlink(missing_ok=True)


class Staging:
    """A directory ``.NAME.new-PID`` beside ``final`` that becomes ``final`` as a whole at :meth:`commit`."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.path: Path | None = None

    def stage(self) -> Path:
        clear_stale(self.final)
        staging = self.final.parent.resolve() / f".{self.final.name}.new-{os.getpid()}"
        self.path = staging  # set first: an interrupt from here on removes it
        try:
            staging.mkdir(parents=True, exist_ok=False)
            probe = staging / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            self.abandon()
            raise CharlmError(
                f"cannot write to {self.final.parent} ({exc.strerror}); choose a writable place"
            ) from None
        return staging

    def commit(self) -> Path:
        """Put the staged directory in place of ``final`` (the previous content is removed); returns the final path."""
        if self.path is None:
            raise RuntimeError("nothing is staged")
        interrupts.check()  # a signal whose KeyboardInterrupt went missing: keep the old output
        final = self.final.resolve() if self.final.exists() else self.final.absolute()
        if final.exists():
            exchange_dirs(self.path, final)  # the staging path now holds the previous content
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            os.rename(self.path, final)
            fsync_dir(final.parent)
        self.path = None
        return final

    def abandon(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


@contextlib.contextmanager
def claim_dir(path: str | Path, kind: Kind, force: bool = False, sources: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Claim the directory ``path`` for ``kind``; the block writes into the staging directory it gets,
    which replaces ``path`` as a whole when the block ends without an error (and is removed otherwise)."""
    real = check_target(path, kind, force, sources)
    lock = Lock(real).acquire()
    staging = Staging(real)
    try:
        check_target(path, kind, force, sources)  # again, under the lock
        yield staging.stage()
        staging.commit()
    finally:
        staging.abandon()
        lock.release()


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold ``target``'s lock for the block (a command that writes into a directory in place: ngram build)."""
    lock = Lock(Path(target).resolve()).acquire()
    try:
        yield
    finally:
        lock.release()


class FileTarget:
    """A claimed one-file output: :meth:`write` writes it atomically (temp file beside it, then rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, write: Callable[[Any], object]) -> Path:
        interrupts.check()
        write_atomic(self.path, write)
        return self.path


@contextlib.contextmanager
def claim_file(path: str | Path, kind: Kind, sources: Sequence[str | Path] = ()) -> Iterator[FileTarget]:
    """Claim the file ``path`` for ``kind`` (judged now, before the block's work); write it with ``.write``."""
    real = check_target(path, kind, sources=sources)
    lock = Lock(real).acquire()
    try:
        clear_stale(real)
        check_target(path, kind, sources=sources)
        yield FileTarget(real)
    finally:
        lock.release()
