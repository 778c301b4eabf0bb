"""Everything `hub.dataset` offers: text and image datasets, their bases, and the
missing-dataset error (`import hubtrain.data.dataset_api as dataset`)."""
from . import cv_api, text_api
from .base import BaseDataset, DatasetMissingError, dataset_home
from .cv_api import *  # noqa: F401,F403  (the image names; cv_api.DATASET_NAMES lists them)
from .example import ImageExample, InputExample
from .text_api import *  # noqa: F401,F403  (the text names; text_api.DATASET_NAMES lists them)

__all__ = (["BaseDataset", "DatasetMissingError", "dataset_home", "InputExample", "ImageExample"]
           + list(text_api.DATASET_NAMES) + list(cv_api.DATASET_NAMES))
