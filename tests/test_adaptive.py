"""The adaptive softmax head: exact distributions, a known answer, every reader, resume, refusals.

The head's log-probabilities must sum to 1 over the vocabulary, its training loss must equal the
full distribution's entries, and every command that reads probabilities (score, eval with cache and
dynamic evaluation, sample, beam, predict, the stateful scorer, export) must work on it unchanged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import BadOption, CharlmError
from charlm.models.adaptive import AdaptiveHead
from charlm.models.base import build_model
from charlm.models.config import ModelConfig
from charlm.models.softmax import ADAPTIVE_MIN_VOCAB, check_softmax, choose_cutoffs
from tests.conftest import no_crash, tiny_args, tiny_config

VOCAB_WORDS = 4500  # distinct words in the synthetic corpus: above ADAPTIVE_MIN_VOCAB


def zipf_text(words: int = VOCAB_WORDS, tokens: int = 12_000, seed: int = 0) -> str:
    """Every word once, then Zipf-distributed draws, 16 words a line (like bench.workloads.word_corpus)."""
    rng = np.random.default_rng(seed)
    ids = np.concatenate([np.arange(words), np.minimum(rng.zipf(1.2, tokens), words) - 1])
    return "".join(" ".join(f"w{i}" for i in ids[k : k + 16]) + "\n" for k in range(0, len(ids), 16))


@pytest.fixture(scope="module")
def zipf_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("zipf") / "corpus.txt"
    path.write_text(zipf_text(), encoding="utf-8")
    return path


def _train_adaptive(corpus: Path, root: Path, name: str = "model", **overrides: object) -> Path:
    from charlm.training.loop import train

    settings: dict[str, object] = dict(level="word", softmax="adaptive", seq_len=8, eval_every=5, lr=1e-2)
    settings.update(dropout=0.0, ngram_order=0, steps=10, tie_weights=True, embed=16)
    return train(tiny_config(corpus, root, name, **{**settings, **overrides})).run_dir


@pytest.fixture(scope="module")
def adaptive_model(zipf_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train_adaptive(zipf_corpus, tmp_path_factory.mktemp("adaptive"))


# -- the head itself ------------------------------------------------------------------------------


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
@pytest.mark.parametrize("cutoffs", [(5,), (5, 20), (3, 9, 30)], ids=["1tail", "2tails", "3tails"])
def test_log_probs_sum_to_one_and_the_loss_reads_them(tied: bool, cutoffs: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    head = AdaptiveHead(12, 50, cutoffs, tied)
    shared = torch.randn(50, 12) if tied else None
    y, targets = torch.randn(3, 7, 12), torch.randint(0, 50, (3, 7))
    logp = head.log_prob(y, shared)  # (3,7,50)
    assert logp.shape == (3, 7, 50)
    torch.testing.assert_close(logp.double().exp().sum(-1), torch.ones(3, 7, dtype=torch.float64), atol=1e-5, rtol=0)
    expected = -logp.gather(-1, targets[..., None]).mean()
    torch.testing.assert_close(head.loss(y, targets, shared), expected, atol=1e-6, rtol=1e-6)


def test_known_answer_on_a_hand_built_head() -> None:
    """V=6, shortlist {0,1}, tails {2,3} and {4,5}: the probabilities are products set by hand."""
    head = AdaptiveHead(2, 6, (2, 4))
    with torch.no_grad():
        for p in head.parameters():
            p.zero_()
        head.bias.copy_(torch.tensor([0.4, 0.1, 0.3, 0.2]).log())  # p(0), p(1), p(tail 1), p(tail 2)
        head.tails[0].bias.copy_(torch.tensor([0.5, 0.5]).log())
        head.tails[1].bias.copy_(torch.tensor([0.25, 0.75]).log())
        assert head.short is not None
        head.short[0, 0] = math.log(2.0)  # y = (1, 0) doubles word 0's weight: 0.8 / 1.4 after normalising
    y = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    want = torch.tensor([[0.4, 0.1, 0.15, 0.15, 0.05, 0.15], [0.8, 0.1, 0.15, 0.15, 0.05, 0.15]])
    want[1] /= 1.4
    torch.testing.assert_close(head.log_prob(y).exp(), want, atol=1e-6, rtol=0)
    torch.testing.assert_close(head.loss(y[:1], torch.tensor([4])), -torch.tensor(0.05).log(), atol=1e-6, rtol=0)


def _model(arch: str = "lstm", **overrides: object) -> torch.nn.Module:
    torch.manual_seed(0)
    settings: dict[str, object] = dict(vocab_size=ADAPTIVE_MIN_VOCAB + 10, arch=arch, layers=1, hidden=12, embed=8)
    settings.update(softmax="adaptive", cutoffs=(1000, 3000))
    return build_model(ModelConfig.from_dict({**settings, **overrides})).eval()


@pytest.mark.parametrize("tie", [False, True], ids=["untied", "tied"])
def test_the_model_seam_gives_normalised_logits_and_the_matching_loss(tie: bool) -> None:
    model = _model(tie_weights=tie)
    ids, targets = torch.randint(0, 4010, (2, 5)), torch.randint(0, 4010, (2, 5))
    with torch.no_grad():
        logits, _ = model(ids)  # (2,5,V): exact log-probabilities
        loss, _ = model(ids, targets=targets)
    torch.testing.assert_close(logits.logsumexp(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()))
    if tie:  # the clusters read the embedding: no output matrix of their own
        names = {n for n, _ in model.named_parameters()}
        assert "head.short" not in names and not any(n.endswith("tails.0.weight") for n in names)


@pytest.mark.parametrize("arch", ["lstm", "gru", "lstm-cell"])
def test_the_one_token_stepper_reads_the_adaptive_head(arch: str) -> None:
    from charlm.models.stepper import Stepper

    model = _model(arch)
    ids = torch.randint(0, 4010, (3,))
    with torch.no_grad():
        want, _ = model(ids[:, None])  # (3,1,V)
    got, _ = Stepper(model).step(ids, None)  # (3,V)
    torch.testing.assert_close(got, want[:, 0], atol=1e-5, rtol=1e-5)


def test_cutoffs_from_frequencies() -> None:
    counts = np.zeros(7500)
    counts[:1500], counts[1500:3500], counts[3500:] = 20, 3, 1  # of 40,000 tokens: 75% in 1,500 ids, 90% in 3,500
    assert choose_cutoffs(counts) == (1500, 3500)
    assert choose_cutoffs(np.ones(10_000)) == (7500, 9000)  # flat: coverage alone decides
    assert choose_cutoffs(np.r_[1e6, np.ones(5000)]) == (1000, 1500)  # one id covers all: the minimum sizes


@pytest.mark.parametrize(
    ("softmax", "cutoffs", "vocab", "message"),
    [
        ("adaptive", (), 100, "at least 4,000"),
        ("adaptive", (10, 5), None, "must increase"),
        ("adaptive", (5000,), 4500, "below the vocabulary"),
        ("full", (10,), 5000, "for --softmax adaptive"),
        ("sparse", (), 5000, "unknown --softmax"),
    ],
)
def test_check_softmax_refusals(softmax: str, cutoffs: tuple[int, ...], vocab: int | None, message: str) -> None:
    with pytest.raises(BadOption, match=message):
        check_softmax(softmax, cutoffs, vocab)


def test_config_round_trip_and_old_configs_have_the_full_softmax() -> None:
    config = ModelConfig(vocab_size=5000, softmax="adaptive", cutoffs=(1000, 3000))
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert ModelConfig.from_dict({"vocab_size": 9}).softmax == "full"


# -- a trained model through every reader -----------------------------------------------------------


def test_trained_model_saves_its_head_and_scores_from_the_full_distribution(adaptive_model: Path) -> None:
    import charlm

    saved = json.loads((adaptive_model / "config.json").read_text())["model"]
    assert saved["softmax"] == "adaptive" and len(saved["cutoffs"]) >= 1
    lm = charlm.load(adaptive_model, device="cpu")
    text = "w0 w1 w3000 w12"
    [result] = lm.score(text, per_token=True, ngram_weight=0.0)
    assert result.per_token is not None
    eos = lm.tokenizer.eos_id
    ids = [*lm.tokenizer.encode(text), eos]
    with torch.no_grad():
        logits, _ = lm.forward_lm(torch.tensor([[eos, *ids[:-1]]]))  # (1,T,V)
    full = torch.log_softmax(logits[0].double(), -1)  # (T,V) the whole distribution at each step
    want = full[torch.arange(len(ids)), ids].numpy()
    np.testing.assert_allclose([lp for _, lp in result.per_token], want, atol=1e-4)
    scorer, state = lm.state_scorer(ngram_weight=0.0), lm.begin()
    for step, token in enumerate(ids):  # the stateful scorer's next-token distribution is the same one
        dist = scorer.next_logprobs(state).double()  # (V,)
        assert abs(float(dist.exp().sum()) - 1.0) < 1e-5
        assert abs(float(dist[token]) - want[step]) < 1e-4
        state, _ = scorer.advance_ids([state], [[token]])[0]


def test_eval_cache_dynamic_sample_beam_predict(adaptive_model: Path, zipf_corpus: Path, tmp_path: Path) -> None:
    import charlm

    lm = charlm.load(adaptive_model, device="cpu")
    held = tmp_path / "held.txt"
    held.write_text(zipf_text(tokens=300, seed=5).splitlines()[-1] + "\n", encoding="utf-8")
    plain = lm.eval(held, ngram_weight=0.0)
    cached = lm.eval(held, cache=20, ngram_weight=0.0)
    dynamic = lm.eval(held, dynamic=True, dynamic_stats=zipf_corpus, ngram_weight=0.0)
    for result in (plain, cached, dynamic):
        assert math.isfinite(result.ppl) and 1.0 < result.ppl < 10 * VOCAB_WORDS
    drawn = lm.sample("w0", length=5, temperature=0.8, top_k=50, top_p=0.9, num=2, seed=1)
    assert len(drawn) == 2 and all(s.text for s in drawn)
    assert lm.beam("w0", width=3, length=3)
    assert len(lm.predict("w0 w1", k=5)) == 5


@pytest.mark.parametrize(
    "command",
    [
        ["score", "w0 w1 w2", "w2 w1 w0"],
        ["sample", "--length", "5", "--temp", "0.7", "--top-k", "20", "--seed", "1"],
        ["predict", "w0 w1", "-k", "3"],
    ],
    ids=["score", "sample", "predict"],
)
def test_cli_reads_an_adaptive_model(cli: CliRunner, adaptive_model: Path, command: list[str]) -> None:
    result = cli.invoke(app, [*command, "--model", str(adaptive_model)])
    no_crash(result)
    assert result.exit_code == 0, result.output


def test_eval_cli_with_cache_on_an_adaptive_model(cli: CliRunner, adaptive_model: Path, zipf_corpus: Path) -> None:
    result = cli.invoke(app, ["eval", str(zipf_corpus), "--cache", "50", "--json", "-m", str(adaptive_model)])
    no_crash(result)
    assert result.exit_code == 0, result.output
    assert math.isfinite(json.loads(result.stdout)["ppl"])


@pytest.mark.trains
def test_resume_is_the_same_run(zipf_corpus: Path, tmp_path: Path) -> None:
    from charlm.training.loop import resume

    same: dict[str, object] = dict(save_every=4, tie_weights=False, schedule="constant", dropout=0.1)
    whole = _train_adaptive(zipf_corpus, tmp_path, "whole", steps=8, **same)
    half = _train_adaptive(zipf_corpus, tmp_path, "half", steps=4, **same)
    resume(half, {"steps": 8})
    a = torch.load(whole / "trainer_state.pt", weights_only=True)
    b = torch.load(half / "trainer_state.pt", weights_only=True)
    assert a["step"] == b["step"] == 8
    from safetensors.torch import load_file

    wa, wb = load_file(whole / "last.safetensors"), load_file(half / "last.safetensors")
    assert wa.keys() == wb.keys() and any("tails" in k for k in wa)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    saved = [json.loads((d / "config.json").read_text())["model"]["cutoffs"] for d in (whole, half)]
    assert saved[0] == saved[1]


@pytest.mark.trains
def test_fine_tuning_keeps_the_adaptive_head(adaptive_model: Path, tmp_path: Path) -> None:
    import charlm

    more = tmp_path / "more.txt"
    more.write_text(zipf_text(tokens=3000, seed=9), encoding="utf-8")
    tuned = _train_adaptive(more, tmp_path, "tuned", steps=3, init_from=str(adaptive_model), softmax="full")
    source = json.loads((adaptive_model / "config.json").read_text())["model"]
    model = json.loads((tuned / "config.json").read_text())["model"]
    assert model["softmax"] == "adaptive" and model["cutoffs"] == source["cutoffs"]
    assert math.isfinite(charlm.load(tuned, device="cpu").score("w0 w1")[0].score)
    from safetensors.torch import load_file

    before, after = load_file(adaptive_model / "model.safetensors"), load_file(tuned / "last.safetensors")
    assert before.keys() == after.keys()
    assert all(float((before[k] - after[k]).abs().max()) < 0.1 for k in before)  # 3 small steps from the source


def test_export_gives_the_full_log_distribution(cli: CliRunner, adaptive_model: Path, tmp_path: Path) -> None:
    """The exported window graph's outputs are the adaptive head's whole log distribution, as torch's."""
    import charlm

    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "onnx"
    result = cli.invoke(app, ["export", "-m", str(adaptive_model), "--out", str(out)])
    no_crash(result)
    assert result.exit_code == 0, result.output
    info = json.loads((out / "model.json").read_text())
    session = ort.InferenceSession(str(out / "window.onnx"), providers=["CPUExecutionProvider"])
    lm = charlm.load(adaptive_model, device="cpu")
    ids = torch.randint(0, lm.tokenizer.vocab_size, (2, 7), generator=torch.Generator().manual_seed(3))  # (B,T)
    state = {}
    for s in info["state"]:  # model.json's usage: each tensor's start values (a fitted start state), else zeros
        assert "start" in s
        state[s["input"]] = np.repeat(np.asarray(s["start"], np.float32).reshape(s["shape"]), 2, s["batch_axis"])
    got = session.run(None, {"ids": ids.numpy(), **state})[0]  # (B,T,V)
    assert got.shape == (2, 7, lm.tokenizer.vocab_size) == (2, 7, info["vocab_size"])
    np.testing.assert_allclose(np.exp(got.astype(np.float64)).sum(-1), 1.0, atol=1e-4)  # log-probabilities
    with torch.no_grad():
        want = torch.log_softmax(lm.forward_lm(ids)[0].double(), -1).numpy()  # (B,T,V)
    np.testing.assert_allclose(got, want, atol=1e-4)


# -- refusals: one line, non-zero, no traceback, from every way in ----------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--level", "char"], "is for --level word"),
        (["--level", "bpe", "--vocab-size", "50"], "is for --level word"),
        (["--level", "word"], "at least 4,000"),  # the tiny corpus has a few dozen words
        (["--level", "word", "--max-vocab", "1000"], "at least 4,000"),
        (["--level", "word", "--cutoffs", "9,3"], "must increase"),
        (["--level", "word", "--cutoffs", "bogus"], "cannot read --cutoffs"),
    ],
    ids=["char", "bpe", "small-vocab", "max-vocab", "cutoffs-order", "cutoffs-text"],
)
def test_train_refuses_adaptive_where_it_cannot_help(
    cli: CliRunner, corpus: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "run"
    args = ["train", str(corpus), "--out", str(out), *tiny_args(steps=1), "--softmax", "adaptive", *extra]
    result = cli.invoke(app, args)
    no_crash(result)
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert message in result.stderr and len([x for x in lines if x.startswith("charlm: error:")]) == 1
    assert not out.exists()


def test_cutoffs_without_adaptive_is_refused(cli: CliRunner, corpus: Path, tmp_path: Path) -> None:
    args = ["train", str(corpus), "--out", str(tmp_path / "r"), *tiny_args(steps=1), "--cutoffs", "2000"]
    result = cli.invoke(app, args)
    no_crash(result)
    assert result.exit_code == 2 and "--cutoffs is for --softmax adaptive" in result.stderr


def test_a_hand_edited_small_adaptive_model_is_refused_by_every_loader(
    cli: CliRunner, tiny_word_model: Path, tmp_path: Path
) -> None:
    import shutil

    import charlm

    bad = tmp_path / "bad"
    shutil.copytree(tiny_word_model, bad)
    config = json.loads((bad / "config.json").read_text())
    config["model"].update(softmax="adaptive", cutoffs=[4])
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(CharlmError, match="at least 4,000"):
        charlm.load(bad, device="cpu")
    for command in (["score", "the cat"], ["info"], ["sample", "--length", "3"]):
        result = cli.invoke(app, [*command, "--model", str(bad)])
        no_crash(result)
        assert result.exit_code != 0 and "at least 4,000" in result.stderr, command


def test_train_config_refuses_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(BadOption, match="is for --level word"):
        tiny_config(tmp_path / "c.txt", tmp_path, softmax="adaptive")
    with pytest.raises(BadOption, match="at least 4,000"):
        tiny_config(tmp_path / "c.txt", tmp_path, level="word", softmax="adaptive", max_vocab=3999)
    listed = tiny_config(tmp_path / "c.txt", tmp_path, level="word", softmax="adaptive", cutoffs=[2000])
    assert listed.cutoffs == (2000,)  # config.json's list reads back as the tuple
