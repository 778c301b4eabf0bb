"""Unpickling that runs nothing from the file.

A pickle may call any importable function while it loads. The unpickler here resolves only the
globals of an allowlist and refuses every other one in `find_class`, which the pickle machine
calls when the file names a global, i.e. before anything the file asks for is called. The
readers of Paddle weights, PyTorch checkpoints and data pickles share it; each brings its own
allowlist. The numpy records below rebuild arrays and scalars without numpy's own unpickling
functions, so a file cannot reach them either.
"""
from __future__ import annotations

import _compat_pickle
import collections
import os
import pickle
import types
from typing import Any, BinaryIO, Callable, Iterable, Mapping

import numpy as np

__all__ = ["UnsafeFileError", "Refusal", "Record", "RestrictedUnpickler", "NUMPY_ARRAYS", "CONTAINERS", "check_plain",
           "check_data_pickles", "WEIGHTS_HOLD"]

WEIGHTS_HOLD = "a weights file may only hold tensors (and dicts, lists and numbers around them)"
_PLAIN = (str, bytes, bytearray, int, float, complex, bool, type(None))


class UnsafeFileError(pickle.UnpicklingError):
    """The file asks for something outside its reader's allowlist; nothing from it was run."""


class Refusal(UnsafeFileError):
    """Raised by an admitted record that is given arguments it refuses; the unpickler names the file."""


class Record:
    """An admitted function as the file sees it: callable, without attributes a pickle's BUILD
    opcode could set, a fresh one per lookup."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        object.__setattr__(self, "fn", fn)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self.fn.__name__} is read-only")

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def python_name(module: str, name: str) -> str:
    """`module.name` as Python 3 spells it (protocol-2 pickles say __builtin__ for builtins)."""
    module, name = _compat_pickle.NAME_MAPPING.get(
        (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
    return f"{module}.{name}"


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves the globals of `allowed` only. `holds` says what such a file may hold and `fix`
    what to do instead; both end the refusal's message, which starts with `source`."""

    error: type[UnsafeFileError] = UnsafeFileError

    def __init__(self, file: BinaryIO, source: str, allowed: Mapping[tuple[str, str], Any], fix: str,
                 holds: str = WEIGHTS_HOLD) -> None:
        super().__init__(file, encoding="latin1")
        self.source, self.allowed, self.fix, self.holds = source, allowed, fix, holds

    def refuse(self, what: str) -> UnsafeFileError:
        return self.error(f"{self.source}: refusing to load {what}: {self.holds}. Nothing from the file was run. "
                          f"{self.fix}")

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed.get((module, name))
        if found is None:
            raise self.refuse(python_name(module, name))
        return Record(found) if isinstance(found, types.FunctionType) else found

    def load(self) -> Any:
        try:
            return super().load()
        except Refusal as refusal:
            raise self.refuse(str(refusal)) from None


# ------------------------------------------------------------------------------ numpy records
class _ArrayType:
    """Stands in for `numpy.ndarray` where a pickle names the class of the array to rebuild."""

    __slots__ = ()


_ARRAY_TYPE = _ArrayType()


def _reconstruct(subtype: Any, *_: Any) -> np.ndarray:
    """numpy's `_reconstruct(ndarray, (0,), b"b")`: an empty array that BUILD then fills."""
    if subtype is not _ARRAY_TYPE:
        raise Refusal("an array record of a class other than numpy.ndarray")
    return np.empty(0, dtype=np.int8)


def _scalar(dtype: Any, data: Any = b"") -> np.generic:
    """numpy's `scalar(dtype, bytes)`: one number from its raw bytes."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise Refusal(f"a numpy scalar of dtype {dtype!r:.40}")
    if isinstance(data, str):
        data = data.encode("latin1")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError(f"a numpy scalar of dtype {dtype} with {len(data)} bytes of data")
    return np.frombuffer(data, dtype=dtype)[0]


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """`_codecs.encode(text, "latin1")`, which protocol-2 pickles use to write bytes."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise Refusal(f"_codecs.encode with encoding {encoding!r:.40}")
    return text.encode("latin1")


NUMPY_ARRAYS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _ARRAY_TYPE,
    ("numpy", "dtype"): np.dtype,  # a C type: BUILD cannot set attributes on it
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("_codecs", "encode"): _encode,
}

CONTAINERS: dict[tuple[str, str], Any] = {
    ("builtins", "tuple"): tuple,
    ("__builtin__", "tuple"): tuple,
    ("collections", "OrderedDict"): collections.OrderedDict,  # a C type, like tuple
}


def check_plain(obj: Any, source: str, error: type[Exception], also: Iterable[type] = (),
                holds: str = WEIGHTS_HOLD) -> None:
    """Raise `error` unless `obj` is containers, numbers, strings and numpy arrays of numbers (and
    instances of `also`) all the way down; an admitted record left bare is not data."""
    allowed = tuple(also)
    seen: set[int] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, _PLAIN) or (allowed and isinstance(item, allowed)):
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, (np.ndarray, np.generic)):
            if item.dtype.hasobject:
                raise error(f"{source}: holds an array of Python objects ({item.dtype}); {holds}")
        else:
            raise error(f"{source}: holds a {type(item).__name__}, not a tensor or a number; {holds}")


# ------------------------------------------------------------------------------ pickles beside a model
PICKLE_SUFFIXES = (".pkl", ".pickle")
DATA_HOLD = "a pickle beside a model may only hold data (dicts, lists, strings, numbers and arrays)"


def _opens_as_pickle(path: str) -> bool:
    """Pickle protocols 2 to 5 open with PROTO (0x80) and the protocol number."""
    with open(path, "rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def check_data_pickles(directory: str, fix: str, skip: Iterable[str] = ()) -> None:
    """Refuse, before anything unpickles them, the pickles among `directory`'s files (named *.pkl
    or *.pickle, or opening as a pickle) that hold more than data; the files named in `skip` are
    left to their own reader. Libraries read some such files with Python's unrestricted
    unpickler: paddlenlp's ErnieTinyTokenizer its word dictionary."""
    skipped = set(skip)
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name in skipped or not os.path.isfile(path) or not (name.endswith(PICKLE_SUFFIXES)
                                                                or _opens_as_pickle(path)):
            continue
        with open(path, "rb") as f:
            unpickler = RestrictedUnpickler(f, path, {**NUMPY_ARRAYS, **CONTAINERS}, fix, DATA_HOLD)
            try:
                obj = unpickler.load()
            except UnsafeFileError:
                raise
            except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError, KeyError,
                    UnicodeDecodeError, MemoryError, RecursionError) as exc:
                raise UnsafeFileError(f"{path}: not a pickle that can be checked ({type(exc).__name__}: {exc}), "
                                      f"and a library may unpickle it: {DATA_HOLD}. {fix}") from None
        check_plain(obj, path, UnsafeFileError, holds=DATA_HOLD)
