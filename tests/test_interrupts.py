"""A signal is never lost: one whose KeyboardInterrupt a library swallowed still stops the command.

The defect these pin down (issue 22): ``charlm train`` got SIGTERM during start-up, the handler
raised KeyboardInterrupt inside numpy's lazy import of ``numpy.random._generator``, whose Cython
module init runs ``Sequence.register(...)`` under a bare ``except: pass``, and training went on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from charlm import interrupts
from charlm.cli.boundary import INTERRUPTED, _exit_code
from charlm.training.claim import StartInterrupted
from tests.conftest import tiny_config


def _swallowed_signal(sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to this process inside a block that swallows its KeyboardInterrupt (as Cython's init does)."""
    with contextlib.suppress(KeyboardInterrupt):
        os.kill(os.getpid(), sig)
        time.sleep(0.05)  # the handler runs here; its KeyboardInterrupt goes nowhere
    assert interrupts.pending() == sig, "the signal was not received"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_swallowed_signal_is_remembered_and_handlers_are_restored(sig: int) -> None:
    before = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
    with interrupts.caught():
        interrupts.check()  # nothing yet
        _swallowed_signal(sig)
        assert interrupts.pending() == sig
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == before
    assert interrupts.pending() is None


@pytest.mark.trains
def test_training_stops_before_its_first_checkpoint_when_the_start_up_signal_was_swallowed(
    corpus: Path, tmp_path: Path
) -> None:
    """The run enters its loop with a signal pending: it stops there, says "rerun", and leaves nothing."""
    config = tiny_config(corpus, tmp_path, "run", steps=100000)
    with interrupts.caught():
        _swallowed_signal()
        from charlm.training.loop import train

        with pytest.raises(StartInterrupted, match="to start again, rerun") as info:
            train(config)
    assert info.value.exit_code == 130
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob(".run*")), list(tmp_path.iterdir())


def test_a_command_that_finished_with_a_swallowed_signal_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    def command() -> int:
        _swallowed_signal()
        return 0

    with interrupts.caught():
        assert _exit_code(command) == INTERRUPTED
    assert capsys.readouterr().err.strip() == "charlm: error: interrupted"
