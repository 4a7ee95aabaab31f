"""A trained run put to use: exported to ONNX or TorchScript, or labelling new images."""
