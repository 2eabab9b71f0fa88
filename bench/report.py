"""The markdown table of one benchmark report: each figure beside its target from issue 5."""

from __future__ import annotations

from typing import Any

QUALITY_TARGET = {5.0: 1.48, 10.0: 1.40}  # nats/char of the default recipe after N CPU-minutes


def _row(name: str, value: float | None, fmt: str, target: float | None = None, higher: bool = True) -> str:
    shown = "n/a" if value is None else format(value, fmt)
    if target is None or value is None:
        return f"| {name} | {shown} | | |"
    met = value >= target if higher else value <= target
    return f"| {name} | {shown} | {'>=' if higher else '<='} {format(target, fmt)} | {'yes' if met else 'NO'} |"


def _get(report: dict[str, Any], *path: str) -> Any:
    node: Any = report
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _train_rows(report: dict[str, Any], kind: str) -> list[str]:
    part = report.get(f"train_{kind}", {})
    if "error" in part or not part:
        return [f"| train {kind} | failed: {part.get('error')} | | |"]
    fast = part["fast"]
    label = f"{kind} {part['layers']}x{part['hidden']} (V={part['vocab']}, T={part['seq_len']}, B={part['batch_size']})"
    char = kind == "char"
    rows = [
        *(
            _speed_row(f"{label} {who} tokens/s", part[key])
            for who, key in (("reference fp32", "reference"), ("charlm fp32", "fp32"), (f"charlm {fast}", fast))
        ),
        _row(f"{label} charlm {fast} / reference fp32", part[fast]["ratio"], ".2f", 1.8 if char else None),
        *_round_rows(part, fast),
        _row(f"{label} MFU charlm {fast} (of measured {fast} peak)", part[fast]["mfu"], ".1%", 0.65 if char else None),
        _row(f"{label} MFU reference fp32 (of measured fp32 peak)", part["reference"]["mfu"], ".1%"),
    ]
    if "val_loss_rel_diff" in part:
        rows.append(
            _row(
                f"{label} val loss {fast} vs fp32 after {part['steps']} steps (rel. diff)",
                part["val_loss_rel_diff"],
                ".2%",
                0.01 if char else None,
                higher=False,
            )
        )
    return rows


def _speed_row(name: str, part: dict[str, Any]) -> str:
    """Median tokens/s of the interleaved rounds with its min-max (older reports: the best round)."""
    if "min" not in part:
        return _row(name, part["tokens_per_s"], ",.0f")
    return f"| {name}, median (min-max) | {part['tokens_per_s']:,.0f} ({part['min']:,.0f}-{part['max']:,.0f}) | | |"


def _round_rows(part: dict[str, Any], fast: str) -> list[str]:
    """How the speeds were timed, and the spread of the per-round ratio (same round, same conditions)."""
    if part.get("method") != "interleaved":
        return []
    rounds = part[fast]["round_ratio"]
    return [
        f"| ... per-round ratio, median (min-max) | {rounds['median']:.2f} ({rounds['min']:.2f}-{rounds['max']:.2f}) | | |",
        f"| ... timed: {part['warmup_rounds']} warm-up + {part['rounds']} interleaved rounds x "
        f"{part['steps_per_round']} steps per contender | | | |",
    ]


def markdown(report: dict[str, Any]) -> str:
    """The report as a short markdown table (figure, target, met)."""
    lines = [
        f"# charlm bench {report['when']}{' (quick)' if report['quick'] else ''}",
        "",
        f"{report['machine'].get('device', '')}, {report['machine']['cpus']} CPUs, "
        f"{report['machine']['platform']}; total "
        f"{report.get('total_s', 0) / 60:.1f} min",
        "",
        "| measurement | value | target | met |",
        "|---|---|---|---|",
    ]
    lines.append(_row("matmul peak fp32 GFLOP/s", _get(report, "peak", "fp32"), ",.0f"))
    lines.append(_row("matmul peak bf16 GFLOP/s", _get(report, "peak", "bf16"), ",.0f"))
    lines += _train_rows(report, "char") + _train_rows(report, "word")
    if "train_word3x1150" in report:
        lines += _train_rows(report, "word3x1150")
    q = report.get("quality", {})
    if "val_nats" in q:
        lines.append(
            _row(
                f"{q['recipe'].get('name', 'default recipe')}, tinyshakespeare val nats/char after "
                f"{q['minutes']:g} min ({q['steps']} steps, {q['precision']})",
                q["val_nats"],
                ".3f",
                QUALITY_TARGET.get(q["minutes"]),
                higher=False,
            )
        )
        lines.append(_row("  ... in bits/char", q["val_bpc"], ".3f"))
    lines.append(
        _row(
            "score 1,000 sentences (~110 chars, 2x384 char) sentences/s",
            _get(report, "score", "sentences_per_s"),
            ",.0f",
            600,
        )
    )
    lines.append(
        _row("sample 2x512 char, batch 1, chars/s", _get(report, "sample", "batch1_tokens_per_s"), ",.0f", 2000)
    )
    lines.append(
        _row(
            "  ... nn.LSTM-per-call reference, batch 1", _get(report, "sample", "reference_batch1_tokens_per_s"), ",.0f"
        )
    )
    if _get(report, "sample", "batch64_fast_tokens_per_s") is not None:
        lines.append(
            _row(
                f"sample 2x512 char, batch 64, chars/s (total, {_get(report, 'sample', 'precision')})",
                _get(report, "sample", "batch64_fast_tokens_per_s"),
                ",.0f",
                20000,
            )
        )
        lines.append(_row("  ... fp32 (exact, the default)", _get(report, "sample", "batch64_tokens_per_s"), ",.0f"))
    else:
        lines.append(
            _row(
                "sample 2x512 char, batch 64, chars/s (total)",
                _get(report, "sample", "batch64_tokens_per_s"),
                ",.0f",
                20000,
            )
        )
    lines.append(_row("`charlm --help` wall s", _get(report, "startup", "help", "wall_s"), ".3f", 0.3, higher=False))
    lines.append(
        _row(
            "  ... bare `python -c pass` wall s (interpreter start-up)",
            _get(report, "startup", "python", "wall_s"),
            ".3f",
        )
    )
    lines.append(_row('`charlm score "one sentence"` wall s', _get(report, "startup", "score", "wall_s"), ".3f"))
    lines += ["", "| process | peak RSS MiB |", "|---|---|"]
    for name in ("train_char", "train_word", "score", "sample", "quality"):
        lines.append(f"| {name} | {_get(report, name, 'peak_rss_mib') or float('nan'):,.0f} |")
    for name in ("help", "score"):
        lines.append(f"| charlm {name} | {_get(report, 'startup', name, 'peak_rss_mib') or float('nan'):,.0f} |")
    return "\n".join(lines) + "\n"
