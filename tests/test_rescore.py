"""N-best rescoring: WER by edit distance, TSV and Moses parsing, a hand-built list with a known
answer, tuning that recovers a planted weight, and ``charlm rescore`` end to end."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.eval.nbest import edit_distance, parse_line, read_nbest, read_refs, word_errors
from charlm.eval.rescore import Weights, featurize, rerank
from charlm.eval.rescore_run import rescore_nbest
from charlm.eval.rescore_tune import tune

runner = CliRunner()


class TableScorer:
    """A language model whose log-probabilities (and OOV counts) are looked up in a dict."""

    def __init__(self, name: str, table: dict[str, float], oov: dict[str, int] | None = None) -> None:
        self.name, self.table, self.oov = name, table, oov or {}
        self.batches: list[int] = []

    def logprobs(self, texts: Sequence[str]) -> list[tuple[float, int]]:
        self.batches.append(len(texts))
        return [(self.table[t], self.oov.get(t, 0)) for t in texts]


@pytest.mark.parametrize(
    ("hyp", "ref", "distance"),
    [
        ("", "", 0),
        ("a b c", "a b c", 0),
        ("a x c", "a b c", 1),  # substitution
        ("a b", "a b c", 1),  # deletion
        ("a a b c", "a b c", 1),  # insertion
        ("", "a b c", 3),
        ("c b a", "a b c", 2),
        ("the pair was their", "the pear was there", 2),
    ],
)
def test_edit_distance(hyp: str, ref: str, distance: int) -> None:
    assert edit_distance(hyp.split(), ref.split()) == distance == edit_distance(ref.split(), hyp.split())


def test_word_error_rate_sums_edits_over_reference_words() -> None:
    errs = word_errors(["a x c", "d e"], ["a b c", "d e f g"])
    assert (errs.errors, errs.words) == (3, 7) and errs.wer == pytest.approx(3 / 7)


def test_parse_tsv_and_moses() -> None:
    tsv = parse_line("7\tthe  pear salad\t-3.5\t-1.5", "x")
    assert (tsv.id, tsv.text, tsv.score, tsv.features) == ("7", "the pear salad", -5.0, (-3.5, -1.5))
    moses = parse_line("0 ||| the pair salad ||| LM0= -10.5 TM0= -2 -1 ||| -4.25", "x")
    assert (moses.id, moses.text, moses.score, moses.features) == ("0", "the pair salad", -4.25, (-10.5, -2.0, -1.0))
    for bad in ("7\tno score", "7\tthe pear\tabc", "7\tx\tnan", "0 ||| only two"):
        with pytest.raises(CharlmError):
            parse_line(bad, "f:1")


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


HAND = [  # the decoder prefers "pair" and "there"; the language model knows better
    "u1\tthe pear salad\t-2.0",
    "u1\tthe pair salad\t-1.0",
    "u1\tthe pear salad salad\t-4.0",
    "u2\ttheir house is red\t-3.0",
    "u2\tthere house is red\t-2.5",
]
LM = {
    "the pear salad": -5.0,
    "the pair salad": -9.0,
    "the pear salad salad": -6.0,
    "their house is red": -7.0,
    "there house is red": -10.0,
}


def test_hand_built_list_has_a_known_answer(tmp_path: Path) -> None:
    nbest = _write(tmp_path / "x.nbest", HAND)
    refs = _write(tmp_path / "x.refs", ["the pear salad", "their house is red"])
    scorer = TableScorer("lm", LM)
    alone = rescore_nbest(nbest, [scorer], Weights((0.0,)), refs=refs)
    assert alone.best == ["the pair salad", "there house is red"] and alone.after.errors == 2
    result = rescore_nbest(nbest, [scorer], Weights((1.0,)), refs=refs)
    # u1: -2-5 = -7 beats -1-9 = -10 and -4-6 = -10; u2: -3-7 = -10 beats -2.5-10 = -12.5
    assert result.best == ["the pear salad", "their house is red"]
    assert [h.score for h in result.ranked[0]] == [-7.0, -10.0, -10.0]
    assert (result.before.errors, result.after.errors) == (2, 0) and scorer.batches[-2:] == [3, 2]
    # A length bonus of 4 per word lifts the doubled word: -10 + 4 * 4 = 6 beats -7 + 4 * 3 = 5.
    longer = rescore_nbest(nbest, [scorer], Weights((1.0,), 4.0), refs=refs)
    assert longer.best[0] == "the pear salad salad" and longer.after.errors == 1


def test_oov_weight_prices_unknown_words(tmp_path: Path) -> None:
    nbest = _write(tmp_path / "x.nbest", ["u\tthe pear\t0", "u\tthe paer\t0"])
    cheap_unk = TableScorer("word", {"the pear": -8.0, "the paer": -6.0}, {"the paer": 1})
    assert rescore_nbest(nbest, [cheap_unk], Weights((1.0,))).best == ["the paer"]
    assert rescore_nbest(nbest, [cheap_unk], Weights((1.0,), 0.0, (-5.0,))).best == ["the pear"]


def _planted(tmp_path: Path, weight: float, ids: int = 60) -> tuple[Path, Path, dict[str, float]]:
    """Two hypotheses per id; the right one wins exactly when the LM weight is near ``weight``."""
    rng = random.Random(3)
    lines, refs, table = [], [], {}
    for n in range(ids):
        right, wrong = f"right {n}", f"wrong {n}"
        lm_gap = rng.uniform(1.0, 4.0)
        # Half the ids need w > threshold (decoder against, LM for), half need w < threshold (the other way).
        threshold = weight + (-1 if n % 2 else 1) * rng.uniform(0.02, 0.5)
        sign = 1.0 if n % 2 else -1.0
        table[right], table[wrong] = sign * lm_gap, 0.0
        lines += [f"u{n}\t{right}\t{-sign * threshold * lm_gap}", f"u{n}\t{wrong}\t0.0"]
        refs.append(f"u{n}\t{right}")
    return _write(tmp_path / "d.nbest", lines), _write(tmp_path / "d.refs", refs), table


def test_tuning_recovers_a_planted_weight(tmp_path: Path) -> None:
    nbest, refs, table = _planted(tmp_path, 0.7)
    groups = read_nbest(nbest)
    features = featurize(groups, [TableScorer("lm", table)])
    tuned = tune(features, read_refs(refs, list(groups)), tune_oov=False)
    assert tuned.weights.lm[0] == pytest.approx(0.7, abs=0.05)
    assert tuned.after.errors == 0 < tuned.before.errors
    assert all(r[0].hyp.text.startswith("right") for r in rerank(features, tuned.weights))


def test_ranking_is_blind_to_a_models_scale(tmp_path: Path) -> None:
    """Features are scaled to unit spread before the one penalty: a model's log-probabilities x10 get weight /10."""
    from charlm.eval.rescore import error_table
    from charlm.eval.rescore_tune import _ranking

    nbest, refs, table = _planted(tmp_path, 0.7)
    groups = read_nbest(nbest)
    truth = read_refs(refs, list(groups))

    def ranked(scores: dict[str, float]) -> np.ndarray:
        features = featurize(groups, [TableScorer("lm", scores)])
        return _ranking(*features.padded(), error_table(features, truth))

    plain, scaled = ranked(table), ranked({text: 10 * lp for text, lp in table.items()})
    assert scaled[1] * 10 == pytest.approx(plain[1], rel=1e-6)
    assert np.delete(scaled, 1) == pytest.approx(np.delete(plain, 1), rel=1e-6, abs=1e-9)


def test_no_tune_oov_keeps_the_given_oov_weights(tmp_path: Path) -> None:
    nbest, refs, table = _planted(tmp_path, 0.7)
    groups = read_nbest(nbest)
    features = featurize(groups, [TableScorer("lm", table)])
    kept = tune(features, read_refs(refs, list(groups)), Weights((1.0,), 0.0, (-5.0,)), tune_oov=False)
    assert kept.weights.oov == (-5.0,)


def test_tuning_picks_the_tuner_that_cross_validates(tmp_path: Path) -> None:
    nbest, refs, table = _planted(tmp_path, 0.7)
    groups = read_nbest(nbest)
    tuned = tune(featurize(groups, [TableScorer("lm", table)]), read_refs(refs, list(groups)))
    assert set(tuned.held_out) == {"ranking", "grid"}
    assert tuned.method == min(("ranking", "grid"), key=lambda name: tuned.held_out[name])


def test_tuning_learns_a_penalty_per_character(tmp_path: Path) -> None:
    """Same words, same LM score; only the length in characters tells the right one (no doubled letter)."""
    lines, refs, table = [], [], {}
    for n in range(40):
        right, wrong = f"id{n} the pear", f"id{n} the peear"
        table[right] = table[wrong] = -5.0
        lines += [f"u{n}\t{right}\t0.0", f"u{n}\t{wrong}\t{0.3 + 0.01 * n}"]
        refs.append(f"u{n}\t{right}")
    nbest, ref = _write(tmp_path / "c.nbest", lines), _write(tmp_path / "c.refs", refs)
    result = rescore_nbest(nbest, [TableScorer("lm", table)], tune_on=nbest, tune_refs=ref, refs=ref)
    assert result.before is not None and result.after is not None
    assert result.before.errors == 40 and result.after.errors == 0
    assert result.weights.char_penalty < -0.7  # one more character must cost more than the decoder's 0.69
    assert result.ranked[0][0].chars == len("id0thepear")


def test_cli_rescore_char_penalty(tiny_model: Path, tmp_path: Path) -> None:
    nbest = _write(tmp_path / "x.nbest", HAND)
    out = runner.invoke(app, ["rescore", str(nbest), "-m", str(tiny_model), "--json", "--char-penalty", "-0.5"])
    assert out.exit_code == 0, out.output
    records = [json.loads(line) for line in out.stdout.splitlines()]
    top = records[0]["hypotheses"][0]
    lm = top["lm"][tiny_model.name]
    assert top["score"] == pytest.approx(top["decoder"] + lm - 0.5 * top["chars"])
    assert records[-1]["summary"]["weights"]["char_penalty"] == -0.5
    assert "--char-penalty" in runner.invoke(app, ["rescore", "--help"]).output


def test_two_models_are_tuned_together(tmp_path: Path) -> None:
    """Only the sum of two models' evidence separates right from wrong: both get a weight."""
    lines, refs, a, b = [], [], {}, {}
    for n in range(40):
        right, wrong = f"r{n}", f"w{n}"
        lines += [f"u{n}\t{right}\t-1.0", f"u{n}\t{wrong}\t0.0"]
        refs.append(f"u{n}\t{right}")
        a[right], a[wrong] = (2.0, 0.0) if n % 2 else (0.0, 0.5)
        b[right], b[wrong] = (0.0, 0.5) if n % 2 else (2.0, 0.0)
    nbest, ref = _write(tmp_path / "t.nbest", lines), _write(tmp_path / "t.refs", refs)
    result = rescore_nbest(nbest, [TableScorer("a", a), TableScorer("b", b)], tune_on=nbest, tune_refs=ref, refs=ref)
    assert result.after.errors == 0 and min(result.weights.lm) > 0.6
    assert result.tuned is not None and result.tuned.before.errors == 40


def test_rescore_errors_are_one_line(tmp_path: Path) -> None:
    nbest = _write(tmp_path / "x.nbest", HAND)
    with pytest.raises(CharlmError, match="one --weight per --model"):
        rescore_nbest(nbest, [TableScorer("lm", LM)], Weights((1.0, 2.0)))
    with pytest.raises(CharlmError, match="plain reference lines"):
        rescore_nbest(nbest, [TableScorer("lm", LM)], refs=_write(tmp_path / "r", ["only one"]))
    with pytest.raises(CharlmError, match="empty or only whitespace"):
        read_nbest(_write(tmp_path / "empty", ["", " "]))


def test_cli_rescore_with_a_real_model(tiny_model: Path, tmp_path: Path) -> None:
    nbest = _write(tmp_path / "x.nbest", HAND)
    moses = _write(
        tmp_path / "m.nbest",
        [" ||| ".join([h.split("\t")[0], h.split("\t")[1], "d= 0", h.split("\t")[2]]) for h in HAND],
    )
    refs = _write(tmp_path / "x.refs", ["u1\tthe pear salad", "u2\ttheir house is red"])
    plain = runner.invoke(app, ["rescore", str(nbest), "-m", str(tiny_model), "--refs", str(refs)])
    assert plain.exit_code == 0, plain.output
    lines = [line for line in plain.stdout.splitlines() if "\t" in line]
    assert [line.split("\t")[0] for line in lines] == ["u1", "u2"]
    assert "WER" in plain.stderr
    as_json = runner.invoke(app, ["rescore", str(moses), "-m", str(tiny_model), "--json", "--weight", "0.5"])
    assert as_json.exit_code == 0, as_json.output
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    u1 = records[0]["hypotheses"]
    assert [h["rank"] for h in u1] == [1, 2, 3] and all(math.isfinite(h["score"]) for h in u1)
    lm = u1[0]["lm"][tiny_model.name]
    assert u1[0]["score"] == pytest.approx(u1[0]["decoder"] + 0.5 * lm)
    assert records[-1]["summary"]["weights"]["lm"][tiny_model.name] == 0.5
    tuned = runner.invoke(app, ["rescore", "-m", str(tiny_model), "--tune", str(nbest), "--refs", str(refs)])
    assert tuned.exit_code == 0 and "dev WER" in tuned.stderr and tuned.stdout == ""
    assert "tuner: " in tuned.stderr and "held-out folds" in tuned.stderr


def test_cli_rescore_bad_input_is_one_line(tiny_model: Path, tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.nbest", ["u1\tthe pear\tnot-a-number"])
    result = runner.invoke(app, ["rescore", str(bad), "-m", str(tiny_model)])
    assert result.exit_code == 1 and result.stderr.startswith("charlm: error:") and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_rescore_help_has_an_example() -> None:
    result = runner.invoke(app, ["rescore", "--help"])
    assert result.exit_code == 0 and "Example: charlm rescore" in result.output


def test_api_rescore_from_a_model_or_a_path(tiny_model: Path, tmp_path: Path) -> None:
    from charlm.api import load, rescore

    nbest = _write(tmp_path / "x.nbest", HAND)
    lm = load(tiny_model, device="cpu")
    by_method = lm.rescore(nbest, weight=0.5, length_penalty=0.1)
    by_path = rescore(nbest, [str(tiny_model)], Weights((0.5,), 0.1))
    assert by_method.ids == ["u1", "u2"] and by_method.best == by_path.best
    scores = [h.score for h in by_method.ranked[0]]
    assert scores == pytest.approx([h.score for h in by_path.ranked[0]], abs=1e-5) and scores == sorted(scores)[::-1]
