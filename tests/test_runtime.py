"""--precision auto: bf16 where the device computes it natively (probed once), else fp32."""

from __future__ import annotations

import pytest
import torch

from charlm import runtime


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_follows_the_native_bf16_probe(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(runtime, "bf16_native", lambda device_type: native)
    assert runtime.resolve_precision("auto", torch.device("cpu")) == ("bf16" if native else "fp32")
    assert runtime.resolve_precision("fp32", torch.device("cpu")) == "fp32"


@pytest.fixture
def lstm_calls(monkeypatch: pytest.MonkeyPatch) -> list[torch.dtype | None]:
    """Every LSTM forward the probe runs, as the autocast dtype it ran under (None: no autocast)."""
    calls: list[torch.dtype | None] = []
    forward = torch.nn.LSTM.forward

    def spy(self: torch.nn.LSTM, *args: object, **kwargs: object) -> object:
        calls.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
        return forward(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch.nn.LSTM, "forward", spy)
    runtime.bf16_native.cache_clear()
    yield calls
    runtime.bf16_native.cache_clear()


@pytest.mark.parametrize("onednn_bf16", [True, False])
def test_probe_runs_one_bf16_lstm_step_only_where_onednn_offers_bf16(
    monkeypatch: pytest.MonkeyPatch, lstm_calls: list[torch.dtype | None], onednn_bf16: bool
) -> None:
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: onednn_bf16)
    assert runtime.bf16_native("cpu") is onednn_bf16
    assert runtime.bf16_native("cpu") is onednn_bf16  # asked again: answered from the first probe
    assert lstm_calls == ([torch.bfloat16] if onednn_bf16 else [])


def test_probe_refuses_a_bf16_step_that_gives_non_finite_output(
    monkeypatch: pytest.MonkeyPatch, lstm_calls: list[torch.dtype | None]
) -> None:
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    monkeypatch.setattr(torch, "isfinite", lambda t: torch.zeros_like(t, dtype=torch.bool))
    assert runtime.bf16_native("cpu") is False and lstm_calls == [torch.bfloat16]


def test_probe_falls_back_when_the_bf16_step_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no bf16 kernel")

    runtime.bf16_native.cache_clear()
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.nn.LSTM, "forward", broken)
    try:
        assert runtime.bf16_native("cpu") is False
    finally:
        runtime.bf16_native.cache_clear()
