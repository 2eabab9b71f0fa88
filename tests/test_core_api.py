"""One core to build on: the library does what the commands do, and the bidirectional wrapper.

- ``unk=`` on Model.score / rank / sample / beam / score_both (no longer only in the CLI);
- ``Model.score_file`` (``score --file``) honours batch size, encoding, errors; cache options checked
  in the library; neighbours, analogies and gradient flow from the API;
- a ``--direction both`` model is a BidirectionalLM; old weight names (core_bwd.* ...) map on load;
- what a resumed run may change and what is model structure, declared once on the dataclass fields;
  the resume decision and the options -> TrainConfig mapping live in charlm.training;
- the events a run emits carry exactly the keys charlm.training.events declares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
import torch

import charlm
from charlm import checkpoint as ckpt
from charlm.errors import CharlmError
from charlm.models.base import BidirectionalLM, LanguageModel, build_model
from charlm.models.config import ModelConfig, structure_fields
from charlm.training.config import TrainConfig, option_values
from charlm.training.launch import resume_request
from charlm.training.resume import resumed_config
from tests import handbuilt as hb

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "v0"
BOTH = FIXTURES / "m_word_both"


@pytest.fixture
def bigram(tmp_path: Path) -> Iterator[charlm.Model]:
    with hb.registered():
        yield charlm.load(hb.save(tmp_path / "bigram"), device="cpu")


# -- unk= in the library -------------------------------------------------------------------------


def test_score_takes_the_unknown_token_policy(bigram: charlm.Model) -> None:
    skipped = bigram.score("axb", unk="skip")[0]
    assert skipped.text == "ab" and skipped.logprob == pytest.approx(bigram.score("ab")[0].logprob)
    replaced = bigram.score("axb")[0]  # default: x is <unk>
    assert replaced.text == "axb" and replaced.oov == 1
    with pytest.raises(CharlmError, match="not in the model's vocabulary: 'x'"):
        bigram.score(["ab", "axb"], unk="error")
    with pytest.raises(CharlmError, match=r"--unk .drop. is not one of"):
        bigram.score("ab", unk="drop")
    assert bigram.rank(["axb", "b"], unk="skip").scores[0].text in ("ab", "b")


def test_sample_and_beam_take_the_unknown_token_policy(bigram: charlm.Model) -> None:
    sample = bigram.sample("axa", length=3, seed=1, unk="skip")[0]
    assert sample.prime == "aa" and sample.prime == bigram.prepare("axa", "skip")
    assert bigram.beam("xb", width=2, length=2, unk="skip")[0].prime == "b"
    for generate in (bigram.sample, bigram.beam):
        with pytest.raises(CharlmError, match="not in the model's vocabulary"):
            generate("ax", unk="error")


def test_score_both_takes_the_unknown_token_policy() -> None:
    lm = charlm.load(BOTH, device="cpu")
    got = lm.score_both(["First Citizen: zzzqqq we are"], unk="skip")[0]
    assert got.text == "First Citizen: we are"
    assert got.mean == pytest.approx(lm.score_both(["First Citizen: we are"])[0].mean)
    with pytest.raises(CharlmError, match="zzzqqq"):
        lm.score_both(["the zzzqqq"], unk="error")


# -- score --file and eval through the API -------------------------------------------------------


def test_score_file_is_eval_with_the_same_options(bigram: charlm.Model, tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(("ab\nba\xe9\n" * 24_000).encode("latin-1"))  # 168 KB: room for several 32 KiB rows
    with pytest.raises(CharlmError):
        bigram.score_file(path)  # not UTF-8: refused, as eval refuses it
    got = bigram.score_file(path, batch_size=4, encoding="latin-1")
    want = bigram.eval(path, batch_size=4, encoding="latin-1")
    assert isinstance(got, charlm.CorpusScore) and got.to_dict() == want.to_dict()
    assert got.rows == 4 and bigram.score_file(path, encoding="latin-1").rows != 4  # --batch-size honoured
    replaced = bigram.score_file(path, errors="replace")
    assert (
        isinstance(replaced, charlm.CorpusScore) and replaced.to_dict() == bigram.eval(path, errors="replace").to_dict()
    )


def test_score_file_of_a_bidirectional_model_scores_both_ways(tmp_path: Path) -> None:
    lm = charlm.load(BOTH, device="cpu")
    path = tmp_path / "t.txt"
    path.write_bytes("First Citizen: we are\nthe you\n".encode("utf-16"))
    got = lm.score_file(path, encoding="utf-16")
    assert isinstance(got, list) and got[0].text == str(path)
    assert got == lm.score_both(file=path, encoding="utf-16")
    assert got[0].backward != got[0].forward


def test_cache_tuning_without_a_cache_is_refused_by_the_library(bigram: charlm.Model, tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("ab\n" * 10, encoding="utf-8")
    with pytest.raises(CharlmError, match="add --cache N"):
        bigram.eval(path, cache_theta=0.5)
    assert bigram.eval(path, cache=5).cache == {"size": 5, "theta": 0.3, "lambda": 0.1}


def test_neighbors_analogy_and_gradflow_from_the_api(tmp_path: Path) -> None:
    from charlm.eval.neighbors import neighbors

    lm = charlm.load(BOTH, device="cpu")
    found = lm.neighbors("the", 3)
    assert len(found) == 3 and found == neighbors(lm.module.forward_lm, lm.tokenizer, "the", 3)
    assert not {"we", "you", "the"} & {n.word for n in lm.analogy("we", "you", "the", k=2)}
    with pytest.raises(CharlmError, match="-k must be in"):
        lm.neighbors("the", 0)
    plot = tmp_path / "g.png"
    results = charlm.gradflow(["rnn"], length=5, batch=2, hidden=4, plot=plot)
    assert [r.label for r in results] == ["rnn"] and len(results[0].norms) == 4 and plot.stat().st_size > 0
    with pytest.raises(CharlmError, match=re.escape("--length must be in [3, 100_000] (got 2)")):
        charlm.gradflow(["rnn"], length=2)


# -- the bidirectional wrapper -------------------------------------------------------------------


def _old_name(name: str) -> str:
    """The pre-wrapper (charlm 0.1) name of a BidirectionalLM weight."""
    for old, new in {
        "core_bwd.": "backward_lm.core.",
        "proj_bwd.": "backward_lm.proj.",
        "head_bwd.": "backward_lm.head.",
    }.items():
        if name.startswith(new):
            return old + name[len(new) :]
    return name.removeprefix("forward_lm.")


def test_old_bidirectional_weights_load_into_the_wrapper() -> None:
    lm = charlm.load(BOTH, device="cpu")
    assert isinstance(lm.module, BidirectionalLM) and lm.bidirectional
    assert lm.module.backward_lm.embed is lm.module.forward_lm.embed
    from safetensors.torch import load_file

    old = load_file(str(BOTH / ckpt.BEST))
    assert {"core_bwd.rnn.weight_hh_l0", "head_bwd.weight", "embed.weight"} <= set(old)
    for name, tensor in lm.module.named_parameters():
        assert torch.equal(tensor, old[_old_name(name)]), name


def test_upgrade_names_maps_old_names_once_and_leaves_new_ones_alone() -> None:
    old = {"embed.weight": 1, "core.w": 2, "proj.weight": 3, "head.bias": 4, "core_bwd.w": 5, "proj_bwd.weight": 6}
    old["head_bwd.bias"] = 7
    new = ckpt.upgrade_names(old)
    assert new == {
        "forward_lm.embed.weight": 1,
        "forward_lm.core.w": 2,
        "forward_lm.proj.weight": 3,
        "forward_lm.head.bias": 4,
        "backward_lm.core.w": 5,
        "backward_lm.proj.weight": 6,
        "backward_lm.head.bias": 7,
    }
    assert ckpt.upgrade_names(new) == new and ckpt.upgrade_names({"core.w": 1}) == {"core.w": 1}
    assert ckpt.upgrade_names(old, aliases=True)["backward_lm.embed.weight"] == 1


@pytest.mark.parametrize("tie", [False, True])
def test_an_old_trainer_state_restores_into_the_wrapper(tie: bool) -> None:
    """A run checkpointed before the wrapper resumes: weights by name, optimizer state by parameter order."""
    config = ModelConfig(vocab_size=7, arch="gru", layers=1, hidden=6, embed=4, tie_weights=tie, direction="both")
    torch.manual_seed(0)
    model = build_model(config)
    assert isinstance(model, BidirectionalLM)
    old_state = {
        _old_name(k): v.clone() for k, v in model.state_dict().items() if not k.startswith("backward_lm.embed")
    }
    fresh = build_model(config)
    fresh.load_state_dict(ckpt.upgrade_names(old_state, aliases=True))  # strict: every name accounted for
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters(), strict=True))
    # parameters in the pre-wrapper order: embed, core, proj, head, core_bwd, proj_bwd, head_bwd
    order = [_old_name(n).split(".")[0] for n, _ in model.named_parameters()]
    assert order == sorted(order, key=["embed", "core", "proj", "head", "core_bwd", "proj_bwd", "head_bwd"].index)


def test_a_forward_model_is_a_plain_language_model_and_saves_the_same_names(tmp_path: Path) -> None:
    model = build_model(ModelConfig(vocab_size=7, arch="gru", layers=1, hidden=6, embed=4))
    assert type(model) is LanguageModel and not hasattr(model, "core_bwd")
    both = build_model(ModelConfig(vocab_size=7, arch="gru", layers=1, hidden=6, embed=4, direction="both"))
    ckpt.save_weights(both, tmp_path / "w.safetensors")
    again = build_model(both.config)
    ckpt.load_weights(again, tmp_path / "w.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(both.parameters(), again.parameters(), strict=True))


# -- one configuration source --------------------------------------------------------------------


def test_resumable_and_structure_fields_are_declared_on_the_fields() -> None:
    resumable = TrainConfig.resumable()
    assert {"steps", "time", "save_every", "save_every_s", "device", "patience"} <= resumable
    assert not {"hidden", "arch", "corpus", "lr", "seed", "direction"} & resumable
    assert resumable == {f.name for f in fields(TrainConfig) if f.metadata.get("resumable")}
    structure = set(structure_fields())
    assert {"arch", "layers", "hidden", "embed", "tie_weights", "direction", "wdrop", "attention"} <= structure
    assert not {"dropout", "dropoute", "vocab_size"} & structure
    assert structure <= {f.name for f in fields(TrainConfig)}  # every structure field is a training option


def test_option_values_map_command_line_values_onto_the_config(tmp_path: Path) -> None:
    options = {"corpus": tmp_path / "c.txt", "time": "1h30m", "save_every": "200,10m", "resume": True, "hidden": 64}
    values = option_values(options)
    assert values == {
        "corpus": str(tmp_path / "c.txt"),
        "time": 5400.0,
        "save_every": 200,
        "save_every_s": 600.0,
        "hidden": 64,
    }
    assert option_values({"time": None, "save_every": "100"}) == {"time": None, "save_every": 100, "save_every_s": None}
    config = TrainConfig.from_options(options)
    assert (config.corpus, config.time, config.save_every_s, config.hidden) == (
        str(tmp_path / "c.txt"),
        5400.0,
        600.0,
        64,
    )
    with pytest.raises(CharlmError, match="cannot read duration 'often'"):
        option_values({"save_every": "often"})


def _saved_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    corpus = tmp_path / "c.txt"
    corpus.write_text("abc\n", encoding="utf-8")
    from charlm.training.recipes import with_recipe

    config = with_recipe(TrainConfig(corpus=str(corpus), out=str(run), hidden=32, steps=10))
    ckpt.write_config(run, {"model": config.model_config(5).to_dict(), "train": config.to_dict()})
    (run / ckpt.TRAINER_STATE).write_bytes(b"")  # resumable: a run with a checkpoint (nothing-lost's A2 check)
    return run


def test_the_library_decides_what_a_resume_continues_and_changes(tmp_path: Path) -> None:
    run = _saved_run(tmp_path)
    values = option_values({"corpus": run, "steps": 20, "hidden": 512, "save_every": "5", "time": None})
    target, changes = resume_request(values, typed={"corpus", "steps", "save_every"})
    assert target == run.resolve()
    assert changes == {"steps": 20, "save_every": 5, "save_every_s": None}  # only what was typed
    resumed = resumed_config(target, changes)
    assert (resumed.steps, resumed.save_every, resumed.hidden) == (20, 5, 32)
    corpus = tmp_path / "c.txt"
    target, changes = resume_request(option_values({"corpus": corpus, "out": run}), typed={"corpus"})
    assert target == run.resolve() and changes == {"corpus": str(corpus)}  # the same corpus: allowed
    assert resumed_config(target, changes).corpus == str(corpus)
    with pytest.raises(CharlmError, match="--hidden 64 differs from the run being resumed"):
        resumed_config(run, resume_request(option_values({"corpus": run, "hidden": 64}), {"hidden"})[1])


# -- typed events --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.trains
def test_a_run_emits_exactly_the_declared_event_keys_and_says_it_reports(tmp_path: Path) -> None:
    from charlm.training.events import EVENTS
    from charlm.training.launch import launch

    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 50, encoding="utf-8")
    seen: list[dict] = []
    options = {"corpus": corpus, "out": tmp_path / "run", "hidden": 8, "embed": 4, "layers": 1, "seq_len": 8}
    options.update(batch_size=2, steps=4, eval_every=2, log_every=2, save_every="2", device="cpu", arch="gru")
    options.update(checkpoints=str(tmp_path / "ck"), direction="both")
    result = launch(options, callback=seen.append)
    assert result.reports and result.steps == 4
    # pass: the corpus read; notice: the start state fitted at the end
    assert {e["event"] for e in seen} == {"pass", "start", "step", "eval", "save", "notice", "end"}
    assert [e["kind"] for e in seen if e["event"] == "notice"] == ["start-state"]
    for event in seen:
        assert set(event) == set(EVENTS[event["event"]].__annotations__), event["event"]
    logged = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert logged and all(set(e) == set(EVENTS[e["event"]].__annotations__) for e in logged)
    assert isinstance(charlm.load(result.run_dir, device="cpu").module, BidirectionalLM)
