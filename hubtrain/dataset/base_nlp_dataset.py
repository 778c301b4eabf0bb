"""PaddleHub's import path for BaseNLPDataset."""
from ..data.nlp import BaseNLPDataset

__all__ = ["BaseNLPDataset"]
