"""Datasets (splits of examples) and readers (examples -> model inputs) for text and images.
`dataset_api` and `reader_api` are the user-facing namespaces (`hub.dataset`, `hub.reader`)."""
from . import dataset_api, reader_api
from .dataset_api import *  # noqa: F401,F403
from .example import LabelError
from .reader_api import *  # noqa: F401,F403
from .reader_base import EncodedDataset
from .table import TableError

__all__ = sorted(set(dataset_api.__all__) | set(reader_api.__all__) | {"EncodedDataset", "LabelError", "TableError"})
