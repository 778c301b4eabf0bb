"""Stage classes named by `{stage}_class_path`: the only code a run file brings in. The file must
lie inside the workspace (unless allowed otherwise) and define the stage's class, derived from
the stage's base."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback

from .errors import RunFileError
from .stages import STAGE_BASES, Stage

__all__ = ["CLASS_NAMES", "load_stage_class", "inside"]

CLASS_NAMES = {"instance": "Instance", "network": "Network", "startup": "Startup", "runner": "Runner",
               "terminal": "Terminal"}
_LOADED: dict[tuple, object] = {}  # (real path, mtime, size) -> module: a file runs once per version


def inside(path: str, directory: str) -> bool:
    """Whether `path` (symbolic links resolved) lies within `directory`."""
    real, root = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([real, root]) == root


def _import(real: str, key_path: str, shown: str) -> object:
    stat = os.stat(real)
    version = (real, stat.st_mtime_ns, stat.st_size)
    if version in _LOADED:
        return _LOADED[version]
    name = "hubtrain_stage_" + hashlib.sha1(real.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, real)
    if spec is None or spec.loader is None:
        raise RunFileError(key_path, f"{shown} cannot be imported as Python; give a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        sys.modules.pop(name, None)
        raise RunFileError(key_path, f"{shown}:{e.lineno}: syntax error: {e.msg}; fix the file.") from None
    except Exception as e:  # any error the user's file raises while it is imported
        sys.modules.pop(name, None)
        frames = [f for f in traceback.extract_tb(e.__traceback__) if os.path.realpath(f.filename) == real]
        line = f":{frames[-1].lineno}" if frames else ""
        raise RunFileError(key_path, f"{shown}{line}: importing the file raised {type(e).__name__}: {e}") from None
    _LOADED[version] = module
    return module


def load_stage_class(stage: str, path: str, key_path: str, workspace: str, allow_outside: bool) -> type:
    """The class `CLASS_NAMES[stage]` defined in the file `path`, checked to derive from the
    stage's base. Raises RunFileError naming `key_path` and the fix."""
    base = STAGE_BASES[stage]
    wanted = CLASS_NAMES[stage]
    if not isinstance(path, str) or not path:
        raise RunFileError(key_path, f"{path!r} is not a file path; write e.g. \"{{workspace}}/my_{stage}.py\".")
    if not allow_outside and not inside(path, workspace):
        raise RunFileError(key_path, f"{path} is outside the workspace {workspace}: move the file into the "
                                     f"workspace, or allow code from elsewhere with --allow-outside-workspace "
                                     f"(allow_outside_workspace=True) if you trust it.")
    if not os.path.isfile(path):
        raise RunFileError(key_path, f"file not found: {path}; write a Python file there defining "
                                     f"class {wanted}({base.__name__}), or fix the path.")
    if not path.endswith(".py"):
        raise RunFileError(key_path, f"{path} is not a .py file; a stage class lives in a Python file.")
    module = _import(os.path.realpath(path), key_path, path)
    cls = getattr(module, wanted, None)
    if cls is None:
        raise RunFileError(key_path, f"{path} defines no class named {wanted}: name the {stage} stage's class "
                                     f"{wanted} (derived from hubtrain.pipeline.{base.__name__}).")
    if not isinstance(cls, type) or not issubclass(cls, base):
        bases = (", ".join(b.__name__ for b in cls.__mro__[1:-1] if b is not Stage) if isinstance(cls, type)
                 else type(cls).__name__)
        raise RunFileError(key_path, f"{wanted} in {path} does not derive from hubtrain.pipeline.{base.__name__} "
                                     f"(it derives from {bases or 'object'}): write "
                                     f"`from hubtrain.pipeline import {base.__name__}` and "
                                     f"`class {wanted}({base.__name__}): ...`.")
    return cls
