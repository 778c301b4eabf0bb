"""PaddleHub's import path for BaseCVDataset."""
from ..data.cv import BaseCVDataset

__all__ = ["BaseCVDataset"]
