"""The networks and their files: families, checkpoints and ONNX exports.

Nothing here imports a service (classifier, tagging, CLI) or training: a model is
something those layers load, never something that knows about them.
"""
