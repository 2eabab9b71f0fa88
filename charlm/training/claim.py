"""Claiming a run directory for writing: a lock, a staging directory, and a swap at the first checkpoint.

::

    parent/.NAME.lock        flock'ed while a run writes NAME (holds the pid); a second run gets one line
    parent/.NAME.new-PID/    a new run writes here until its first checkpoint ...
    parent/NAME/             ... then it replaces NAME as a whole (an atomic exchange), old files and all

So a new run that fails or is stopped before its first checkpoint leaves NAME exactly as it was,
and a forced run (``--force``) never mixes its files with the previous run's (a bpe run's
tokenizer.model does not survive a char run). A directory without a checkpoint is not a model: it
may be replaced without ``--force`` if it holds only run files. A directory holding anything else
(user files) is never replaced. A resumed run writes in place (its checkpoint is the commit point).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from charlm import checkpoint as ckpt
from charlm import layout
from charlm.errors import CharlmError
from charlm.io import exchange_dirs, fsync_dir
from charlm.training.config import TrainConfig

# Files a run directory may hold (charlm.layout); anything else means the directory is not charlm's to replace.
RUN_FILES = layout.NAMES
CHECKPOINT_FILES = (ckpt.TRAINER_STATE, ckpt.BEST, ckpt.LAST)


class StartInterrupted(CharlmError):
    """Ctrl-C or SIGTERM before the first checkpoint: nothing was written (exit 130)."""

    def __init__(self, run: Path) -> None:
        super().__init__(f"interrupted before the first checkpoint; {run} is as it was; to start again, rerun", 130)


def holds_model(run: Path) -> bool:
    """Whether ``run`` holds a checkpoint (config.json alone, from a run stopped at start-up, does not count)."""
    return any((run / name).exists() for name in CHECKPOINT_FILES)


def _foreign(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name not in RUN_FILES and not p.name.startswith("."))


class RunLock:
    """An exclusive ``flock`` on ``parent/.NAME.lock`` (with the holder's pid), released on close."""

    def __init__(self, run: Path) -> None:
        self.run = run
        self.path = run.parent / f".{run.name}.lock"
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise CharlmError(
                    f"{self.run} is being written by another charlm run (pid {holder}); "
                    "wait for it to finish or choose another --out"
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


def _clear_stale(final: Path) -> None:
    """Remove staging directories left by runs that were killed (their pid is gone)."""
    for old in final.parent.glob(f".{final.name}.new-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)


def check_target(final: Path, force: bool, checkpoints: Path) -> None:
    """Refuse, before any work, an --out the run may not replace and a checkpoints/latest it cannot update."""
    latest = checkpoints / "latest"
    if (latest.exists() or latest.is_symlink()) and not latest.is_symlink():
        raise CharlmError(
            f"{latest} is a real {'directory' if latest.is_dir() else 'file'}, not charlm's link to the "
            "latest run; move it away (charlm keeps a symlink there)"
        )
    if not final.exists():
        return
    if not final.is_dir():
        raise CharlmError(f"{final} is a file; --out takes a directory")
    foreign = _foreign(final)
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise CharlmError(f"{final} holds files that are not a charlm run ({shown}); choose another --out")
    if holds_model(final) and not force:
        raise CharlmError(
            f"{final} already holds a model; choose another --out, pass --force to replace it or --resume to continue it"
        )


class Claim:
    """A locked run directory; ``path`` is where the run writes now (staging until :meth:`commit`)."""

    def __init__(self, final: Path, resume: bool) -> None:
        self.final = final
        self.path = final
        self.staging: Path | None = None
        self.resume = resume

    def stage(self) -> None:
        _clear_stale(self.final)
        staging = self.final.parent.resolve() / f".{self.final.name}.new-{os.getpid()}"
        self.staging = self.path = staging  # set first: an interrupt from here on removes it
        try:
            staging.mkdir(parents=True, exist_ok=False)
            probe = staging / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            self.abandon()
            raise CharlmError(
                f"cannot write to {self.final.parent} ({exc.strerror}); choose a writable --out"
            ) from None

    def commit(self) -> Path:
        """Put the staged run in place of ``final`` as a whole; returns the final path."""
        if self.staging is None:
            return self.path
        final = self.final.resolve() if self.final.exists() else self.final.absolute()
        if final.exists():
            exchange_dirs(self.staging, final)  # the staging path now holds the previous run
            shutil.rmtree(self.staging, ignore_errors=True)
        else:
            os.rename(self.staging, final)
            fsync_dir(final.parent)
        self.staging, self.path = None, final
        return final

    def abandon(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None


def default_run(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(config.checkpoints) / f"{Path(config.corpus).stem}-{config.level}-{config.arch}-{stamp}"


@contextlib.contextmanager
def claim_run_dir(config: TrainConfig, resume_dir: Path | None = None) -> Iterator[Claim | None]:
    """Lock the run directory for the run's whole life; a new run writes to staging until its first checkpoint.

    Under torchrun only rank 0 claims (the others get ``None`` and the path from rank 0).
    """
    if os.environ.get("RANK", "0") != "0":
        yield None
        return
    final = resume_dir or (Path(config.out) if config.out else default_run(config))
    lock = RunLock(final.resolve()).acquire()
    claim = Claim(final, resume_dir is not None)
    try:
        if resume_dir is None:
            check_target(final, config.force, Path(config.checkpoints))
            claim.stage()
        yield claim
    except KeyboardInterrupt:
        if claim.staging is not None:
            raise StartInterrupted(final) from None
        raise
    finally:
        claim.abandon()
        lock.release()
