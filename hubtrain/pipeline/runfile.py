"""Reading a run file: YAML (safe loading, bounded), the line of every key, `--set` overrides,
and `{workspace}` expanded in every string."""
from __future__ import annotations

import copy
import os
import re
from typing import Any, Iterable, Optional

import yaml

from .errors import RunFileError

__all__ = ["RunFileLoader", "MAX_VALUES", "load_text", "parse_text", "read_yaml", "key_lines", "apply_overrides",
           "parse_override", "expand_workspace", "join_path", "resolve_workspace", "WORKSPACE"]

WORKSPACE = "{workspace}"
_INDEX = re.compile(r"\[(\d+)\]")
# Values a run file may hold once its aliases are expanded. A run file holds a few hundred; the
# bound stops a few hundred bytes of nested aliases from expanding to billions while it is read.
MAX_VALUES = 100_000


class RunFileLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader (plain data only: no tags that build objects or run code), reading
    `5e-5` as a number too (YAML 1.1 wants `5.0e-5` and would give the string "5e-5"), and
    counting while it composes how many values the document holds with its aliases expanded:
    more than MAX_VALUES, or an alias inside its own anchor, is refused before anything is built."""

    def __init__(self, stream: Any, source: Optional[str] = None) -> None:
        super().__init__(stream)
        self.source = source or "run file"  # named in the errors
        self._expanded: dict[int, int] = {}  # id(node) -> values under it, aliases expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        alias = self.check_event(yaml.AliasEvent)
        mark = self.peek_event().start_mark
        node = super().compose_node(parent, index)
        size = self._expanded.get(id(node))
        if size is None:
            if alias:
                raise RunFileError("", "an alias refers to the anchor it is inside of (a value that contains "
                                       "itself): write the value out instead.",
                                   source=f"{self.source}:{mark.line + 1}")
            children: Iterable[Any] = ()
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            size = 1 + sum(self._expanded[id(child)] for child in children)
            self._expanded[id(node)] = size
        if size > MAX_VALUES:
            raise RunFileError("", f"its aliases (*name) expand to more than {MAX_VALUES:,} values, far more than a "
                                   f"run file needs (nested aliases that multiply, e.g. a \"billion laughs\" text): "
                                   f"write the values out, or use fewer aliases.",
                               source=f"{self.source}:{mark.line + 1}")
        return node


RunFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def parse_text(text: str, source: Optional[str] = None) -> tuple[Any, dict[str, int]]:
    """A YAML text as plain data, and the line of each key path (see key_lines), composed once
    with RunFileLoader; its errors name `source` and the line."""
    loader = RunFileLoader(text, source)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, _lines(node, source)


def load_text(text: str) -> Any:
    """A YAML text as plain data, with RunFileLoader."""
    return parse_text(text)[0]


def join_path(path: str, key: Any) -> str:
    """`runner[0]` + `epochs` -> `runner[0].epochs`; an int key gives `runner[0]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def key_lines(text: str, source: Optional[str] = None) -> dict[str, int]:
    """The line (1-based) of every key path in a YAML text; refuses a key written twice in one
    mapping, which safe loading would silently resolve to the last."""
    return parse_text(text, source)[1]


def _lines(root: Any, source: Optional[str]) -> dict[str, int]:
    lines: dict[str, int] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                here = join_path(path, key)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise RunFileError(here, f"key written twice (first on line {seen[key]}); keep one.",
                                       source=f"{source or 'run file'}:{line}")
                seen[key] = line
                lines[here] = line
                walk(value_node, here)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                here = join_path(path, i)
                lines[here] = item.start_mark.line + 1
                walk(item, here)

    if root is not None:
        walk(root, "")
    return lines


def read_yaml(path: str) -> tuple[dict, dict[str, int]]:
    """The run file as a dict and the line of each key path."""
    if not os.path.isfile(path):
        raise RunFileError("", f"run file not found: {path}; give the path of a YAML run file "
                               f"(examples/bbc_news.yaml shows one).")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data, lines = parse_text(text, path)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(e, "problem", None) or str(e)
        raise RunFileError("", f"not valid YAML ({problem}); check the indentation and quoting there.",
                           source=where) from None
    if not isinstance(data, dict):
        raise RunFileError("", "a run file is a YAML mapping with the keys module, dataset, task, strategy and "
                               "runner.", source=path)
    return data, lines


def parse_override(text: str) -> tuple[str, Any]:
    """`runner[0].epochs=3` -> ("runner[0].epochs", 3); the value is read as YAML (numbers, true,
    lists), so `--set task.hidden_units=[64]` works."""
    if "=" not in text:
        raise RunFileError("", f"--set {text!r}: write KEY.PATH=VALUE, e.g. --set runner[0].epochs=3.")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key:
        raise RunFileError("", f"--set {text!r}: the key path before '=' is empty.")
    try:
        value = load_text(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def _tokens(path: str) -> list[Any]:
    """`runner[0].epochs` or `runner.0.epochs` or `runner.train.epochs` -> ["runner", 0, "epochs"]
    (a name inside a list picks the entry with that `name`)."""
    tokens: list[Any] = []
    for part in path.split("."):
        if not part:
            raise RunFileError(path, "empty part in the key path; write e.g. runner[0].epochs.")
        head = _INDEX.split(part)
        name, indices = head[0], [int(i) for i in head[1::2]]
        if any(rest for rest in head[2::2]):
            raise RunFileError(path, "write list positions as [N] at the end of a part, e.g. runner[0].epochs.")
        if name:
            tokens.append(int(name) if name.isdigit() else name)
        tokens.extend(indices)
    return tokens


def _child(container: Any, token: Any, path: str, create: bool) -> Any:
    if isinstance(container, list):
        if isinstance(token, str):
            named = [item for item in container if isinstance(item, dict) and item.get("name") == token]
            if not named:
                names = [item.get("name") for item in container if isinstance(item, dict)]
                raise RunFileError(path, f"no entry named {token!r} here; the entries are {names} (or use [N]).")
            return named[0]
        if not 0 <= token < len(container):
            raise RunFileError(path, f"position {token} is outside the list of {len(container)} entries.")
        return container[token]
    if isinstance(container, dict):
        if token not in container or container[token] is None:
            if not create:
                raise RunFileError(path, "no such key.")
            container[token] = {}
        return container[token]
    raise RunFileError(path, f"cannot set a key inside a {type(container).__name__} value.")


def apply_overrides(data: dict, overrides: Iterable[str | tuple[str, Any]]) -> tuple[dict, list[str]]:
    """A copy of `data` with each `KEY.PATH=VALUE` set (missing mappings on the way are made), and
    the key paths set, written canonically (`runner[0].epochs`)."""
    data = copy.deepcopy(data)
    written = []
    for item in overrides:
        path, value = parse_override(item) if isinstance(item, str) else item
        tokens = _tokens(path)
        node: Any = data
        walked = ""
        for position, token in enumerate(tokens):
            step = token
            if isinstance(node, list):
                target = _child(node, token, join_path(walked, token), create=False)
                step = next(i for i, entry in enumerate(node) if entry is target)
            elif not isinstance(node, dict):
                raise RunFileError(walked, f"cannot set a key inside a {type(node).__name__} value.")
            walked = join_path(walked, step)
            if position == len(tokens) - 1:
                node[step] = value
            else:
                node = _child(node, step, walked, create=True)
        written.append(walked)
    return data, written


def expand_workspace(value: Any, workspace: str) -> Any:
    """`{workspace}` replaced in every string of `value` (other braces are left alone)."""
    if isinstance(value, str):
        return value.replace(WORKSPACE, workspace)
    if isinstance(value, list):
        return [expand_workspace(v, workspace) for v in value]
    if isinstance(value, dict):
        return {k: expand_workspace(v, workspace) for k, v in value.items()}
    return value


def resolve_workspace(data: dict, run_file: Optional[str], workspace: Optional[str] = None) -> str:
    """The workspace: `workspace` (the command line's --workspace) when given, else the run file's
    folder. A run file cannot name its own workspace: a `workspace` key is refused. A run built
    in memory (no file) may name it with a `workspace` key; else it is the current directory."""
    if run_file is not None and "workspace" in data:
        raise RunFileError("workspace", "a run file cannot choose its workspace: it is the folder the run file is "
                                        "in. Remove this key; to use another folder, give it when running: "
                                        "hubtrain run FILE.yaml --workspace DIR (run_pipeline(path, workspace=DIR)).")
    if workspace is not None:
        given, what = workspace, "--workspace"
    elif run_file is not None:
        return os.path.realpath(os.path.dirname(os.path.abspath(run_file)))
    else:
        given, what = data.get("workspace") or os.getcwd(), "workspace"
    if not isinstance(given, str) or not given.strip() or WORKSPACE in given:
        raise RunFileError(what, f"{given!r} is not a directory path; give the folder that holds the run's files.")
    path = os.path.realpath(os.path.expanduser(given))
    if not os.path.isdir(path):
        raise RunFileError(what, f"directory not found: {path}; create it or give the folder that holds the run's "
                                 f"files.")
    return path
