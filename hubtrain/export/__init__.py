"""Inference export: `task.export(path)` writes the network and its preprocessing,
`Predictor(path)` runs it with paddle.inference on raw examples, `to_onnx` converts it to ONNX."""
from .exporter import export_task
from .metadata import FORMAT_VERSION, ExportFormatError, read_metadata
from .onnx import to_onnx
from .predictor import Predictor

__all__ = ["export_task", "Predictor", "to_onnx", "read_metadata", "ExportFormatError", "FORMAT_VERSION"]
