"""Paths a run file names: taken from the workspace, kept inside it (symbolic links and `..`
resolved), and files a run would write that already exist left alone unless the entry says
`overwrite: true`. A run file from elsewhere can then neither read nor write outside its folder."""
from __future__ import annotations

import os
from typing import Any, Callable

from .errors import RunFileError

__all__ = ["PATH_KEYS", "is_path_key", "absolute", "inside", "confine", "check_output_file",
           "check_export_dir"]

# Keys that name a file or directory besides those ending in _path, _file or _dir.
PATH_KEYS = ("path", "directory", "onnx")

Fail = Callable[[str, str], RunFileError]  # (key path, message) -> the error, with file and line


def is_path_key(key: Any) -> bool:
    """Whether a run file's key names a file or directory."""
    return isinstance(key, str) and (key in PATH_KEYS or key.endswith(("_path", "_file", "_dir")))


def absolute(value: str, base: str) -> str:
    """`value` (`~` expanded) taken from `base` when relative, normalised."""
    return os.path.normpath(os.path.join(base, os.path.expanduser(value)))


def inside(path: str, directory: str) -> bool:
    """Whether `path` (symbolic links and `..` resolved) lies within `directory`."""
    real, root = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([real, root]) == root


def confine(fail: Fail, key_path: str, path: str, workspace: str) -> None:
    """Refuse a path outside the workspace, naming the key and the ways to fix it."""
    if inside(path, workspace):
        return
    real = os.path.realpath(path)
    resolved = f" (it resolves to {real})" if real != os.path.normpath(path) else ""
    raise fail(key_path, f"{path}{resolved} is outside the workspace {workspace}: a run file names only paths "
                         f"inside its workspace. Move the file or directory into the workspace and name it from "
                         f"there, give a workspace that holds it (hubtrain run FILE.yaml --workspace DIR), or, if "
                         f"you trust this run file, accept its outside paths with --allow-outside-workspace.")


def _overwrite_fix(entry_path: str) -> str:
    return f"add `overwrite: true` to {entry_path} to replace it"


def check_output_file(fail: Fail, key_path: str, entry_path: str, path: str, overwrite: bool) -> None:
    """An output file that exists is refused unless the entry allows overwriting it."""
    if os.path.isdir(path):
        raise fail(key_path, f"{path} is a directory; name the file to write.")
    if os.path.lexists(path) and not overwrite:
        raise fail(key_path, f"{path} exists and this entry would overwrite it: name a new file, remove it, or "
                             f"{_overwrite_fix(entry_path)}.")


def check_export_dir(fail: Fail, key_path: str, entry_path: str, path: str, overwrite: bool) -> None:
    """An export directory may be new, empty, or an earlier hubtrain export (replaced whole);
    another directory is refused unless the entry allows overwriting it."""
    if os.path.isfile(path) or (os.path.islink(path) and not os.path.isdir(path)):
        raise fail(key_path, f"{path} is a file; an export is a directory: name a new directory.")
    if not os.path.isdir(path) or not os.listdir(path):
        return
    from ..export.metadata import is_export_dir

    if not is_export_dir(path) and not overwrite:
        raise fail(key_path, f"{path} exists and is not a hubtrain export (no hubtrain_export.json): name a new or "
                             f"empty directory, or {_overwrite_fix(entry_path)} (its files are removed).")
