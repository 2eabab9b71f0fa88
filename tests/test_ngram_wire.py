"""The n-gram weight on predict, fill_blank, the stateful scorer and rescore (charlm.eval.mix wired in):
mixed numbers equal (1 - lam) p_network + lam p_ngram by hand, weight 0 is today's numbers exactly."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import CharlmError

runner = CliRunner()
EOS = 1
HAND = ["u1\tthe pear salad\t-1.0", "u1\tthe pair salad\t-0.5", "u1\tthe pare salad\t-0.9", "u2\tthe cat sat\t0"]


def _bare(model: Path, tmp_path: Path) -> Path:
    """A copy of ``model`` without its n-gram: a model from before n-grams existed."""
    target = tmp_path / model.name
    shutil.copytree(model, target)
    for name in ("ngram.npz", "ngram.json"):
        (target / name).unlink(missing_ok=True)
    return target


def _hand_mixture(lm: object, prefix: str, lam: float) -> torch.Tensor:
    """ln((1 - lam) p_net + lam p_ngram) over the vocabulary after ``prefix``, from the parts."""
    network = lm.state_scorer(0)  # type: ignore[attr-defined]  # the network alone
    state, _ = network.advance(network.begin(), prefix)
    net = network.next_logprobs(state).double()
    mix = lm.ngram_mix(lam)  # type: ignore[attr-defined]
    assert mix is not None
    ids = [EOS, *lm.tokenizer.encode(prefix)]  # type: ignore[attr-defined]
    p, _ = mix.ngram.distribution(np.array(ids[-(mix.ngram.order - 1) :]))
    return torch.log((1 - lam) * net.exp() + lam * torch.from_numpy(p))


def test_predict_mixes_the_next_token_distribution(tiny_model: Path) -> None:
    import charlm

    lm = charlm.load(tiny_model, device="cpu")
    prefix = "the cat sat on th"
    want = _hand_mixture(lm, prefix, 0.3)
    want[lm.tokenizer.unk_id] = -math.inf
    top = torch.topk(want, 5)
    got = lm.predict(prefix, k=5, ngram_weight=0.3)
    assert [p.text for p in got] == [lm.tokenizer.token_str(int(i)) for i in top.indices]
    assert [p.logprob for p in got] == pytest.approx(top.values.tolist(), abs=1e-5)
    assert [p.logprob for p in got] != [p.logprob for p in lm.predict(prefix, k=5, ngram_weight=0)]


def test_weight_zero_and_no_ngram_are_todays_predictions(tiny_model: Path, tmp_path: Path) -> None:
    import charlm

    lm = charlm.load(tiny_model, device="cpu")
    bare = charlm.load(_bare(tiny_model, tmp_path), device="cpu")
    for words in (False, True):
        plain = bare.predict("the cat ", k=5, words=words)  # auto without an n-gram: the network alone
        assert lm.predict("the cat ", k=5, words=words, ngram_weight=0) == plain
        assert bare.predict("the cat ", k=5, words=words, ngram_weight=0) == plain
    gap = "the ___ sat on the mat"
    assert lm.fill_blank(gap, ["cat", "dog"], ngram_weight=0) == bare.fill_blank(gap, ["cat", "dog"])
    with pytest.raises(CharlmError, match="no n-gram"):
        bare.predict("the ", ngram_weight=0.5)


def test_state_scorer_path_sums_to_the_mixed_score(tiny_model: Path) -> None:
    import charlm

    lm = charlm.load(tiny_model, device="cpu")
    scorer = lm.state_scorer(0.4)
    state, first = scorer.advance(scorer.begin(), "the cat ")
    state, second = scorer.advance(state, "sat")
    _, last = scorer.end(state)
    want = lm.score("the cat sat", ngram_weight=0.4)[0].logprob
    assert first + second + last == pytest.approx(want, abs=1e-4)
    assert scorer.next_logprobs(state).double().exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    many = scorer.advance_many([scorer.begin(), scorer.begin()], ["the cat sat", "the"])
    assert many[0][1] == pytest.approx(first + second, abs=1e-4)
    assert lm.state_scorer("auto") is lm.scorer and lm.scorer.mix is not None  # begin() and friends: auto
    assert lm.state_scorer(0).mix is None  # weight 0: the network alone


def test_words_and_blank_use_the_mixture(tiny_model: Path) -> None:
    import charlm

    lm = charlm.load(tiny_model, device="cpu")
    mixed = lm.predict("the cat sat on the ", k=3, words=True, ngram_weight=0.5)
    plain = lm.predict("the cat sat on the ", k=3, words=True, ngram_weight=0)
    assert mixed != plain and all(math.isfinite(p.logprob) and p.logprob <= 0 for p in mixed)
    gap = "the ___ sat on the mat"
    ranked = lm.fill_blank(gap, ["cat", "dog", "mat"], ngram_weight=0.5)
    totals = {c: lm.score(gap.replace("___", c), ngram_weight=0.5)[0].logprob for c in ("cat", "dog", "mat")}
    assert {p.text: p.sentence_logprob for p in ranked} == pytest.approx(totals, abs=1e-6)


def _nbest(tmp_path: Path) -> Path:
    path = tmp_path / "x.nbest"
    path.write_text("\n".join(HAND) + "\n", encoding="utf-8")
    return path


def test_rescore_weight_zero_is_today_and_weight_mixes(tiny_model: Path, tmp_path: Path) -> None:
    import charlm
    from charlm.api import rescore
    from charlm.eval.rescore import Weights

    nbest = _nbest(tmp_path)
    bare_dir = _bare(tiny_model, tmp_path)
    lm, bare = charlm.load(tiny_model, device="cpu"), charlm.load(bare_dir, device="cpu")
    today = bare.rescore(nbest)
    zero = lm.rescore(nbest, ngram_weight=0)
    assert [[(h.hyp.text, h.lm, h.score) for h in r] for r in zero.ranked] == [
        [(h.hyp.text, h.lm, h.score) for h in r] for r in today.ranked
    ]
    by_path = rescore(nbest, [str(tiny_model)], Weights((1.0,)), ngram_weight=0)
    assert [h.lm for h in by_path.ranked[0]] == [h.lm for h in today.ranked[0]]
    mixed = lm.rescore(nbest, ngram_weight=0.3)
    for hyp in mixed.ranked[0]:
        assert hyp.lm[0] == pytest.approx(lm.score(hyp.hyp.text, ngram_weight=0.3)[0].logprob, abs=1e-6)
    with pytest.raises(CharlmError, match="single --model"):
        rescore(nbest, [lm, bare], ngram=tmp_path / "x.arpa")


def test_cli_predict_and_rescore_take_the_weight(tiny_model: Path, tmp_path: Path) -> None:
    import charlm

    lm = charlm.load(tiny_model, device="cpu")
    result = runner.invoke(
        app, ["predict", "the ca", "-m", str(tiny_model), "-k", "3", "--json", "--ngram-weight", "0.3"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    flat = rows[0] if len(rows) == 1 and isinstance(rows[0], list) else rows
    assert [r["logprob"] for r in flat] == pytest.approx(
        [p.logprob for p in lm.predict("the ca", k=3, ngram_weight=0.3)], abs=1e-6
    )
    nbest = _nbest(tmp_path)
    mixed = runner.invoke(app, ["rescore", str(nbest), "-m", str(tiny_model), "--json", "--ngram-weight", "0.3"])
    assert mixed.exit_code == 0, mixed.output
    first = json.loads(mixed.stdout.splitlines()[0])["hypotheses"][0]
    assert first["lm"][tiny_model.name] == pytest.approx(lm.score(first["text"], ngram_weight=0.3)[0].logprob, abs=1e-5)
    bad = runner.invoke(app, ["predict", "the", "-m", str(tiny_model), "--ngram-weight", "2"])
    assert bad.exit_code == 2 and bad.stderr.startswith("charlm: error:") and len(bad.stderr.splitlines()) == 1


def test_beam_extends_by_the_mixture(tiny_model: Path, tmp_path: Path) -> None:
    import charlm

    lm = charlm.load(tiny_model, device="cpu")
    bare = charlm.load(_bare(tiny_model, tmp_path), device="cpu")
    assert [(b.text, b.logprob) for b in lm.beam("the ", 3, 5, ngram_weight=0)] == [
        (b.text, b.logprob) for b in bare.beam("the ", 3, 5)
    ]
    want = _hand_mixture(lm, "the ca", 0.6)
    want[lm.tokenizer.unk_id] = -math.inf
    best = lm.beam("the ca", 1, 1, ngram_weight=0.6)[0]
    assert best.ids == [int(want.argmax())] and best.logprob == pytest.approx(float(want.max()), abs=1e-5)
