"""Model known answers: chunked equals one-shot, checkpoint round-trip, uniform perplexity."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from charlm import checkpoint as ckpt
from charlm.eval.corpus import score_text
from charlm.models.base import build_model
from charlm.models.config import ModelConfig
from charlm.models.registry import ARCHS
from charlm.tokenizers import build_tokenizer


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_chunked_run_with_carried_state_equals_one_shot(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=11, arch=arch, layers=2, hidden=16, embed=8)).eval()
    ids = torch.randint(0, 11, (3, 20))
    whole, _ = model(ids)
    state, parts = None, []
    for chunk in ids.split(7, dim=1):
        logits, state = model(chunk, state)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, rtol=1e-5, atol=1e-5)


def test_tied_weights_share_storage_and_project() -> None:
    model = build_model(ModelConfig(vocab_size=20, hidden=32, embed=8, tie_weights=True, layers=1))
    assert model.head.weight is model.embed.weight
    assert model.proj is not None
    logits, _ = model(torch.zeros(2, 5, dtype=torch.long))
    assert logits.shape == (2, 5, 20)


def test_checkpoint_round_trip_gives_identical_logits(tmp_path: Path) -> None:
    tok = build_tokenizer("char", "abcdef\nfedcba\n")
    config = ModelConfig(vocab_size=tok.vocab_size, hidden=16, embed=8, tie_weights=True, layers=2)
    model = build_model(config).eval()
    ckpt.save_weights(model, tmp_path / ckpt.BEST)
    tok.save(tmp_path)
    ckpt.write_config(tmp_path, {"model": config.to_dict(), "tokenizer": {"kind": "char"}})
    again, tok2, cfg = ckpt.load_model(tmp_path)
    ids = torch.tensor([tok.encode("abc\ndef")])
    torch.testing.assert_close(again(ids)[0], model(ids)[0], rtol=0, atol=0)
    assert cfg["format_version"] == ckpt.FORMAT_VERSION
    assert tok2.encode("fab") == tok.encode("fab")


def test_uniform_model_perplexity_equals_vocab_size() -> None:
    tok = build_tokenizer("char", "abcdefghij\n")
    model = build_model(ModelConfig(vocab_size=tok.vocab_size, hidden=8, embed=4, layers=1)).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    result = score_text(model, tok, "abcabc\nhij\n")
    assert result.ppl == pytest.approx(tok.vocab_size, rel=1e-5)
    assert result.bpc == pytest.approx(math.log2(tok.vocab_size), rel=1e-5)
