"""The module zoo: backbones, their preprocessing, and the features tasks read from them.

    hub.zoo.list()                       # names the zoo can load
    hub.zoo.register("mine", directory="path/to/module")
"""
from .feature import FeatureRef, as_feature
from .module import MODULE_FILE, Module
from .registry import ModuleUnavailableError, ZooEntry, get, list, modules_home, register

__all__ = ["FeatureRef", "as_feature", "Module", "MODULE_FILE", "ModuleUnavailableError", "ZooEntry", "get",
           "list", "modules_home", "register"]
