"""WER of n-best rescoring with each model alone and all together, weights tuned on the dev half.

Usage: python bench/rescore_eval.py --nbest data/nbest -m CHAR_MODEL -m WORD_MODEL

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
from charlm.eval.rescore import FeatureTable, error_table, featurize, load_scorer, rerank, tune


def subset(table: FeatureTable, keep: list[int]) -> FeatureTable:
    """The table with only the models at positions ``keep``."""
    m = len(table.names)
    cols = [0, *(1 + k for k in keep), 1 + m, *(2 + m + k for k in keep)]
    return FeatureTable(table.ids, table.hyps, [table.names[k] for k in keep], [f[:, cols] for f in table.feats])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nbest", type=Path, default=Path("data/nbest"))
    parser.add_argument("-m", "--model", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path, default=Path("bench/results/rescore.jsonl"))
    parser.add_argument("--cache", type=Path, default=None, help="Pickle of the scored tables: reused if present.")
    args = parser.parse_args()
    start = time.perf_counter()
    tables, refs = {}, {}
    if args.cache is not None and args.cache.exists():
        tables = pickle.loads(args.cache.read_bytes())
    scorers = [] if tables else [load_scorer(p, "cpu") for p in args.model]
    for part in ("dev", "test"):
        groups = read_nbest(args.nbest / f"{part}.nbest")
        if part not in tables:
            tables[part] = featurize(groups, scorers)
        refs[part] = read_refs(args.nbest / f"{part}.refs", list(groups))
    if args.cache is not None:
        args.cache.write_bytes(pickle.dumps(tables))
    scored_s = time.perf_counter() - start
    test, gold = tables["test"], [refs["test"][i] for i in tables["test"].ids]
    real = test.padded()[1]
    oracle = float(np.where(real, error_table(test, refs["test"]), np.inf).min(1).sum())
    rows: list[dict[str, object]] = [{"system": "oracle", "test_wer": oracle / sum(len(r.split()) for r in gold)}]
    count = len(args.model)
    combos = [[], *([k] for k in range(count)), list(range(count))] if count > 1 else [[], [0]]
    for keep in combos:
        dev_t, test_t = subset(tables["dev"], keep), subset(test, keep)
        if keep:
            tuned = tune(dev_t, refs["dev"])
            weights, dev_wer = tuned.weights, tuned.after.wer
        else:
            weights, dev_wer = None, None
        best = [r[0].hyp.text for r in rerank(test_t, weights)] if weights else None
        decoder = [h[int(f[:, 0].argmax())].text for h, f in zip(test_t.hyps, test_t.feats, strict=True)]
        row = {
            "system": "decoder + " + " + ".join(dev_t.names) if keep else "decoder alone",
            "test_wer": word_errors(best or decoder, gold).wer,
            "dev_wer": dev_wer if keep else None,
            "weights": weights.to_dict(dev_t.names) if weights else None,
        }
        rows.append(row)
    for row in rows:
        row |= {"models": [str(p) for p in args.model], "nbest": str(args.nbest), "scoring_s": round(scored_s, 1)}
        print(json.dumps(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
