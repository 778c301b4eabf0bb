"""`hub.dataset`: built-in datasets and the bases for one's own, defined in hubtrain.data; also
PaddleHub 1.x's paths `hubtrain.dataset.base_nlp_dataset` and `base_cv_dataset` (see
compat/paddlehub_paths.py)."""
from ..compat.paddlehub_paths import name_submodules
from ..data.dataset_api import *  # noqa: F401,F403
from ..data.dataset_api import __all__  # noqa: F401
from ..unsupported import namespace_getattr

name_submodules(__name__)

__getattr__ = namespace_getattr("hub.dataset", __all__)
