"""Chinese at word level: segmentation (--segment auto|none|zh), spaces in mixed text, the refusal and
warning on text with few spaces, the segmenter saved with the model, and a segmented model trained briefly."""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import CharlmError, CharlmWarning
from charlm.tokenizers import build_tokenizer, load_tokenizer
from charlm.tokenizers.segment import cjk_share, is_unspaced, join_words, pieces_to_words
from charlm.tokenizers.unk import apply_unk_policy, unknown_units
from charlm.tokenizers.word import WordTokenizer
from tests.conftest import SHARED, TINY_TEXT

ROOT = Path(__file__).resolve().parents[1]
SEEDS = next(  # the seed notes (Chinese): beside the shared data, or in the checkout
    (p for p in (SHARED.parent / "seeds", ROOT / "shared" / "seeds") if p.is_dir()),
    SHARED.parent / "seeds",
)
MIXED = [
    "用 Python 写 RNN 模型",
    "我爱 Python 和 C++，café 3.14 ok  双空格\t制表  the cat sat.",
    "  前导空格 and trailing  ",
    "循环神经网络（Recurrent Neural Networks）的隐藏层 $s_t = f(Ux_t + Ws_{t-1})$ 🙂",
    '<img src="../img/DL/RNN.jpg" alt="RNN" style="zoom:80%;" />',
    "",
]
ANIMALS = ["猫", "狗", "老虎", "兔子", "熊猫"]
FOODS = ["苹果", "香蕉", "米饭", "面条", "鱼"]


def chinese_text(lines: int = 300, seed: int = 0) -> str:
    """Short Chinese sentences without spaces: animals eat foods."""
    rng = random.Random(seed)
    templates = ["{a}喜欢吃{f}。", "今天{a}在花园里吃{f}。", "我的{a}不吃{f}，它喜欢{g}。", "{a}和{b}都爱{f}。"]
    out = []
    for _ in range(lines):
        a, b = rng.sample(ANIMALS, 2)
        f, g = rng.sample(FOODS, 2)
        out.append(rng.choice(templates).format(a=a, b=b, f=f, g=g))
    return "\n".join(out) + "\n"


def words(tok: WordTokenizer, text: str) -> list[str]:
    return [tok.token_str(i) for i in tok.encode(text)]


PIECE = st.one_of(st.sampled_from([" ", "\t", "中文", "的", "，", "ab", "é", "3", "-"]), st.text(min_size=1))


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECE, max_size=12))
def test_pieces_to_words_round_trips_any_pieces(pieces: list[str]) -> None:
    pieces = [p for p in pieces if p != "<unk>"]  # a literal <unk> is the unknown word, never text
    assert join_words(pieces_to_words(pieces)) == "".join(pieces)


def test_spaces_between_latin_words_are_implied_and_others_kept() -> None:
    tok = build_tokenizer("word", "\n".join(MIXED), segment="zh")
    assert words(tok, MIXED[0]) == ["用", " ", "Python", " ", "写", " ", "RNN", " ", "模型"]
    assert words(tok, "the cat sat.") == ["the", "cat", "sat", "."]
    assert words(tok, "café ok") == ["café", "ok"]  # jieba cuts "caf" + "é"; touching pieces are one word
    for text in MIXED:
        assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode("\n".join(MIXED))) == "\n".join(MIXED)


def test_chinese_words_join_without_spaces() -> None:
    tok = build_tokenizer("word", chinese_text())
    assert tok.segmenter is not None  # auto chose jieba
    assert words(tok, "今天猫在花园里吃鱼。") == ["今天", "猫", "在", "花园里", "吃", "鱼", "。"]
    assert tok.decode(tok.encode("今天猫在花园里吃鱼。")) == "今天猫在花园里吃鱼。"


def test_auto_leaves_english_alone() -> None:
    auto = build_tokenizer("word", TINY_TEXT)
    plain = build_tokenizer("word", TINY_TEXT, segment="none")
    assert auto.segmenter is None and auto.to_json() == plain.to_json()
    assert "segment" not in auto.to_json()  # the tokenizer.json of before, same fingerprint
    assert cjk_share(TINY_TEXT) == 0.0 and cjk_share(chinese_text()) == 1.0
    assert is_unspaced("中") and is_unspaced("の") and not is_unspaced("a") and not is_unspaced("한")


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed notes not present")
def test_seed_notes_segment_and_round_trip() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    tok = build_tokenizer("word", text)
    assert tok.segmenter is not None
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert len(text) / len(ids) < 3  # words, not the ~12-17 character clauses of whitespace splitting
    with pytest.warns(CharlmWarning, match="few spaces"):
        plain = build_tokenizer("word", text, segment="none")
    assert len(text) / len(plain.encode(text)) > 10
    frequent = sorted(tok.stoi, key=lambda w: -text.count(w))[:50]
    assert "神经网络" in tok.stoi and "的" in frequent


def test_few_spaces_refused_by_auto_and_warned_by_none() -> None:
    thai = "ภาษาไทยเขียนโดยไม่มีช่องว่างระหว่างคำเลยแม้แต่น้อย\n" * 5
    with pytest.raises(CharlmError, match=r"few spaces .*--segment zh.*--level char.*--level unigram"):
        build_tokenizer("word", thai)
    with pytest.warns(CharlmWarning, match="few spaces"):
        tok = build_tokenizer("word", chinese_text(), segment="none")
    assert tok.segmenter is None and sum(map(len, tok.itos[2:])) / len(tok.itos[2:]) > 8  # clauses, as warned
    with pytest.raises(CharlmError, match="needs --level word"):
        build_tokenizer("char", "abc", segment="zh")
    with pytest.raises(CharlmError, match="unknown --segment"):
        build_tokenizer("word", "a b", segment="ja")


def test_cli_refusal_and_warning_are_one_line(cli: CliRunner, tmp_path: Path) -> None:
    runner = cli
    path = tmp_path / "zh.txt"
    path.write_text("".join(chr(0x0E01 + i % 40) for i in range(400)) + "\n", encoding="utf-8")
    for command in (
        ["tokenize", str(path), "--level", "word"],
        ["train", str(path), "--level", "word", "--steps", "1"],
    ):
        result = runner.invoke(app, [*command, "--out", str(tmp_path / "m")] if command[0] == "train" else command)
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("charlm: error: word level: this text has few spaces")
    assert not (tmp_path / "m").exists()
    path.write_text(chinese_text(), encoding="utf-8")
    result = runner.invoke(app, ["tokenize", str(path), "--level", "word", "--segment", "none", "--json"])
    assert result.exit_code == 0
    assert result.stderr.strip().startswith("charlm: warning: word level: this text has few spaces")
    assert len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(app, ["tokenize", str(path), "--level", "word", "--json"])
    stats = json.loads(result.stdout)
    assert stats["segment"]["name"] == "jieba" and stats["chars_per_token"] < 2


def test_segmenter_saved_and_checked_on_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tok = build_tokenizer("word", chinese_text())
    tok.save(tmp_path)
    saved = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))["segment"]
    assert saved["name"] == "jieba" and saved["version"] == "0.42.1" and len(saved["dictionary_sha256"]) == 64
    again = load_tokenizer(tmp_path)
    assert again.to_json() == tok.to_json() and again.encode("猫喜欢吃鱼。") == tok.encode("猫喜欢吃鱼。")
    payload = tok.to_json()
    payload["segment"] = {**saved, "version": "0.39", "dictionary_sha256": "0" * 64}
    (tmp_path / "tokenizer.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CharlmError, match=r"cut by jieba 0\.39 .* pip install jieba==0\.39"):
        load_tokenizer(tmp_path)
    tok.save(tmp_path)
    monkeypatch.setitem(sys.modules, "jieba", None)  # jieba not installed
    with pytest.raises(
        CharlmError, match=r"jieba 0\.42\.1\) needs jieba, which is not installed: pip install 'charlm\[zh\]'$"
    ):
        load_tokenizer(tmp_path)
    with pytest.raises(CharlmError, match=r"^Chinese word segmentation needs jieba, .* 'charlm\[zh\]'$"):
        build_tokenizer("word", chinese_text())


def test_unknown_words_are_segmented_words() -> None:
    tok = build_tokenizer("word", chinese_text() + "猫 and the cat sat\n")
    assert tok.decode(tok.encode("猫吃西瓜 the dog sat")) == "猫吃<unk> the <unk> sat"
    assert unknown_units(tok, "猫喜欢吃西瓜。") == ["西瓜"]
    assert apply_unk_policy(tok, "猫喜欢吃西瓜。", "skip") == "猫喜欢吃。"
    with pytest.raises(CharlmError, match="西瓜"):
        apply_unk_policy(tok, "猫喜欢吃西瓜。", "error")


@pytest.fixture(scope="module")
def chinese_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train

    root = tmp_path_factory.mktemp("zh")
    (root / "zh.txt").write_text(chinese_text(600), encoding="utf-8")
    config = TrainConfig(
        corpus=str(root / "zh.txt"),
        out=str(root / "model"),
        checkpoints=str(root / "checkpoints"),
        level="word",
        hidden=48,
        embed=16,
        layers=1,
        seq_len=16,
        batch_size=8,
        steps=150,
        eval_every=50,
        lr=1e-2,
        device="cpu",
        dropout=0.0,
    )
    return train(config).run_dir


@pytest.mark.slow
def test_segmented_model_scores_samples_evaluates_and_has_word_neighbours(cli: CliRunner, chinese_model: Path) -> None:
    import charlm
    from charlm.eval.neighbors import neighbors

    model = charlm.load(chinese_model, device="cpu")
    assert model.info()["segment"]["name"] == "jieba"
    good, bad = model.score(["猫喜欢吃鱼。", "鱼吃喜欢猫。"], per_token=True)
    assert [t for t, _ in good.per_token or []] == ["猫", "喜欢", "吃", "鱼", "。", "<eos>"]
    assert good.logprob > bad.logprob
    sample = model.sample("老虎", length=40, seed=1, until_eos=True)[0]
    assert sample.ended == "eos" and " " not in sample.text and sample.text
    text = (chinese_model.parent / "zh.txt").read_text(encoding="utf-8")
    result = model.eval(chinese_model.parent / "zh.txt")
    assert result.chars == len(text) and result.tokens < result.chars  # chars of the text, not of tokens
    found = neighbors(model.module, model.tokenizer, "猫", k=8)
    assert all(len(n.word) <= 3 for n in found)  # words, not clauses ("我的猫不吃鱼，它喜欢米饭。")
    assert sum(is_unspaced(n.word[0]) for n in found) >= 6
    shutil.copytree(chinese_model, chinese_model.parent / "copy")
    result = cli.invoke(app, ["neighbors", "熊猫", "--model", str(chinese_model.parent / "copy"), "--json"])
    assert result.exit_code == 0 and all(len(n["word"]) <= 3 for n in json.loads(result.stdout))
