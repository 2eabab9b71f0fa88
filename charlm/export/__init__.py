"""ONNX export of a model directory (see :mod:`charlm.export.onnx`)."""
