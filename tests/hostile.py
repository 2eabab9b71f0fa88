"""Helpers of the hostile-input suite: run the real ``charlm`` executable and judge what it did.

Every case runs ``.venv/bin/charlm`` as a subprocess (not CliRunner), so a traceback on stderr, a
stray blank line or a wrong exit code is seen exactly as a user would see it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CHARLM = Path(sys.executable).with_name("charlm")
ENV = {**os.environ, "CHARLM_THREADS": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


@dataclass(frozen=True)
class Ran:
    """What one run of the executable did."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"charlm {' '.join(self.args)} -> {self.code}\nstdout: {self.out[-500:]}\nstderr: {self.err[-1500:]}"


def charlm(*args: str, cwd: Path, stdin: bytes | None = None, timeout: float = 180) -> Ran:
    """Run ``charlm ARGS`` in ``cwd`` with ``stdin`` bytes (or no stdin at all)."""
    proc = subprocess.run(
        [str(CHARLM), *args],
        cwd=cwd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        env=ENV,
        timeout=timeout,
    )
    decode = lambda b: b.decode("utf-8", "replace")  # noqa: E731
    return Ran(tuple(args), proc.returncode, decode(proc.stdout), decode(proc.stderr))


def assert_refused(ran: Ran, code: int, *words: str) -> str:
    """Exit ``code``, exactly one ``charlm: error:`` line on stderr and nothing else, no traceback."""
    lines = ran.err.splitlines()
    assert "Traceback" not in ran.err, str(ran)
    assert len(lines) == 1 and lines[0].startswith("charlm: error: "), str(ran)
    assert ran.code == code, str(ran)
    for word in words:
        assert word in lines[0], f"{word!r} not in the message\n{ran}"
    return lines[0]


def assert_ok(ran: Ran) -> None:
    assert ran.code == 0 and "Traceback" not in ran.err, str(ran)


def digest(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` (hidden ones too) by relative path -> sha256; links by target."""
    found: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[rel] = "dir"
    return found


def train_tiny(root: Path, name: str, level: str = "char") -> Path:
    """A 3-step model of ``root/small.txt`` in ``root/name`` (in-process: the suites' shared tiny models)."""
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train

    config = TrainConfig(
        corpus=str(root / "small.txt"),
        out=str(root / name),
        checkpoints=str(root / "checkpoints"),
        level=level,
        hidden=16,
        embed=8,
        layers=1,
        seq_len=8,
        batch_size=2,
        steps=3,
        eval_every=3,
        device="cpu",
        precision="fp32",
        dropout=0.0,
    )
    return train(config).run_dir
