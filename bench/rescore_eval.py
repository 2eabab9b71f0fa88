"""WER of n-best rescoring with each model alone and all together, weights tuned on the dev half.

Usage: python -m bench.rescore_eval --nbest data/nbest -m CHAR_MODEL -m WORD_MODEL [-m WORD_MODEL@ngram]

``-m DIR`` is a charlm model as ``charlm rescore`` uses it (its n-gram mixed in with the tuned
weights, unknown words of a word model priced by spelling); ``DIR@net`` its network alone and
``DIR@ngram`` its n-gram alone (the Kneser-Ney baseline: a word model trained with ``--ngram-order 5``
carries the same interpolated modified Kneser-Ney 5-gram KenLM's lmplz would estimate).

Reads ``dev.nbest``/``dev.refs``/``test.nbest``/``test.refs`` (written by bench/nbest.py), scores
every hypothesis once with every model, then for the decoder alone, each model alone and all models
together tunes the weights on dev and reports the test WER (and the oracle: the best hypothesis in
each list). Results are appended to bench/results/rescore.jsonl; ``--cache FILE`` keeps the scored
tables (a pickle this script wrote itself) so the tuning can be rerun without scoring again.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np

from charlm.eval.nbest import read_nbest, read_refs, word_errors
from charlm.eval.rescore import CharlmScorer, FeatureTable, SentenceScorer, error_table, featurize, load_scorer, rerank
from charlm.eval.rescore_tune import tune

LENGTH_GRID = tuple(np.round(np.arange(-5.0, 5.0001, 0.1), 4))  # per-word penalties for --pairwise


def subset(table: FeatureTable, keep: list[int]) -> FeatureTable:
    """The table with only the models at positions ``keep``."""
    m = len(table.names)
    cols = [0, *(1 + k for k in keep), 1 + m, *(2 + m + k for k in keep), 2 + 2 * m]
    return FeatureTable(table.ids, table.hyps, [table.names[k] for k in keep], [f[:, cols] for f in table.feats])


def scorer(spec: str) -> SentenceScorer:
    """``DIR``, ``DIR@net`` (network alone) or ``DIR@ngram`` (n-gram alone) as a named scorer."""
    path, _, kind = spec.partition("@")
    weight = {"": "auto", "net": 0.0, "ngram": 1.0}[kind]
    loaded = load_scorer(path, "cpu", ngram_weight=weight)
    loaded.name = Path(path).name + (f"@{kind}" if kind else "")
    if kind == "ngram" and isinstance(loaded, CharlmScorer):
        loaded.spelling = None  # KenLM's way: an unknown word is <unk>, whatever its spelling
    return loaded


def merge(tables: list[FeatureTable]) -> FeatureTable:
    """One table with every model's columns, from tables of one model each over the same n-best lists."""
    names = [n for t in tables for n in t.names]
    feats = []
    for n in range(len(tables[0].ids)):
        parts = [t.feats[n] for t in tables]  # each (h, 5): decoder, lm, words, oov, chars
        cols = [parts[0][:, :1], *(p[:, 1:2] for p in parts), parts[0][:, 2:3], *(p[:, 3:4] for p in parts)]
        cols.append(parts[0][:, 4:5])
        feats.append(np.hstack(cols))
    return FeatureTable(tables[0].ids, tables[0].hyps, names, feats)


def scored(spec: str, nbest: Path, cache: Path | None) -> dict[str, FeatureTable]:
    """The dev and test tables of one model, from ``cache/<name>.pkl`` when this script wrote it before."""
    key = spec.replace("/", "_")
    path = cache / f"{key}.pkl" if cache is not None else None
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    one = scorer(spec)
    tables = {part: featurize(read_nbest(nbest / f"{part}.nbest"), [one]) for part in ("dev", "test")}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(tables))
    return tables


ABLATIONS = {
    "without the length in characters": ("chars",),
    "without the length in words": ("words",),
    "without either length": ("words", "chars"),
    "without the OOV counts": ("oov",),
}


def zeroed(table: FeatureTable, groups: tuple[str, ...]) -> FeatureTable:
    """The table with the named feature columns (words, chars, oov) set to zero: tuning cannot use them."""
    m = len(table.names)
    where = {"words": [1 + m], "oov": list(range(2 + m, 2 + 2 * m)), "chars": [2 + 2 * m]}
    cols = [c for g in groups for c in where[g]]
    feats = [f.copy() for f in table.feats]
    for f in feats:
        f[:, cols] = 0.0
    return FeatureTable(table.ids, table.hyps, table.names, feats)


def ablations(dev: FeatureTable, test: FeatureTable, refs: dict[str, dict[str, str]]) -> list[dict[str, object]]:
    """Test WER with each group of features withheld from tuning (all the given models together)."""
    gold = [refs["test"][i] for i in test.ids]
    rows: list[dict[str, object]] = []
    for name, groups in ABLATIONS.items():
        weights = tune(zeroed(dev, groups), refs["dev"]).weights
        best = [r[0].hyp.text for r in rerank(zeroed(test, groups), weights)]
        rows.append({"system": f"decoder + {' + '.join(dev.names)}, {name}", "test_wer": word_errors(best, gold).wer})
    return rows


def kind(hyp: str, ref: str) -> str:
    """The kind of confusion that turned ``ref`` into ``hyp`` (bench/nbest.py's kinds)."""
    from bench.nbest import ALTERNATIVES

    a, b = hyp.split(), ref.split()
    if len(a) != len(b):
        return {len(b) - 1: "dropped word", len(b) + 1: "doubled word"}.get(len(a), "two confusions")
    diff = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if len(diff) != 1:
        return "two confusions"
    x, y = diff[0]
    if x.lower() in ALTERNATIVES.get(y.lower(), []):
        return "homophone / agreement"
    return "plural -s" if x.rstrip("s") == y.rstrip("s") else "near-miss spelling"


def pairwise(table: FeatureTable, refs: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per model and kind of error: how often the model prefers the reference to a wrong hypothesis.

    Each model is given its own best length penalty (searched over LENGTH_GRID on these pairs), as
    rescoring would; the decoder's scores play no part.
    """
    out: dict[str, dict[str, float]] = {}
    for m, name in enumerate(table.names):
        pairs: dict[str, list[tuple[float, float]]] = {}
        for uid, hyps, f in zip(table.ids, table.hyps, table.feats, strict=True):
            texts = [h.text for h in hyps]
            if refs[uid] not in texts:
                continue
            r = texts.index(refs[uid])
            for j, text in enumerate(texts):
                if j != r:
                    lm, words = 1 + m, 1 + len(table.names)
                    pairs.setdefault(kind(text, refs[uid]), []).append((f[r, lm] - f[j, lm], f[r, words] - f[j, words]))
        flat = np.array([p for v in pairs.values() for p in v])  # (pairs, 2)
        best = max(LENGTH_GRID, key=lambda lp: float(np.mean(flat[:, 0] + lp * flat[:, 1] > 0)))
        out[name] = {k: float(np.mean([d + best * w > 0 for d, w in v])) for k, v in sorted(pairs.items())}
        out[name] |= {"all": float(np.mean(flat[:, 0] + best * flat[:, 1] > 0)), "length_penalty": float(best)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nbest", type=Path, default=Path("data/nbest"))
    parser.add_argument("-m", "--model", action="append", required=True)
    parser.add_argument("--out", type=Path, default=Path("bench/results/rescore.jsonl"))
    parser.add_argument("--cache", type=Path, default=None, help="Folder of scored tables (one pickle per -m).")
    parser.add_argument(
        "--ablate", action="store_true", help="Also: the WER of the charlm models together with each feature withheld."
    )
    parser.add_argument(
        "--pairwise", action="store_true", help="Also: per kind of error, how often each model prefers the reference."
    )
    args = parser.parse_args()
    start = time.perf_counter()
    per_model = [scored(spec, args.nbest, args.cache) for spec in args.model]
    tables = {part: merge([t[part] for t in per_model]) for part in ("dev", "test")}
    refs = {part: read_refs(args.nbest / f"{part}.refs", tables[part].ids) for part in ("dev", "test")}
    scored_s = time.perf_counter() - start
    test, gold = tables["test"], [refs["test"][i] for i in tables["test"].ids]
    real = test.padded()[1]
    oracle = float(np.where(real, error_table(test, refs["test"]), np.inf).min(1).sum())
    rows: list[dict[str, object]] = [{"system": "oracle", "test_wer": oracle / sum(len(r.split()) for r in gold)}]
    count = len(args.model)
    charlm_only = [k for k, spec in enumerate(args.model) if not spec.endswith("@ngram")]
    combos = [[], *([k] for k in range(count))]
    combos += [keep for keep in (charlm_only, list(range(count))) if len(keep) > 1 and keep not in combos]
    for keep in combos:
        dev_t, test_t = subset(tables["dev"], keep), subset(test, keep)
        if keep:
            tuned = tune(dev_t, refs["dev"])
            weights, dev_wer, method = tuned.weights, tuned.after.wer, tuned.method
        else:
            weights, dev_wer, method = None, None, None
        best = [r[0].hyp.text for r in rerank(test_t, weights)] if weights else None
        decoder = [h[int(f[:, 0].argmax())].text for h, f in zip(test_t.hyps, test_t.feats, strict=True)]
        row = {
            "system": "decoder + " + " + ".join(dev_t.names) if keep else "decoder alone",
            "test_wer": word_errors(best or decoder, gold).wer,
            "dev_wer": dev_wer if keep else None,
            "weights": weights.to_dict(dev_t.names) if weights else None,
            "tuner": method,
        }
        rows.append(row)
    if args.ablate:
        rows += ablations(subset(tables["dev"], charlm_only), subset(test, charlm_only), refs)
    if args.pairwise:
        rows.append(
            {"system": "pairwise preference for the reference (dev)", "pairwise": pairwise(tables["dev"], refs["dev"])}
        )
    for row in rows:
        row |= {"models": [str(p) for p in args.model], "nbest": str(args.nbest), "scoring_s": round(scored_s, 1)}
        print(json.dumps(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
