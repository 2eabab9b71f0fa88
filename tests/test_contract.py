"""Contract tests: every surface asked the same question gives the same answer.

Generated from the registries, not hand-listed: every option of every command against its
declaration (:mod:`charlm.options`), every declaration's bad values against the command line, the
library and the service, and every endpoint's answer against the ``Model`` call and the CLI's ``--json``.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.cli.paths import InputFile, ModelDir, OutDir, OutFile, OutPng
from charlm.cli.values import Parser
from charlm.errors import BadOption
from charlm.opt import Opt
from charlm.options import ScoringOptions, all_options, declared

PATH_KINDS = (InputFile, ModelDir, OutDir, OutFile, OutPng)  # file checks of the command line alone
RUNNER = CliRunner()


def _leaves() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        for leaf, sub in getattr(command, "commands", {name: command}).items():
            found[f"{name} {leaf}" if leaf != name else name] = sub
    return found


COMMANDS = _leaves()


def _params() -> list[tuple[str, Any]]:
    return [(name, p) for name, command in COMMANDS.items() for p in command.params]


def _parser(param: Any) -> Any:
    return param.type_descriptor.parameter_info.parser


def _same(a: Any, b: Any) -> bool:
    norm = lambda v: list(v) if isinstance(v, (tuple, list)) else v  # noqa: E731
    return norm(a) == norm(b) or (norm(a) in (None, []) and norm(b) in (None, []))


def test_every_command_line_option_is_a_declaration_or_a_path() -> None:
    loose = [
        f"{name} {p.name}"
        for name, p in _params()
        if not getattr(p, "is_flag", False) and not isinstance(_parser(p), (Parser, *PATH_KINDS))
    ]
    assert not loose, f"declare these in charlm.options and build them with charlm.cli.declared: {loose}"


@pytest.mark.parametrize(("command", "param"), [(n, p) for n, p in _params() if isinstance(_parser(p), Parser)])
def test_command_line_default_is_the_declared_default(command: str, param: Any) -> None:
    opt: Opt = _parser(param).opt
    assert _same(param.default, opt.default), f"{command} {param.name}: {param.default!r} != {opt.default!r}"


def _library_defaults() -> list[tuple[str, str, Any]]:
    """(where, declaration key, default) for every library parameter and field that has a declaration."""
    from charlm.api import Model, gradflow
    from charlm.serve.limits import Limits
    from charlm.training.config import KEYS, TrainConfig

    found = [("TrainConfig", KEYS.get(f.name, f.name), f.default) for f in fields(TrainConfig) if _has(f.name, KEYS)]
    found += [("ScoringOptions", f.name, f.default) for f in fields(ScoringOptions) if f.name != "ngram"]
    found += [("Limits", f.name, f.default) for f in fields(Limits)]
    scopes = {"sample": "sample", "beam": "beam", "neighbors": "neighbors", "analogy": "neighbors"}
    methods = [getattr(Model, m) for m in ("score", "rank", "eval", "sample", "beam", "predict", "fill_blank",
                                           "neighbors", "analogy", "rescore", "build_ngram")]  # fmt: skip
    for fn in [*methods, gradflow]:
        scope = scopes.get(fn.__name__, "gradflow" if fn is gradflow else fn.__name__)
        for p in inspect.signature(fn).parameters.values():
            key = f"{scope}.{p.name}"
            if p.default is not inspect.Parameter.empty and _has(key):
                found.append((f"Model.{fn.__name__}", key, p.default))
    return found


def _has(key: str, keys: dict[str, str] | None = None) -> bool:
    try:
        declared((keys or {}).get(key, key))
    except KeyError:
        return False
    return True


@pytest.mark.parametrize(("where", "key", "value"), _library_defaults())
def test_library_default_is_the_declared_default(where: str, key: str, value: Any) -> None:
    if where == "TrainConfig" and key == "save_every":
        value = 100
    assert _same(value, declared(key).default), (
        f"{where}: {key} defaults to {value!r}, declared {declared(key).default!r}"
    )


def _service_fields() -> list[tuple[str, str, Any]]:
    from charlm.serve import requests

    found = []
    for body in (requests.ScoreRequest, requests.EvalRequest, requests.PredictRequest, requests.SampleRequest):
        for name, info in body.model_fields.items():
            found.append((body.__name__, name, info.default))
    return found


@pytest.mark.parametrize(("body", "field", "value"), _service_fields())
def test_service_default_is_the_declared_default(body: str, field: str, value: Any) -> None:
    from pydantic_core import PydanticUndefined

    from charlm.serve.requests import REQUESTS

    key = REQUESTS[body][field]
    if value is not PydanticUndefined:  # a required field has no default
        assert _same(value, declared(key).default), f"{body}.{field}"


def _typed(text: str) -> Any:
    """The value a bad text stands for when it is given from Python or JSON (numbers as numbers)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


BAD = [(key, bad) for key, opt in sorted(all_options().items()) for bad in opt.value.bad]


@pytest.mark.parametrize(("key", "bad"), BAD)
def test_library_and_command_line_give_one_verdict(key: str, bad: str) -> None:
    opt = declared(key)
    with pytest.raises(BadOption) as parsed:
        opt.value.parse(bad)
    typed = _typed(bad)
    if isinstance(typed, str):
        return  # text is text on every surface: the verdict above is the one
    with pytest.raises(BadOption) as checked:
        opt.check(typed)
    assert str(checked.value) == f"{opt.flag} {parsed.value}", (str(checked.value), str(parsed.value))


CLI_CASES = [
    (command, param, bad)
    for command, param in _params()
    if isinstance(_parser(param), Parser) and param.opts[0].startswith("-")
    for bad in _parser(param).bad[:2]
]


@pytest.mark.parametrize(("command", "param", "bad"), CLI_CASES, ids=[f"{c}-{p.name}-{b!r}" for c, p, b in CLI_CASES])
def test_command_line_refuses_each_bad_value_in_one_line(command: str, param: Any, bad: str) -> None:
    opt: Opt = _parser(param).opt
    args = [*command.split(), param.opts[0], bad, *(["x"] * (param.nargs - 1))]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2, (args, result.output)
    lines = [line for line in result.output.splitlines() if line.startswith("charlm: error:")]
    assert len(lines) == 1, result.output
    assert str(opt.value.problem_text(bad)) in lines[0], (lines[0], opt.value.problem_text(bad))


@pytest.fixture(scope="module")
def word_service(tiny_word_model: Path) -> Any:
    from starlette.testclient import TestClient

    from charlm.api import load
    from charlm.serve.app import create_app

    lm = load(tiny_word_model, device="cpu")
    with TestClient(create_app(lm)) as client:
        yield lm, client


SERVICE_BAD = [
    ("/sample", {"prime": "the", "length": 5}, "temperature", 1e308),
    ("/sample", {"prime": "the", "length": 5}, "temperature", 1e-300),
    ("/sample", {"prime": "the", "length": 5}, "seed", -1),
    ("/sample", {"prime": "the", "length": 5}, "seed", 2**40),
    ("/sample", {"prime": "the", "length": 5}, "top_p", 0.0),
    ("/sample", {"prime": "the"}, "length", 0),
    ("/score", {"sentences": ["the cat"]}, "sentences", ["a\x00b"]),
    ("/score", {"sentences": ["the cat"]}, "ngram_weight", 1.5),
    ("/score", {"sentences": ["the cat"], "per_token": True}, "alternatives", 101),
    ("/predict", {"prefix": "the"}, "k", 100_001),
    ("/predict", {"prefix": "the ___", "blank": True}, "candidates", [""]),
    ("/eval", {"text": "the cat"}, "text", "a\x00b"),
]


@pytest.mark.parametrize(("path", "body", "field", "value"), SERVICE_BAD)
def test_service_refuses_with_the_declared_verdict(
    word_service: Any, path: str, body: dict[str, Any], field: str, value: Any
) -> None:
    from charlm.serve.requests import REQUESTS

    _lm, client = word_service
    endpoint = {
        "/sample": "SampleRequest",
        "/score": "ScoreRequest",
        "/predict": "PredictRequest",
        "/eval": "EvalRequest",
    }
    opt = declared(REQUESTS[endpoint[path]][field])
    response = client.post(path, json={**body, field: value})
    assert 400 <= response.status_code < 500, response.text
    message = response.json()["error"]
    problem = opt.problem(value)
    assert problem is not None and message.startswith(f"{field}") and problem in message, (message, problem)
    with pytest.raises(BadOption, match=re_escape(problem)):
        opt.check(value)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def _cli_json(*args: str) -> Any:
    result = RUNNER.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("unk", ["replace", "spell", "skip"])
def test_score_is_one_answer_on_every_surface(word_service: Any, tiny_word_model: Path, unk: str) -> None:
    lm, client = word_service
    sentences = ["the apple and pear salad", "the apple and zqxwvy salad", "the cat sat on the mat"]
    if unk == "skip":
        sentences = sentences[::2]
    served = client.post("/score", json={"sentences": sentences, "unk": unk, "per_token": True}).json()["scores"]
    library = [s.to_dict() for s in lm.score(sentences, per_token=True, unk=unk)]
    cli = [json.loads(line) for line in _cli_json("score", *sentences, "-m", str(tiny_word_model), "--unk", unk,
                                                   "--per-token", "--device", "cpu").splitlines()]  # fmt: skip
    for a, b, c in zip(served, library, cli, strict=True):
        assert math.isclose(a["logprob"], b["logprob"], rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(b["logprob"], c["logprob"], rel_tol=1e-9, abs_tol=1e-9)
        assert a["rank"] == b["rank"] == c["rank"]
    if unk == "spell":  # the unknown word is priced by its spelling: no longer one cheap <unk>
        replace = lm.score(sentences, unk="replace")
        assert library[1]["logprob"] < replace[1].logprob


def test_predict_and_eval_are_one_answer_on_every_surface(word_service: Any, tiny_word_model: Path) -> None:
    lm, client = word_service
    served = client.post("/predict", json={"prefix": "the cat sat on the", "k": 3}).json()["predictions"]
    library = [p.to_dict() for p in lm.predict("the cat sat on the", 3)]
    cli = json.loads(
        _cli_json("predict", "the cat sat on the", "-k", "3", "-m", str(tiny_word_model), "--device", "cpu")
    )
    assert [p["text"] for p in served] == [p["text"] for p in library] == [p["text"] for p in cli]
    for a, b in zip(served, library, strict=True):
        assert math.isclose(a["logprob"], b["logprob"], rel_tol=1e-9)
    text = "the cat sat on the mat\nthe dog sat on the log\n"
    evaluated = client.post("/eval", json={"text": text}).json()
    assert math.isclose(evaluated["logprob"], lm.eval_text(text).logprob, rel_tol=1e-9)


def test_alternatives_and_curve_are_one_answer_on_every_surface(word_service: Any, tiny_word_model: Path) -> None:
    lm, client = word_service
    sentences = ["the cat sat on the mat", "the apple and zqxwvy salad"]
    body = {"sentences": sentences, "per_token": True, "alternatives": 3}
    served = client.post("/score", json=body).json()["scores"]
    library = [s.to_dict() for s in lm.score(sentences, per_token=True, alternatives=3)]
    cli = [json.loads(line) for line in _cli_json("score", *sentences, "-m", str(tiny_word_model), "--per-token",
                                                   "--alternatives", "3", "--device", "cpu").splitlines()]  # fmt: skip
    for a, b, c in zip(served, library, cli, strict=True):
        assert [t["token"] for t in a["per_token"]] == [t["token"] for t in b["per_token"]]
        for x, y, z in zip(a["per_token"], b["per_token"], c["per_token"], strict=True):
            assert [p["token"] for p in x["alternatives"]] == [p["token"] for p in y["alternatives"]]
            assert [p["token"] for p in y["alternatives"]] == [p["token"] for p in z["alternatives"]]
            assert len(x["alternatives"]) == 3
            assert all(math.isclose(p["logprob"], q["logprob"], rel_tol=1e-9) for p, q in zip(x["alternatives"], z["alternatives"], strict=True))  # fmt: skip
    refused = client.post("/score", json={"sentences": sentences, "alternatives": 3})
    assert refused.status_code == 400 and "per-token" in refused.json()["error"]
    with pytest.raises(BadOption, match="per-token"):
        lm.score(sentences, alternatives=3)
    curve = client.get("/metrics", params={"points": 5}).json()
    info = json.loads(_cli_json("info", "-m", str(tiny_word_model), "--curve", "--points", "5"))
    assert curve == lm.curve(5) == info["curve"]
    assert 0 < len(curve["train"]) <= 5 and curve["train"][-1][0] >= curve["train"][0][0]
    bad = client.get("/metrics", params={"points": 1})
    assert bad.status_code == 422 and declared("points").problem(1) in bad.json()["error"]


@pytest.mark.trains
@pytest.mark.parametrize(
    ("budget", "flag", "text"), [({"steps": 2}, "--steps", "2"), ({"time": 1.5}, "--time", "1.5s")]
)
def test_library_and_command_line_train_the_same_model(
    tmp_path: Path, corpus: Path, budget: dict[str, Any], flag: str, text: str
) -> None:
    """``charlm.train(TrainConfig(corpus=X, steps=N))`` and ``charlm train X --steps N`` (or ``time``): the same config."""
    import charlm

    charlm.train(charlm.TrainConfig(corpus=str(corpus), out=str(tmp_path / "lib"), device="cpu", threads=1,
                                    ngram_order=0, checkpoints=str(tmp_path / "ck"), **budget))  # fmt: skip
    result = RUNNER.invoke(app, ["train", str(corpus), flag, text, "--out", str(tmp_path / "cli"), "--device", "cpu",
                                 "--threads", "1", "--ngram-order", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lib = json.loads((tmp_path / "lib" / "config.json").read_text())
    cli = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert lib["model"] == cli["model"] and lib["train"]["recipe"] == cli["train"]["recipe"]
    drop = ("out", "checkpoints")
    assert {k: v for k, v in lib["train"].items() if k not in drop} == {
        k: v for k, v in cli["train"].items() if k not in drop
    }


def test_sample_and_fill_blank_are_one_answer_on_every_surface(word_service: Any, tiny_word_model: Path) -> None:
    lm, client = word_service
    body = {"prime": "the cat", "length": 12, "seed": 7, "temperature": 0.9}
    lines = [json.loads(line) for line in client.post("/sample", json=body).text.splitlines() if line]
    served = lines[-1]["samples"][0]["text"]
    library = lm.sample("the cat", length=12, seed=7, temperature=0.9)[0].text
    run = RUNNER.invoke(app, ["sample", "-m", str(tiny_word_model), "--prime", "the cat", "--length", "12", "--seed",
                              "7", "--temp", "0.9", "--no-stream", "--device", "cpu"])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert served == library and run.stdout == f"the cat{library}\n"  # the prime, then the same draws
    blank = {"prefix": "the ___ sat on the mat", "blank": True, "candidates": ["cat", "dog", "zqxwvy"], "k": 3}
    served_blank = client.post("/predict", json=blank).json()["predictions"]
    library_blank = [p.to_dict() for p in lm.fill_blank(blank["prefix"], blank["candidates"], 3)]
    cli_blank = json.loads(_cli_json("predict", blank["prefix"], "--blank", "--candidates", "cat,dog,zqxwvy", "-k", "3",
                                     "-m", str(tiny_word_model), "--device", "cpu"))  # fmt: skip
    assert [p["text"] for p in served_blank] == [p["text"] for p in library_blank] == [p["text"] for p in cli_blank]
    for a, b in zip(served_blank, library_blank, strict=True):
        assert math.isclose(a["logprob"], b["logprob"], rel_tol=1e-9)
