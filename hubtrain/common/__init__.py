"""PaddleHub 1.x's `paddlehub.common` paths: `logger` is hubtrain's log module, whose `logger`
is the hubtrain logger (see compat/paddlehub_paths.py)."""
from ..compat.paddlehub_paths import name_submodules

name_submodules(__name__)
