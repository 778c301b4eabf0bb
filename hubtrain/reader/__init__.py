"""`hub.reader`: readers turning a dataset's examples into model inputs. Defined in hubtrain.data."""
from ..data.reader_api import *  # noqa: F401,F403
from ..data.reader_api import __all__  # noqa: F401
