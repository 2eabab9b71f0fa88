"""The unknown-token policy for text given to a trained model (prime and score text): ``--unk``.

* ``auto`` (default): ``spell`` for word models, ``replace`` for char models (subwords know everything);
* ``replace``: unknown characters (char level) or words (word level) become ``<unk>``;
* ``skip``: they are removed from the text before it is encoded;
* ``error``: refuse the text with one line naming the unknown characters or words;
* ``spell`` (word models): unknown words stay ``<unk>`` for the network, and scoring adds the
  probability of their spelling (:mod:`charlm.ngram.spelling`), so a misspelling costs more than the
  word it misspells and two unknown words no longer cost the same.

Subword tokenizers have byte fallback, so nothing is ever unknown to them.
"""

from __future__ import annotations

from charlm.errors import BadOption, CharlmError
from charlm.tokenizers.base import UNK_ID, Tokenizer

UNK_POLICIES = ("auto", "replace", "skip", "error", "spell")


def resolve_unk(tokenizer: Tokenizer, policy: str, left_to_right: bool = True) -> str:
    """The policy ``auto`` stands for: ``spell`` for a word model read left to right, else ``replace``."""
    if policy != "auto":
        return policy
    return "spell" if tokenizer.kind == "word" and left_to_right else "replace"


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
    policy = resolve_unk(tokenizer, policy)
    if policy == "spell" and tokenizer.kind != "word":
        raise BadOption(
            f"--unk spell prices unknown words by their spelling, for word models; this is a {tokenizer.kind} "
            "model: use --unk replace, skip or error"
        )
    if policy in ("replace", "spell"):
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


def unknown_words_at(tokenizer: Tokenizer, text: str) -> list[tuple[int, str]]:
    """(position in ``tokenizer.encode(text)``, word) of each word a word model reads as ``<unk>``.

    A literal ``<unk>`` in the text is not listed: it names no word whose spelling could be priced.
    """
    if tokenizer.kind != "word":
        return []
    stoi, found, position = tokenizer.stoi, [], 0  # type: ignore[attr-defined]
    for line in text.split("\n"):
        for word in tokenizer.split_line(line):  # type: ignore[attr-defined]
            if stoi.get(word, UNK_ID) == UNK_ID and word != "<unk>":
                found.append((position, word))
            position += 1
        position += 1  # the <eos> between lines
    return found
