"""`hub.dataset`: built-in datasets and the bases for one's own, defined in hubtrain.data; also
PaddleHub 1.x's paths `hubtrain.dataset.base_nlp_dataset` and `base_cv_dataset` (see
compat/paddlehub_paths.py)."""
from ..compat.paddlehub_paths import name_submodules
from ..data.dataset_api import *  # noqa: F401,F403
from ..data.dataset_api import __all__  # noqa: F401
from ..unsupported import missing_name

name_submodules(__name__)


def __getattr__(name: str) -> object:
    """A name this namespace lacks: PaddleHub 1.x's with what to use instead, else the nearest ones."""
    if name.startswith("__"):
        raise AttributeError(name)
    raise missing_name(name, tuple(__all__), "hub.dataset")
