"""PaddleHub 1.x's `paddlehub.finetune` paths: `config`, `strategy` and `task` are hubtrain's
config, strategy and tasks modules (see compat/paddlehub_paths.py)."""
from ..compat.paddlehub_paths import name_submodules

name_submodules(__name__)
