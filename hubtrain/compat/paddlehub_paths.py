"""PaddleHub 1.x's module paths, each naming the hubtrain module that holds what a 1.x script
imports from it (`from paddlehub.finetune.strategy import AdamWeightDecayStrategy` becomes
`from hubtrain.finetune.strategy import ...` and finds `hubtrain.strategy`).

The packages these paths live in (`hubtrain.finetune`, `hubtrain.common`, `hubtrain.dataset`,
`hubtrain.reader`, `hubtrain.tokenizer`) call `name_submodules(__name__)` when they are imported, which registers each
path in `sys.modules` as the standard library's `os` registers `os.path`. Nothing is copied: a
path and its module are the same object.
"""
from __future__ import annotations

import importlib
import sys

__all__ = ["PATHS", "name_submodules"]

# PaddleHub 1.x path under hubtrain -> the hubtrain module that holds its names
PATHS: dict[str, str] = {
    "hubtrain.finetune.config": "hubtrain.config",
    "hubtrain.finetune.strategy": "hubtrain.strategy",
    "hubtrain.finetune.task": "hubtrain.tasks",
    "hubtrain.common.logger": "hubtrain.log",
    "hubtrain.dataset.base_nlp_dataset": "hubtrain.data.nlp",
    "hubtrain.dataset.base_cv_dataset": "hubtrain.data.cv",
    "hubtrain.reader.nlp_reader": "hubtrain.data.text_api",
    "hubtrain.reader.cv_reader": "hubtrain.data.cv_api",
    "hubtrain.reader.tokenization": "hubtrain.data.tokenization",
    "hubtrain.tokenizer.bert_tokenizer": "hubtrain.data.tokenizers",
    "hubtrain.tokenizer.tokenizer": "hubtrain.data.tokenizers",
}


def name_submodules(package: str) -> None:
    """Register the 1.x paths directly under `package` (and set them as its attributes), so both
    `import package.name` and `package.name.Thing` reach the module that holds them."""
    parent = sys.modules[package]
    for path, target in PATHS.items():
        head, _, name = path.rpartition(".")
        if head != package:
            continue
        module = importlib.import_module(target)
        sys.modules.setdefault(path, module)
        setattr(parent, name, module)
