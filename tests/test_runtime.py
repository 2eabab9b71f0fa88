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


def test_probe_answers_for_this_cpu() -> None:
    supported = torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert runtime.bf16_native("cpu") == supported  # the tiny bf16 LSTM step runs wherever oneDNN says bf16


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
