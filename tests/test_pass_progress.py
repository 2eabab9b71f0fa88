"""The corpus passes' progress on stderr: one readable line per update in a pipe, a line when a stage ends."""

from __future__ import annotations

import pytest

from charlm.cli.progress import PassProgress
from charlm.progress import silent


def test_pipe_lines_name_stage_share_rate_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    bar = PassProgress(live=False, every_s=3600, min_total=0)
    with bar:
        bar("counting characters", 0, 2_000_000)
        bar("counting characters", 1_000_000, 2_000_000)  # within every_s: no line
        bar("counting characters", 2_000_000, 2_000_000)  # the stage ends: a line
        bar("encoding", 7, 0, "tokens")  # a new stage, total unknown
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("counting characters: 0.0 MB of 2.0 MB (0%)")
    assert lines[1].startswith("counting characters: 2.0 MB of 2.0 MB (100%)") and "MB/s eta" in lines[1]
    assert lines[2].startswith("encoding: 7 tokens") and lines[2].endswith("eta -")
    assert len(lines) == 3


def test_live_bar_draws_without_error() -> None:
    with PassProgress(live=True, min_total=0) as bar:
        bar("counting 6-grams", 5, 10, "tokens")
        bar("merging", 1, 3, "runs")
    silent("x", 1, 2)
