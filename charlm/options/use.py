"""The options of the commands that use a model, declared once: scoring, evaluation, sampling,
prediction, rescoring, the service's limits, export and the diagnostics.

The four that cross every scoring method (``unk``, ``ngram_weight``, ``precision``, ``batch_size``)
travel together as :class:`charlm.options.scoring.ScoringOptions`.
"""

from __future__ import annotations

from charlm.models.registry import ARCHS
from charlm.opt import Opt
from charlm.options.train import LEVELS, SEED_MAX
from charlm.values import Choice, Device, Flag, Float, Int, NgramWeight, Temperature, Text, Texts, Words

UNK_POLICIES = (
    "auto",
    "replace",
    "skip",
    "error",
    "spell",
)  # charlm.tokenizers.unk.UNK_POLICIES (tests check they agree)
NORMALIZE = ("total", "token", "char")  # charlm.eval.score.NORMALIZE
PRECISIONS = ("fp32", "bf16")
WEIGHT = Float(-1e6, 1e6)

SCORING = (
    Opt("unk", Choice(UNK_POLICIES), "auto", "Characters/words the model does not know: auto (spell for word models, replace for the others), replace (<unk>), skip (drop them), error, or spell (word models: <unk> times the probability of the word's spelling, so an unknown word costs its letters)."),
    Opt("ngram_weight", NgramWeight(), "auto", "Mix the model's n-gram in: p = (1 - w) p_network + w p_ngram. auto = the weights tuned at build time (per matched context length); 0 = the network alone."),
    Opt("precision", Choice(PRECISIONS), "fp32", "fp32 (exact, default) or bf16 (autocast: faster on CPUs with bf16, approximate)."),
    Opt("batch_size", Int(1, 1_000_000), None, "Sentences per padded batch [default: 64]; for a file, parallel rows [32].", optional=True),
)  # fmt: skip

SCORE = (
    Opt("normalize", Choice(NORMALIZE), "total", "Rank by total log-prob, per token, or per char: total|token|char."),
    Opt("per_token", Flag(), False, "Also show each token's log-probability."),
    Opt("alternatives", Int(0, 100), 0, "With --per-token: also list the network's k most likely tokens at each position (before any n-gram mix)."),
    Opt("sentences", Texts(Text()), (), "Sentences, each scored from a fresh state (<eos> counted)."),
    Opt("sentence", Text(), None, "Sentences to score (or one per line on stdin).", optional=True),
    Opt("independent", Flag(), False, "Score each line from a fresh state (else state carried)."),
    Opt("cache", Int(1, 1_000_000), None, "Neural cache (Grave et al. 2017): mix in a pointer over each row's last N tokens (streamed only).", optional=True),
    Opt("cache_theta", Float(0.0, 1e4), None, "Cache sharpness: p_cache ~ exp(theta h_t . h_i); best value depends on the model [default: 0.3].", optional=True),
    Opt("cache_lambda", Float(0.0, 1.0, high_open=True), None, "Cache weight: p = (1 - lambda) p_model + lambda p_cache, 0 <= lambda < 1 [default: 0.1].", optional=True),
    Opt("dynamic_lr", Float(0.0, 1e3), None, "Dynamic evaluation step size [default: 5e-5].", optional=True),
    Opt("dynamic_lambda", Float(0.0, 1.0, high_open=True), None, "Dynamic evaluation decay back to the trained weights [default: 0.002].", optional=True),
    Opt("dynamic_segment", Int(1, 1_000_000), None, "Dynamic evaluation: tokens scored between updates [default: 5].", optional=True),
)  # fmt: skip

SAMPLE = (
    Opt("temperature", Temperature(), 1.0, "Softmax temperature; 0 = greedy.", ("--temp", "-t")),
    Opt("length", Int(1, 1_000_000), 500, "Tokens to generate (the cap with --until-eos/--stop).", ("--length", "-n")),
    Opt("prime", Text(), "", "Text the sample continues."),
    Opt("sample.seed", Int(0, SEED_MAX), None, "Random seed for an exact repeat.", optional=True),
    Opt("num", Int(1, 10_000), 1, "Number of samples (drawn as one batch); with --beam, hypotheses shown."),
    Opt("top_k", Int(1), None, "Sample from the k most likely tokens only.", optional=True),
    Opt("top_p", Float(0.0, 1.0, low_open=True), None, "Nucleus sampling: smallest set with this mass.", optional=True),
    Opt("until_eos", Flag(), False, "Stop each sample at the end of its line/sentence."),
    Opt("stop", Texts(Text(nonempty=True, blank=True)), (), "Stop just before this string (repeatable)."),
    Opt("beam.normalize", Flag(), False, "Beam with --until-eos: rank by log-prob per token.", ("--length-norm",)),
    Opt("beam", Int(1, 1000), None, "Beam search of this width for the most probable continuation.", optional=True),
    Opt("sample.precision", Choice(PRECISIONS), "fp32", "fp32 (exact, default) or bf16 (bf16 weight matrices: faster at large --num on CPUs with bf16, approximate; a --seed repeats only within one precision)."),
)  # fmt: skip

PREDICT = (
    Opt("prefix", Text(), None, "Text the prediction continues (with --blank: a sentence with ___)."),
    Opt("k", Int(1, 100_000), 10, "How many proposals to show.", ("--k", "-k")),
    Opt("words", Flag(), False, "Char/subword model: whole next words (a beam to a space, punctuation or <eos>)."),
    Opt("blank", Flag(), False, "Fill the ___ in PREFIX, ranked by the whole sentence's probability."),
    Opt("candidates", Words(), (), "With --blank: the words to rank (else proposed from the left); a word model prices those it lacks by their spelling."),
    Opt("keep_unk", Flag(), False, "Also propose <unk>."),
    Opt("weight", WEIGHT, None, "Weight of each model's log-probability (repeatable; one for all) [default: 1].", optional=True),
    Opt("length_penalty", WEIGHT, 0.0, "Added per word of the hypothesis."),
    Opt("char_penalty", WEIGHT, 0.0, "Added per character of the hypothesis (spaces not counted)."),
    Opt("tune_oov", Flag(), True, "Tune the OOV weights too (--no-tune-oov: keep them).", ("--no-tune-oov",)),
    Opt("oov_weight", WEIGHT, None, "Added per token a model maps to <unk> (repeatable; a word model needs it negative) [default: 0].", optional=True),
    Opt("rescore.ngram_weight", NgramWeight(), None, "The n-gram weight of every model [default: each loaded model's own scoring options; auto for directories].", optional=True),
)  # fmt: skip

SERVE = (
    Opt("host", Text(nonempty=True), "127.0.0.1", "Address to listen on; 0.0.0.0 exposes it to the network."),
    Opt("port", Int(0, 65535), 8000, "TCP port (0 picks a free one; the line on stderr says which)."),
    Opt("serve.device", Device(), "cpu", "cpu or cuda (each worker loads its own copy)."),
    Opt("workers", Int(1, 1024), 1, "Worker processes, each with its own copy of the model."),
    Opt("max_batch", Int(1, 1_000_000), 64, "Most sentences scored together in one micro-batch."),
    Opt("batch_wait_ms", Float(0.0, 60_000.0), 5.0, "How long /score waits to gather concurrent requests."),
    Opt("max_body", Int(1, 1 << 40), 1 << 20, "Largest request body in bytes (413 above)."),
    Opt("max_sentences", Int(1, 1_000_000), 256, "Most sentences in one /score request."),
    Opt("max_chars", Int(1, 1 << 30), 2000, "Most characters in one sentence or prime."),
    Opt("max_eval_chars", Int(1, 1 << 40), 1 << 20, "Most characters of text in one /eval request."),
    Opt("max_sample_length", Int(1, 1_000_000), 2000, "Most tokens one /sample may draw."),
    Opt("max_sample_num", Int(1, 10_000), 8, "Most samples drawn together by one /sample."),
    Opt("max_samples", Int(1, 10_000), 4, "/sample requests running at once (429 above)."),
    Opt("max_predict_k", Int(1, 100_000), 100, "Most proposals one /predict may ask for (the word beam grows with k)."),
    Opt("open", Flag(), False, "Open the playground page (GET /) in a web browser once listening."),
    Opt("graceful", Float(0.0, 86_400.0), 30.0, "On SIGTERM, seconds to let requests in flight finish."),
    Opt("serve.threads", Int(1, 4096), None, "Torch threads per worker [default: all cores].", optional=True),
)  # fmt: skip

TOOLS = (
    Opt("format", Choice(("onnx",)), "onnx", "Export format: onnx."),
    Opt("quantize", Choice(("none", "int8")), "none", "none, or int8: dynamic int8 weights for the recurrent and output matrices."),
    Opt("order", Int(1, 20), None, "n-gram order [default: 6 for char, 5 for word, 4 for subword models].", optional=True),
    Opt("title", Text(), None, "Plot title [default: the run names].", optional=True),
    Opt("top", Int(0, 1_000_000), 20, "How many frequent tokens to list."),
    Opt("curve", Flag(), False, "Also give the training curve read from metrics.jsonl (train and validation loss by step)."),
    Opt("points", Int(2, 10_000), 200, "Most points of each training curve (thinned evenly, the last kept)."),
    Opt("recipes.device", Choice(("cpu", "cuda")), None, "Only this kind of device [default: both].", optional=True),
    Opt("recipes.level", Choice(LEVELS), None, "Only the rows this level uses (bpe and unigram use char's).", optional=True),
    Opt("gradflow.arch", Choice(tuple(ARCHS)), None, "Architecture to measure with random weights; repeat for several [default: rnn, lstm, gru when no --model].", ("--arch", "-a"), optional=True),
    Opt("gradflow.length", Int(3, 100_000), 100, "Window length T: distances 1 .. T-1 are measured."),
    Opt("gradflow.batch", Int(1, 100_000), 16, "Windows averaged over."),
    Opt("gradflow.hidden", Int(1, 65536), 128, "Hidden units of the --arch models."),
    Opt("gradflow.layers", Int(1, 100), 1, "Layers of the --arch models."),
    Opt("gradflow.seed", Int(0, SEED_MAX), 0, "Random seed (weights and window positions)."),
    Opt("neighbors.k", Int(1, 1_000_000), 10, "How many neighbours.", ("-k",)),
    Opt("word", Text(nonempty=True), None, "Word whose nearest neighbours to list.", optional=True),
    Opt("analogy", Text(nonempty=True), None, "A B C: A is to B as ? is to C (nearest to A - B + C).", optional=True),
)  # fmt: skip

OPTIONS = (*SCORING, *SCORE, *SAMPLE, *PREDICT, *SERVE, *TOOLS)
