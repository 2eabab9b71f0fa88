"""The unknown-token policy for text given to a trained model (prime and score text): ``--unk``.

* ``replace`` (default): unknown characters (char level) or words (word level) become ``<unk>``;
* ``skip``: they are removed from the text before it is encoded;
* ``error``: refuse the text with one line naming the unknown characters or words.

Subword tokenizers have byte fallback, so nothing is ever unknown to them.
"""

from __future__ import annotations

from charlm.errors import BadOption, CharlmError
from charlm.tokenizers.base import UNK_ID, Tokenizer

UNK_POLICIES = ("replace", "skip", "error")


def _words(tokenizer: Tokenizer, text: str) -> list[str]:
    """The words of ``text`` as a word tokenizer cuts them (whitespace, or its segmenter)."""
    return [w for line in text.split("\n") for w in tokenizer.split_line(line)]  # type: ignore[attr-defined]


def unknown_units(tokenizer: Tokenizer, text: str) -> list[str]:
    """The distinct characters (or, for word tokenizers, words) of ``text`` the vocabulary lacks."""
    if tokenizer.kind == "word":
        stoi = tokenizer.stoi  # type: ignore[attr-defined]
        return [w for w in dict.fromkeys(_words(tokenizer, text)) if stoi.get(w, UNK_ID) == UNK_ID]
    return [u for u in dict.fromkeys(text) if u != "\n" and tokenizer.unk_id in tokenizer.encode(u)]


def apply_unk_policy(tokenizer: Tokenizer, text: str, policy: str = "replace") -> str:
    """Return ``text`` ready to encode under ``policy``; raise CharlmError for ``error`` when anything is unknown."""
    if policy not in UNK_POLICIES:
        raise BadOption(f"unknown --unk {policy!r}; use one of {', '.join(UNK_POLICIES)}")
    if policy == "replace":
        return text
    unknown = unknown_units(tokenizer, text)
    if not unknown:
        return text
    if policy == "error":
        shown = " ".join(repr(u) for u in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        what = "words" if tokenizer.kind == "word" else "characters"
        raise CharlmError(
            f"{len(unknown)} {what} are not in the model's vocabulary: {shown}; "
            "pass --unk replace (use <unk>) or --unk skip (drop them)"
        )
    drop = set(unknown)
    if tokenizer.kind == "word":
        join, split = tokenizer.join_line, tokenizer.split_line  # type: ignore[attr-defined]
        return "\n".join(join([w for w in split(line) if w not in drop]) for line in text.split("\n"))
    return "".join(c for c in text if c not in drop)
