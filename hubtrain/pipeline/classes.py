"""Stage classes named by `{stage}_class_path`: the only code a run file brings in. Checking a
run file reads such a file without running it (it exists, parses, and defines the stage's class
on the stage's base, as its source says); the file is imported only when the run starts, and the
class checked again then."""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
import traceback
from typing import Optional

from .errors import RunFileError
from .stages import STAGE_BASES, Stage

__all__ = ["CLASS_NAMES", "check_stage_file", "load_stage_class"]

CLASS_NAMES = {"instance": "Instance", "network": "Network", "startup": "Startup", "runner": "Runner",
               "terminal": "Terminal"}
_PACKAGE = "hubtrain.pipeline"
_LOADED: dict[tuple, object] = {}  # (real path, mtime, size) -> module: a file runs once per version


def _accepted(stage: str) -> set[str]:
    """Dotted names a stage class may derive from: the stage's base, or its default class."""
    base, default = STAGE_BASES[stage].__name__, CLASS_NAMES[stage]
    return {f"{_PACKAGE}.{base}", f"{_PACKAGE}.{default}", f"{_PACKAGE}.stages.{base}",
            f"{_PACKAGE}.{stage}.{default}"}


def _imported_names(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """Top-level imports: local name -> dotted name, and the modules `import *` came from."""
    names: dict[str, str] = {}
    starred: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if alias.name == "*":
                    starred.add(node.module)
                else:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names, starred


def _dotted(expr: ast.expr) -> Optional[str]:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        head = _dotted(expr.value)
        return f"{head}.{expr.attr}" if head else None
    return None


def _derives(cls: ast.ClassDef, classes: dict[str, ast.ClassDef], names: dict[str, str], starred: set[str],
             accepted: set[str], seen: frozenset = frozenset()) -> bool:
    """Whether the source says `cls` derives from an accepted base, directly, through an
    imported name, or through another class of the same file."""
    for base in cls.bases:
        written = _dotted(base)
        if written is None:
            continue
        head, _, rest = written.partition(".")
        if head in classes and not rest and head not in seen and head != cls.name:
            if _derives(classes[head], classes, names, starred, accepted, seen | {cls.name}):
                return True
            continue
        full = f"{names[head]}.{rest}" if head in names and rest else names.get(head, written)
        if full in accepted or (not rest and head not in names and
                                any(f"{module}.{head}" in accepted for module in starred)):
            return True
    return False


def check_stage_file(stage: str, path: str, key_path: str) -> None:
    """Read the file `path` without running it: a .py file that parses and defines the stage's
    class (`CLASS_NAMES[stage]`) on the stage's base. Raises RunFileError naming `key_path`."""
    base = STAGE_BASES[stage].__name__
    wanted = CLASS_NAMES[stage]
    if not os.path.isfile(path):
        raise RunFileError(key_path, f"file not found: {path}; write a Python file there defining "
                                     f"class {wanted}({base}), or fix the path.")
    if not path.endswith(".py"):
        raise RunFileError(key_path, f"{path} is not a .py file; a stage class lives in a Python file.")
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), filename=path)
    except SyntaxError as e:
        raise RunFileError(key_path, f"{path}:{e.lineno}: syntax error: {e.msg}; fix the file.") from None
    except ValueError as e:  # source bytes that cannot be Python (e.g. a NUL byte)
        raise RunFileError(key_path, f"{path} is not Python source ({e}); give a .py file.") from None
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    if wanted not in classes:
        raise RunFileError(key_path, f"{path} defines no class named {wanted}: name the {stage} stage's class "
                                     f"{wanted} (derived from {_PACKAGE}.{base}).")
    cls = classes[wanted]
    names, starred = _imported_names(tree)
    if not _derives(cls, classes, names, starred, _accepted(stage)):
        written = ", ".join(filter(None, (_dotted(b) for b in cls.bases))) or "object"
        raise RunFileError(key_path, f"{wanted} in {path}:{cls.lineno} does not derive from {_PACKAGE}.{base} "
                                     f"(it derives from {written}): write `from {_PACKAGE} import {base}` and "
                                     f"`class {wanted}({base}): ...` (or derive from `{_PACKAGE}.{wanted}`, "
                                     f"the default {stage} stage).")


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


def load_stage_class(stage: str, path: str, key_path: str) -> type:
    """Import the file `path` (checked by check_stage_file) and return its stage class, checked
    to derive from the stage's base. Raises RunFileError naming `key_path` and the fix."""
    base = STAGE_BASES[stage]
    wanted = CLASS_NAMES[stage]
    check_stage_file(stage, path, key_path)
    module = _import(os.path.realpath(path), key_path, path)
    cls = getattr(module, wanted, None)
    if cls is None:
        raise RunFileError(key_path, f"{path} defines no class named {wanted}: name the {stage} stage's class "
                                     f"{wanted} (derived from {_PACKAGE}.{base.__name__}).")
    if not isinstance(cls, type) or not issubclass(cls, base):
        bases = (", ".join(b.__name__ for b in cls.__mro__[1:-1] if b is not Stage) if isinstance(cls, type)
                 else type(cls).__name__)
        raise RunFileError(key_path, f"{wanted} in {path} does not derive from {_PACKAGE}.{base.__name__} "
                                     f"(it derives from {bases or 'object'}): write "
                                     f"`from {_PACKAGE} import {base.__name__}` and "
                                     f"`class {wanted}({base.__name__}): ...`.")
    return cls
