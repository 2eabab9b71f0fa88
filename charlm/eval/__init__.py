"""Inference on a loaded model: sentence and corpus scores, the neural cache, sampling, beam search, diagnostics."""
