"""Count-based n-gram language models over a charlm tokenizer's ids: interpolated modified Kneser-Ney.

counts (n-gram types as a trie of sorted keys) -> kneser_ney (probabilities and back-off weights)
-> model (the stored arrays and their queries) -> arpa (ARPA text in and out); tune fits the mixing
weight of a network and an n-gram on held-out text; store keeps one in a model directory.
"""
