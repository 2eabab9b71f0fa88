"""The n-gram inside (charlm.ngram, charlm.eval.mix): known answers for modified Kneser-Ney, sums to 1,
ARPA round trips, and the mixture in score/eval/sample (weight 0 = the network bit for bit)."""

from __future__ import annotations

import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.ngram.arpa import write_arpa
from charlm.ngram.arpa_read import read_arpa
from charlm.ngram.counts import count_ngrams
from charlm.ngram.kneser_ney import FALLBACK, discounts, estimate
from charlm.ngram.model import CLASSES, NgramModel, context_class

runner = CliRunner()
EOS = 1


def test_hand_computed_bigram_table() -> None:
    # Stream <eos> a b a b over {<unk>=0, <eos>=1, a=2, b=3}; every order falls back to D = .5, 1, 1.5.
    # Unigram continuation counts: <eos> 1 (the stream's start), a 2 (after <eos> and b), b 1 -> total 4,
    # discounted mass .5 + 1 + .5 = 2, gamma = .5: p = (a - D)/4 + .5/4.
    m = estimate(count_ngrams(np.array([2, 3, 2, 3]), 2, 4, EOS))
    assert np.allclose(np.exp(m.logprob[0]), [0.125, 0.25, 0.375, 0.25])
    # Bigrams <eos> a (1), a b (2), b a (1); each context has one continuation: gamma = D / count = .5.
    # p(a|<eos>) = (1 - .5)/1 + .5 * .375;  p(b|a) = (2 - 1)/2 + .5 * .25;  p(a|b) = .5 + .5 * .375
    assert m.keys[1].tolist() == [1 * 4 + 2, 2 * 4 + 3, 3 * 4 + 2]
    assert np.allclose(np.exp(m.logprob[1]), [0.6875, 0.625, 0.6875])
    assert np.allclose(np.exp(m.logbo[0]), [1.0, 0.5, 0.5, 0.5])  # <unk> never continues: back-off 1
    p, matched = m.distribution(np.array([2]))
    assert np.allclose(p, [0.0625, 0.125, 0.1875, 0.625]) and matched == 1


def test_discounts_from_count_of_counts() -> None:
    counts = np.array([1] * 10 + [2] * 4 + [3] * 2 + [4])
    y = 10 / 18
    assert np.allclose(discounts(counts), (1 - 2 * y * 4 / 10, 2 - 3 * y * 2 / 4, 3 - 4 * y * 1 / 2))
    assert discounts(np.array([1, 1, 2])) == FALLBACK  # no 3s or 4s: KenLM's fallback


def _reference(stream: list[int], order: int, vocab: int) -> dict[tuple[int, ...], dict[int, float]]:
    """Interpolated modified KN written the plain way (dicts, recursion) for comparison."""
    s = [EOS, *stream]
    occ = {k: Counter(tuple(s[i : i + k]) for i in range(len(s) - k + 1)) for k in range(1, order + 1)}
    adj: dict[int, dict[tuple[int, ...], int]] = {order: dict(occ[order])}
    for k in range(order - 1, 0, -1):
        left = Counter(g[1:] for g in occ[k + 1])
        adj[k] = {g: left[g] + (g == tuple(s[:k])) for g in occ[k]}
    disc = {k: discounts(np.array([c for c in adj[k].values() if c > 0])) for k in adj}

    def d(k: int, c: int) -> float:
        return 0.0 if c == 0 else disc[k][min(c, 3) - 1]

    def p(w: int, ctx: tuple[int, ...]) -> float:
        k = len(ctx) + 1
        conts = {g[-1]: c for g, c in adj[k].items() if g[:-1] == ctx}
        total = sum(conts.values())
        if k == 1:
            return (conts.get(w, 0) - d(1, conts.get(w, 0))) / total + sum(
                d(1, c) for c in conts.values()
            ) / total / vocab
        if total == 0:
            return p(w, ctx[1:])
        gamma = sum(d(k, c) for c in conts.values()) / total
        return (conts.get(w, 0) - d(k, conts.get(w, 0))) / total + gamma * p(w, ctx[1:])

    return {"p": p}  # type: ignore[dict-item]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_numpy_model_matches_the_plain_reference(order: int) -> None:
    rng = np.random.default_rng(order)
    stream = [int(x) for x in rng.choice([1, 2, 3, 4, 5, 6], size=400, p=[0.1, 0.3, 0.2, 0.2, 0.1, 0.1])]
    m = estimate(count_ngrams(np.array(stream), order, 8, EOS))
    ref = _reference(stream, order, 8)["p"]
    test = [EOS, 2, 3, 7, 5, 5, 6, 1, 2, 2, 3, 0, 4]  # includes tokens never seen (0, 7)
    lp, _ = m.logprobs(np.array(test), np.zeros(len(test), dtype=np.int64))
    for t in range(1, len(test)):
        ctx = tuple(test[max(0, t - order + 1) : t])
        assert math.isclose(lp[t], math.log(ref(test[t], ctx)), rel_tol=1e-5), (t, ctx)


def _random_model(order: int = 4, vocab: int = 12, seed: int = 0) -> NgramModel:
    rng = np.random.default_rng(seed)
    return estimate(count_ngrams(rng.integers(1, vocab - 2, 3000), order, vocab, EOS))


def test_probabilities_sum_to_one_for_many_contexts() -> None:
    m = _random_model()
    rng = np.random.default_rng(1)
    for _ in range(200):
        ctx = rng.integers(0, 12, rng.integers(0, 6))
        p, _ = m.distribution(ctx)
        assert abs(p.sum() - 1.0) < 1e-5
        # the single-token query agrees with the whole distribution
        seq = np.concatenate([ctx, [int(rng.integers(0, 12))]])
        lp, _ = m.logprobs(seq, np.zeros(seq.size, dtype=np.int64))
        assert math.isclose(lp[-1], math.log(p[seq[-1]]), rel_tol=1e-5, abs_tol=1e-6)


def test_history_is_cut_where_the_caller_says() -> None:
    m = _random_model()
    seq = np.array([EOS, 3, 4, 5, EOS, 3, 4])
    first = np.array([0, 0, 0, 0, 4, 4, 4])  # two sentences: the second may not look at the first
    lp, _ = m.logprobs(seq, first)
    alone, _ = m.logprobs(seq[4:], np.zeros(3, dtype=np.int64))
    assert np.allclose(lp[5:], alone[1:])


def test_save_load_round_trip(tmp_path: Path) -> None:
    m = _random_model()
    m.save(tmp_path / "ngram.npz")
    back = NgramModel.load(tmp_path / "ngram.npz")
    seq = np.array([EOS, 3, 4, 5, 6, 3, 4, 0])
    z = np.zeros(seq.size, dtype=np.int64)
    assert np.array_equal(m.logprobs(seq, z)[0], back.logprobs(seq, z)[0])
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(CharlmError, match="charlm ngram build"):
        NgramModel.load(tmp_path / "bad.npz")


def test_arpa_round_trip_gives_the_same_probabilities(tmp_path: Path) -> None:
    m = _random_model(order=3)
    words = ["<unk>", "</s>", " ", "\\", "a b", "x", "\u3000", "<s>", *[f"w{i}" for i in range(8, 12)]]
    from charlm.ngram.arpa import vocabulary_words

    names = vocabulary_words(lambda i: words[i], 12, 0, 1)
    assert len(set(names)) == 12 and all(" " not in n and n.strip() == n for n in names)
    write_arpa(m, tmp_path / "m.arpa", names)
    text = (tmp_path / "m.arpa").read_text(encoding="utf-8")
    assert text.startswith("\\data\\\nngram 1=12\n") and "\\3-grams:" in text and text.endswith("\\end\\\n")
    back = read_arpa(tmp_path / "m.arpa", names)
    rng = np.random.default_rng(3)
    seq = np.concatenate([[EOS], rng.integers(0, 12, 300)])
    z = np.zeros(seq.size, dtype=np.int64)
    assert np.allclose(m.logprobs(seq, z)[0], back.logprobs(seq, z)[0], rtol=1e-5, atol=1e-6)


def test_kenlm_style_sentence_start_reads_as_eos(tmp_path: Path) -> None:
    arpa = tmp_path / "k.arpa"
    arpa.write_text(
        "\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n-1.0\t<unk>\t0\n-99\t<s>\t-0.3\n-0.5\t</s>\t0\n-0.4\ta\t-0.2\n\n"
        "\\2-grams:\n-0.1\t<s> a\n-0.2\ta </s>\n\n\\end\\\n",
        encoding="utf-8",
    )
    m = read_arpa(arpa, ["<unk>", "</s>", "a", "b"])
    lp, _ = m.logprobs(np.array([EOS, 2, EOS, 3]), np.zeros(4, dtype=np.int64))
    ln10 = math.log(10)
    assert np.allclose(lp[1:], [-0.1 * ln10, -0.2 * ln10, -1.0 * ln10])  # b is not in the file: p(<unk>)


# -- the mixture in a model ------------------------------------------------------------------------------


def _copy(model: Path, tmp_path: Path, keep_ngram: bool) -> Path:
    target = tmp_path / "model"
    shutil.copytree(model, target)
    if not keep_ngram:
        for name in ("ngram.npz", "ngram.json"):
            (target / name).unlink(missing_ok=True)
    return target


def test_training_builds_an_ngram_with_tuned_weights(tiny_model: Path) -> None:
    import json

    meta = json.loads((tiny_model / "ngram.json").read_text())
    assert meta["order"] == 6 and (tiny_model / "ngram.npz").exists()
    for which in ("lines", "stream"):
        tuned = meta[which]
        assert 0 <= tuned["lambda"] <= 1 and len(tuned["lambda_by_context"]) == 6
        assert tuned["mixed"] <= min(tuned["network"], tuned["ngram"]) + 1e-9  # EM never loses to its ends


def test_weight_zero_is_the_network_bit_for_bit(tiny_model: Path, tmp_path: Path) -> None:
    import charlm

    bare = charlm.load(_copy(tiny_model, tmp_path, keep_ngram=False), device="cpu")
    lm = charlm.load(tiny_model, device="cpu")
    texts = ["the cat sat on the mat", "the dog ate the pear"]
    plain = [s.logprob for s in bare.score(texts)]
    assert [s.logprob for s in lm.score(texts, ngram_weight=0)] == plain
    assert [s.logprob for s in bare.score(texts, ngram_weight="auto")] == plain  # no n-gram: auto is 0
    mixed = [s.logprob for s in lm.score(texts, ngram_weight=0.5)]
    assert mixed != plain


def test_score_mixes_per_token_as_documented(tiny_model: Path) -> None:
    import charlm

    lm = charlm.load(tiny_model, device="cpu")
    text = "the cat sat"
    net = lm.score([text], ngram_weight=0, per_token=True)[0].per_token
    mix = lm.ngram_mix(0.3)
    assert mix is not None
    ids = lm.tokenizer.encode(text) + [EOS]
    gram, _ = mix.ngram.logprobs(np.array([EOS, *ids]), np.zeros(len(ids) + 1, dtype=np.int64))
    want = sum(math.log(0.7 * math.exp(lp) + 0.3 * math.exp(g)) for (_, lp), g in zip(net, gram[1:], strict=True))
    assert math.isclose(lm.score([text], ngram_weight=0.3)[0].logprob, want, rel_tol=1e-6)
    assert lm.score([text], ngram_weight=1)[0].logprob == pytest.approx(float(gram[1:].sum()), rel=1e-6)


def test_eval_streamed_mixes_each_rows_history(tiny_model: Path, tmp_path: Path) -> None:
    import charlm

    lm = charlm.load(tiny_model, device="cpu")
    text = "the cat sat on the log\nthe dog ate the apple\n"
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    ids = lm.tokenizer.encode(text)
    inputs = torch.tensor([[EOS, *ids[:-1]]])
    with torch.no_grad():
        logits, _ = lm.module(inputs)
    net = torch.log_softmax(logits[0].double(), -1).gather(-1, torch.tensor(ids)[:, None]).squeeze(-1).numpy()
    mix = lm.ngram_mix("auto")
    assert mix is not None
    assert mix.classes == CLASSES and mix.stream_weight.size == mix.ngram.order * CLASSES  # the gate
    gram, classes = mix.ngram.logprobs(np.array([EOS, *ids]), np.zeros(len(ids) + 1, dtype=np.int64), CLASSES)
    w = mix.stream_weight[classes[1:]]
    want = float(np.log((1 - w) * np.exp(net) + w * np.exp(gram[1:])).sum())
    got = lm.eval(path, batch_size=1)
    assert math.isclose(got.logprob, want, rel_tol=1e-5)
    assert got.ngram is not None and got.ngram["source"] == "model"
    assert (
        lm.eval(path, ngram_weight=0).logprob
        == charlm.load(tiny_model, device="cpu").eval(path, ngram_weight=0).logprob
    )
    cached = lm.eval(path, cache=50)  # the neural cache mixes on top of the n-gram mixture
    assert math.isfinite(cached.logprob) and cached.ngram is not None and cached.cache is not None


def test_sampling_draws_from_the_mixture(tiny_model: Path) -> None:
    import charlm

    lm = charlm.load(tiny_model, device="cpu")
    mix = lm.ngram_mix(0.5)
    assert mix is not None
    logits = torch.randn(2, lm.tokenizer.vocab_size)
    out = mix.next_logits(logits, [[EOS, 5, 6], [EOS]])
    assert torch.allclose(out.exp().sum(-1), torch.ones(2), atol=1e-5)
    a = lm.sample("the ", length=30, seed=3, ngram_weight=0.5)[0]
    b = lm.sample("the ", length=30, seed=3, ngram_weight=0.5)[0]
    assert a.text == b.text and math.isfinite(a.logprob)
    plain = lm.sample("the ", length=30, seed=3, ngram_weight=0)[0]
    assert plain.text == charlm.load(tiny_model, device="cpu").sample("the ", length=30, seed=3, ngram_weight=0)[0].text


def test_word_level_model_gets_an_ngram(tiny_word_model: Path) -> None:
    import charlm

    lm = charlm.load(tiny_word_model, device="cpu")
    mix = lm.ngram_mix("auto")
    assert mix is not None and mix.ngram.order == 5
    s = lm.score(["the cat sat on the mat", "mat the on sat cat the"])
    assert s[0].logprob > s[1].logprob


def test_cli_build_export_and_external_arpa(tiny_model: Path, tmp_path: Path) -> None:
    model = _copy(tiny_model, tmp_path, keep_ngram=False)
    result = runner.invoke(app, ["score", "the cat", "--model", str(model), "--ngram-weight", "0.5"])
    assert result.exit_code == 1 and "charlm ngram build" in result.stderr
    result = runner.invoke(app, ["ngram", "build", "--model", str(model), "--order", "3"])
    assert result.exit_code == 0, result.output
    assert "3-gram" in result.stdout and "validation lines" in result.stdout
    arpa = tmp_path / "m.arpa"
    result = runner.invoke(app, ["ngram", "export", "--arpa", str(arpa), "--model", str(model)])
    assert result.exit_code == 0 and arpa.read_text(encoding="utf-8").startswith("\\data\\")
    import charlm

    lm = charlm.load(model, device="cpu")
    own = lm.score(["the cat sat"], ngram_weight=0.4)[0].logprob
    external = lm.score(["the cat sat"], ngram_weight=0.4, ngram=arpa)[0].logprob
    assert math.isclose(own, external, rel_tol=1e-5)
    for bad in ("-1", "2", "lots"):
        result = runner.invoke(app, ["score", "the cat", "--model", str(model), "--ngram-weight", bad])
        assert (
            result.exit_code == 2 and result.stderr.startswith("charlm: error: ") and "--ngram-weight" in result.stderr
        )
    (tmp_path / "t.txt").write_text("the cat sat\n", encoding="utf-8")
    result = runner.invoke(
        app, ["eval", str(tmp_path / "t.txt"), "--model", str(model), "--json", "--ngram-weight", "0"]
    )
    assert result.exit_code == 0 and '"ngram": null' in result.stdout


def test_context_classes_are_the_matched_length_and_the_ngrams_confidence() -> None:
    matched, logbo = np.array([0, 1, 1, 1, 1, 3]), np.array([0.0, -5.0, -2.0, -1.0, -0.1, -0.1])
    assert context_class(matched, logbo, 1).tolist() == matched.tolist()  # one class: the matched length
    assert context_class(matched, logbo, CLASSES).tolist() == [3, 4, 5, 6, 7, 15]  # no context: least sure
    m = estimate(count_ngrams(np.array([2, 3, 2, 3, 3, 2, 2, 3, 2]), 3, 4, EOS))
    seq = np.array([EOS, 2, 3, 2, 3, 3, 2])
    lp, classes = m.logprobs(seq, np.zeros(seq.size, dtype=np.int64), CLASSES)
    lp1, lengths = m.logprobs(seq, np.zeros(seq.size, dtype=np.int64))
    assert np.array_equal(lp, lp1) and np.array_equal(classes // CLASSES, lengths)
    for t in range(1, seq.size):  # a history's class is the same whether scored in a stream or asked for next
        p, cls = m.distribution(seq[max(0, t - 2) : t], CLASSES)
        assert cls == classes[t] and math.isclose(float(p.sum()), 1.0, rel_tol=1e-6)


def test_the_gate_is_tuned_per_class_and_never_loses_to_lengths(tiny_model: Path) -> None:
    import json

    meta = json.loads((tiny_model / "ngram.json").read_text())
    assert meta["mode"] == "gate" and meta["classes"] == CLASSES
    for which in ("lines", "stream"):
        tuned = meta[which]
        assert len(tuned["lambda_by_class"]) == meta["order"] * CLASSES
        assert all(0.0 <= x <= 1.0 for x in tuned["lambda_by_class"])
        assert tuned["mixed_by_class"] <= tuned["mixed_by_context"] + 1e-4  # finer groups, each at its best
