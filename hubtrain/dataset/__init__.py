"""`hub.dataset`: built-in datasets and the bases for one's own (PaddleHub's import paths,
e.g. `from hubtrain.dataset.base_nlp_dataset import BaseNLPDataset`). Defined in hubtrain.data."""
from ..data.dataset_api import *  # noqa: F401,F403
from ..data.dataset_api import __all__  # noqa: F401
