"""Claiming a run directory for writing: a lock, a staging directory, and a swap at the first checkpoint.

::

    parent/.NAME.lock        flock'ed while a run writes NAME (holds the pid); a second run gets one line
                             (the lock and the staging are charlm.writer's, which every writing command uses)
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
import os
import time
from collections.abc import Iterator
from pathlib import Path

from charlm import checkpoint as ckpt
from charlm import layout
from charlm.errors import CharlmError
from charlm.training.config import TrainConfig
from charlm.writer import Lock, Staging, model_home

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


RunLock = Lock  # the run directory's lock is the one every writer takes (charlm.writer)


def check_target(final: Path, force: bool, checkpoints: Path) -> None:
    """Refuse, before any work, an --out the run may not replace and a checkpoints/latest it cannot update."""
    latest = checkpoints / "latest"
    if (latest.exists() or latest.is_symlink()) and not latest.is_symlink():
        raise CharlmError(
            f"{latest} is a real {'directory' if latest.is_dir() else 'file'}, not charlm's link to the "
            "latest run; move it away (charlm keeps a symlink there)"
        )
    home = model_home(final.parent)
    if home is not None:
        raise CharlmError(f"{final} is inside the model directory {home}; choose an --out outside it")
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
        self.resume = resume
        self._staging = Staging(final)

    @property
    def staging(self) -> Path | None:
        return self._staging.path

    def stage(self) -> None:
        self.path = self._staging.stage()

    def commit(self) -> Path:
        """Put the staged run in place of ``final`` as a whole; returns the final path."""
        if self._staging.path is None:
            return self.path
        self.path = self._staging.commit()
        return self.path

    def abandon(self) -> None:
        self._staging.abandon()


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
