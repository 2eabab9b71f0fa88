"""Shared fixtures and constants: the tiny corpus, the one tiny training configuration, tiny trained models.

Every test that trains starts from :data:`TINY` (TrainConfig keyword arguments) or its command-line
form :func:`tiny_args`, overriding only what it tests, so the size of "tiny" is set here once.

The cost of the suite shows: every model trained in a test process is counted (``Trainer.fit``; with
pytest-xdist the workers report to the controller), and a test whose body or function-scoped
fixtures train one must carry ``@pytest.mark.trains`` (and one marked so must train;
``trains(subprocess=True)`` marks a test whose runs happen in a subprocess, which is not seen); a
model trained by a module- or session-scoped fixture is shared, counted under the fixture's name. The summary at the end says how many models were trained, where, and in
how many seconds. Prefer the shared trained models below (``tiny_model``, ``tiny_word_model``) and the
shared ``cli`` runner to training or building your own.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

# Two cores shared with other jobs: one intra-op thread per test process is ~10x faster than oversubscribing.
os.environ.setdefault("CHARLM_THREADS", "1")


def _shared_data() -> Path:
    """../shared/data beside the checkout (or beside any directory above it, e.g. from a git worktree)."""
    if os.environ.get("CHARLM_SHARED_DATA"):
        return Path(os.environ["CHARLM_SHARED_DATA"])
    here = Path(__file__).resolve()
    for parent in here.parents[1:]:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return here.parents[2] / "shared" / "data"


SHARED = _shared_data()

TINY_TEXT = (
    "the cat sat on the mat\n"
    "the dog sat on the log\n"
    "a cat and a dog ate the apple and pear salad\n"
    "the king is dead long live the king\n"
) * 40

# The one tiny configuration: a 1 x 16 char LSTM on one CPU thread trains a step in milliseconds.
TINY: dict[str, Any] = dict(hidden=16, embed=8, layers=1, seq_len=16, batch_size=4, device="cpu", threads=1)


def tiny_args(**overrides: Any) -> list[str]:
    """:data:`TINY` (plus ``overrides``) as ``charlm train`` options: ``seq_len=16`` -> ``--seq-len 16``."""
    args: list[str] = []
    for name, value in {**TINY, **overrides}.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not False and value is not None:
            args += [flag, str(value)]
    return args


def tiny_config(corpus: Path, root: Path, name: str = "model", **overrides: Any) -> Any:
    """A TrainConfig of :data:`TINY` (plus ``overrides``) training on ``corpus`` into ``root/name``."""
    from charlm.training.config import TrainConfig

    return TrainConfig(
        corpus=str(corpus), out=str(root / name), checkpoints=str(root / "checkpoints"), **{**TINY, **overrides}
    )


def no_crash(result: Any) -> None:
    """A CliRunner result ended by the command itself (exit code), not by an exception escaping it.

    Under CliRunner a traceback never reaches ``result.output``: the exception is ``result.exception``.
    """
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


def _trained(root: Path, **overrides: Any) -> Path:
    from charlm.training.loop import train

    path = root / "corpus.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    settings = dict(eval_every=50, lr=1e-2, dropout=0.0)
    return train(tiny_config(path, root, **{**settings, **overrides})).run_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small char LSTM trained for a few seconds (150 steps: it has learned the corpus); never modified."""
    return _trained(tmp_path_factory.mktemp("tiny"), hidden=64, embed=16, seq_len=32, batch_size=8, steps=150)


@pytest.fixture(scope="session")
def tiny_word_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small word LSTM (100 steps); never modified."""
    return _trained(tmp_path_factory.mktemp("tinyword"), level="word", hidden=32, embed=16, seq_len=8, steps=100)


@pytest.fixture(scope="session")
def cli() -> CliRunner:
    """The one CliRunner: ``cli.invoke(app, [...])`` (stdout and stderr kept apart, as a terminal shows them)."""
    return CliRunner()


# -- what the suite costs: models trained, by whom, and the `trains` marker checked ------------------


class TrainingLedger:
    """Counts training runs (``Trainer.fit``) and who caused them: a test, or a shared fixture."""

    def __init__(self) -> None:
        self.fixtures: list[Any] = []  # the fixtures being set up, innermost last
        self.by_test: Counter[str] = Counter()
        self.by_fixture: Counter[str] = Counter()
        self.seconds = 0.0

    def owner(self) -> str | None:
        """The shared (module/session) fixture a run happens in, or None when it belongs to the test."""
        shared = [f for f in self.fixtures if f.scope not in ("function", "class")]
        return shared[-1].argname if shared else None

    def record(self, test: str | None, seconds: float) -> None:
        self.seconds += seconds
        fixture = self.owner()
        if fixture is not None:
            self.by_fixture[fixture] += 1
        else:
            self.by_test[test or "?"] += 1


class LedgerPlugin:
    """Hooks registered for the whole session (a conftest's own hooks do not see session fixtures)."""

    def __init__(self, ledger: TrainingLedger) -> None:
        self.ledger, self.test = ledger, None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Wrap the training loop's one entry (``Trainer.fit``) so every model trained is counted."""
        from charlm.training import loop

        fit, plugin = loop.Trainer.fit, self

        def counted(trainer: Any) -> Any:
            started = time.perf_counter()
            try:
                return fit(trainer)
            finally:
                plugin.ledger.record(plugin.test, time.perf_counter() - started)

        loop.Trainer.fit = counted  # type: ignore[method-assign]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Iterator[None]:
        self.ledger.fixtures.append(fixturedef)
        try:
            yield
        finally:
            self.ledger.fixtures.pop()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        self.test = item.nodeid
        yield
        self.test = None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Under pytest-xdist a worker hands its counts to the controller, which prints the summary."""
        output = getattr(session.config, "workeroutput", None)
        if output is not None:
            ledger = self.ledger
            output["charlm_ledger"] = [dict(ledger.by_test), dict(ledger.by_fixture), ledger.seconds]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        by_test, by_fixture, seconds = getattr(node, "workeroutput", {}).get("charlm_ledger", ({}, {}, 0.0))
        self.ledger.by_test.update(by_test)
        self.ledger.by_fixture.update(by_fixture)
        self.ledger.seconds += seconds

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        ledger = self.ledger
        tests, shared = sum(ledger.by_test.values()), sum(ledger.by_fixture.values())
        fixtures = ", ".join(f"{name} {n}" for name, n in ledger.by_fixture.most_common())
        terminalreporter.write_line(
            f"models trained: {tests + shared} in {ledger.seconds:.1f} s of training ({tests} by "
            f"{len(ledger.by_test)} tests, {shared} by shared fixtures: {fixtures or 'none'}; runs in subprocesses "
            "not counted)"
        )


LEDGER = TrainingLedger()


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(LedgerPlugin(LEDGER), "charlm-training-ledger")


@pytest.fixture(autouse=True)
def _trains_marker_is_true(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that trains a model (not through a shared fixture) is marked ``trains``, and only such a test."""
    yield
    trained = LEDGER.by_test[request.node.nodeid]
    marker = request.node.get_closest_marker("trains")
    if trained and marker is None:
        pytest.fail(f"this test trained {trained} model(s): mark it @pytest.mark.trains (or use a shared fixture)")
    if marker is not None and not trained and not marker.kwargs.get("subprocess"):
        pytest.fail("this test is marked trains but trained no model here: remove the marker (or say subprocess=True)")


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nothing can be written into (holding one file, ``kept``), for root too.

    chmod does not stop root, so as root the directory is made immutable (``chattr +i``) instead;
    where neither works the test is skipped.
    """
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "kept").write_text("kept")
    root = os.geteuid() == 0
    if root and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root without chattr: no directory is read-only here")
    if not root:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)
