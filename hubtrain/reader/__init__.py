"""`hub.reader`: readers turning a dataset's examples into model inputs, defined in hubtrain.data;
also PaddleHub 1.x's paths `hubtrain.reader.nlp_reader`, `cv_reader` and `tokenization` (see
compat/paddlehub_paths.py)."""
from ..compat.paddlehub_paths import name_submodules
from ..data.reader_api import *  # noqa: F401,F403
from ..data.reader_api import __all__  # noqa: F401
from ..unsupported import namespace_getattr

name_submodules(__name__)

__getattr__ = namespace_getattr("hub.reader", __all__)
