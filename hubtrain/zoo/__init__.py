"""Backbones and the features tasks read from them."""
from .feature import FeatureRef, as_feature

__all__ = ["FeatureRef", "as_feature"]
