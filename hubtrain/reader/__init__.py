"""`hub.reader`: readers turning a dataset's examples into model inputs, defined in hubtrain.data;
also PaddleHub 1.x's paths `hubtrain.reader.nlp_reader`, `cv_reader` and `tokenization` (see
compat/paddlehub_paths.py)."""
from ..compat.paddlehub_paths import name_submodules
from ..data.reader_api import *  # noqa: F401,F403
from ..data.reader_api import __all__  # noqa: F401
from ..unsupported import missing_name

name_submodules(__name__)


def __getattr__(name: str) -> object:
    """A name this namespace lacks: PaddleHub 1.x's with what to use instead, else the nearest ones."""
    if name.startswith("__"):
        raise AttributeError(name)
    raise missing_name(name, tuple(__all__), "hub.reader")
