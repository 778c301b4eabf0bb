"""The module zoo: backbones, their preprocessing, and the features tasks read from them.

    hub.zoo.list()                       # names the zoo can load (and the directories in modules_home())
    hub.zoo.register("mine", directory="path/to/module")
    hubtrain.zoo.word.build_word_module  # writes a Senta-style word module (`hubtrain zoo build-word`)
"""
from .feature import FeatureRef, as_feature
from .module import MODULE_FILE, Module
from .registry import ModuleUnavailableError, UnknownModuleError, ZooEntry, get, list, modules_home, register

__all__ = ["FeatureRef", "as_feature", "Module", "MODULE_FILE", "ModuleUnavailableError", "UnknownModuleError",
           "ZooEntry", "get", "list", "modules_home", "register"]
