"""Model and data formats, each read the way its real loader reads it.

Pickle (the engine every pickle-bearing format drives), PyTorch layouts, numpy, joblib, Keras,
GGUF, ONNX, TensorFlow, safetensors.
"""
