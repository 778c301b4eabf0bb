"""PaddleHub 1.x's top-level names that hubtrain does not provide, each with what to use instead,
so a 1.x script that reaches one stops with that advice rather than a bare AttributeError."""
from __future__ import annotations

import difflib
from typing import Any, Callable, Sequence

__all__ = ["INSTEAD", "DATA_INSTEAD", "missing_name", "namespace_getattr"]

_MODULE_WRITING = ("writing a PaddleHub module is not part of hubtrain: a module is a directory "
                   "(hub.Module(directory=...), module.save(dir), hub.zoo.register(name, directory=...))")
_SERVER = ("hubtrain downloads nothing from PaddleHub's server: a named module is the directory "
           "$HUBTRAIN_HOME/modules/<name> (hub.zoo.modules_home())")
_HOME = "hubtrain's files live under $HUBTRAIN_HOME (default ~/.cache/hubtrain): hub.zoo.modules_home() names its modules folder"

# name -> (what it was in PaddleHub 1.x, what to use instead)
INSTEAD: dict[str, tuple[str, str]] = {
    "DetectionTask": ("the object-detection task",
                      "object detection is not built in hubtrain; PaddleDetection fine-tunes detectors on Paddle 3"),
    "TextGenerationTask": ("the text-generation task",
                           "text generation is not built in hubtrain; paddlenlp's generation models and Trainer do it"),
    "PointwiseTextMatchingTask": ("the pointwise text-matching task",
                                  "pointwise matching is text-pair classification: hub.TextClassifierTask on "
                                  "a dataset with text_a and text_b (hub.reader.ClassifyReader encodes the pair)"),
    "PairwiseTextMatchingTask": ("the pairwise text-matching (ranking) task",
                                 "pairwise ranking is not built in hubtrain; score pairs with hub.TextClassifierTask "
                                 "on text_a/text_b, or rank with hub.RegressionTask"),
    "connect_program": ("static-graph program surgery",
                        "in dygraph a task's network is the module's backbone Layer and the head: no program to connect"),
    "BaseProcessor": ("a module's processor for writing modules", _MODULE_WRITING),
    "Signature": ("a module's signature for writing modules", _MODULE_WRITING),
    "create_signature": ("a module's signature for writing modules", _MODULE_WRITING),
    "NLPPredictionModule": ("a base for writing prediction modules", _MODULE_WRITING),
    "TransformerModule": ("a base for writing transformer modules", _MODULE_WRITING),
    "DataType": ("a module signature's data types", _MODULE_WRITING),
    "default_module_manager": ("the installer of modules from PaddleHub's server", _SERVER),
    "HubServer": ("PaddleHub's module server", _SERVER),
    "server_check": ("a check of PaddleHub's module server", _SERVER),
    "download": ("a download from PaddleHub's server", _SERVER),
    "ResourceNotFoundError": ("a download error", _SERVER),
    "ServerConnectionError": ("a download error", _SERVER),
    "USER_HOME": ("PaddleHub's home folder", _HOME),
    "HUB_HOME": ("PaddleHub's home folder", _HOME),
    "MODULE_HOME": ("PaddleHub's modules folder", _HOME),
    "CACHE_HOME": ("PaddleHub's cache folder", _HOME),
    "CONF_HOME": ("PaddleHub's configuration folder", _HOME),
}


# the same for `hub.dataset.<name>` and `hub.reader.<name>`
DATA_INSTEAD: dict[str, tuple[str, str]] = {
    "Couplet": ("a couplet dataset for text generation", "text generation is not built in hubtrain"),
    "DuEL": ("a pairwise text-matching dataset",
             "pairwise ranking is not built in hubtrain; a BaseNLPDataset of text_a/text_b pairs with 0/1 labels "
             "trains hub.TextClassifierTask"),
    "Coco10": ("an object-detection dataset", "object detection is not built in hubtrain"),
    "ObjectDetectionDataset": ("the object-detection dataset base", "object detection is not built in hubtrain"),
    "HubDataset": ("PaddleHub 1.2-1.4's dataset base", "subclass hub.dataset.BaseNLPDataset or BaseCVDataset"),
    "ObjectDetectionReader": ("the object-detection reader", "object detection is not built in hubtrain"),
}


def missing_name(name: str, public: tuple[str, ...] = (), namespace: str = "hub") -> AttributeError:
    """The error for `<namespace>.<name>`: the 1.x advice when it is a PaddleHub 1.x name, else the
    nearest public names."""
    table = INSTEAD if namespace == "hub" else DATA_INSTEAD
    if name in table:
        was, instead = table[name]
        return AttributeError(f"hubtrain has no {namespace}.{name} (in PaddleHub 1.x, {was}): {instead}.")
    near = difflib.get_close_matches(name, public, n=3)
    hint = f" Did you mean {', '.join(namespace + '.' + n for n in near)}?" if near else ""
    module = "hubtrain" if namespace == "hub" else "hubtrain." + namespace.split(".")[-1]
    return AttributeError(f"module {module!r} has no attribute {name!r}.{hint}")



def namespace_getattr(namespace: str, public: Sequence[str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `namespace` (e.g. "hub.dataset"): a name it lacks fails with
    PaddleHub 1.x's advice, or the nearest of its `public` names."""
    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise missing_name(name, tuple(public), namespace)
    return __getattr__
