"""Paddle's weights files, read without running code from them.

`paddle.save` and `paddle.static.save` write pickles (`.pdparams`, `.pdopt`), and `paddle.load`
unpickles them with Python's unrestricted unpickler: a file whose pickle names `os.system` runs
it. `load_paddle_file` reads the same files through an unpickler that admits only what paddle
writes (found by unpickling files saved with paddle 3.3.1, pickle protocols 2 to 4):

* numpy arrays and scalars (`numpy.ndarray`, `numpy.dtype`, `_reconstruct`, `scalar`, and
  `_codecs.encode` for protocol 2's bytes);
* `builtins.tuple`: a Tensor outside a flat state dict is saved as `tuple((name, array))`;
* `builtins.eval`, called by paddle as `eval("data", {"data": array})` for a static-graph
  DenseTensor: only that exact call is admitted, and it evaluates nothing;
* `collections.OrderedDict`.

It then gives what `paddle.load` gives: big tensors that protocols 2 and 3 split into slices
joined again, the parameter-name table applied and dropped, arrays turned into Tensors.
`load_legacy_pickle` reads hubtrain's format-1 `rng.pkl` the same way, admitting paddle's
generator state besides the arrays.
"""
from __future__ import annotations

import os
import pickle
import struct
from typing import Any, Callable, Optional

import numpy as np
import paddle

from .restricted_pickle import (CONTAINERS, NUMPY_ARRAYS, WEIGHTS_HOLD, Refusal, RestrictedUnpickler,
                                UnsafeFileError, check_plain)

__all__ = ["UnsafeFileError", "PaddleFileError", "load_paddle_file", "load_legacy_pickle"]

NAME_TABLE = "StructuredToParameterName@@"  # structured name -> the tensor's own name
BIG_TENSORS = "UnpackBigParamInfor@@"  # name -> {"OriginShape", "slices"}: a tensor saved in slices
_PADDLE_FIX = ("If you trust the file, load it with paddle.load in a process of your own and save only "
               "its tensors: paddle.save(layer.state_dict(), path).")
_RNG_HOLDS = "rng.pkl may only hold random-generator states (numbers, arrays and paddle's GeneratorState)"
_RNG_FIX = ("hubtrain does not write such a file: delete the checkpoint that holds it, or resume from "
            "another one.")


class PaddleFileError(ValueError):
    """The file is not one `paddle.save` writes (damaged, truncated or another format)."""


def _dense_tensor(expression: Any, namespace: Any = None, *_: Any) -> np.ndarray:
    """paddle's record of a DenseTensor, `eval("data", {"data": array})`, without evaluating."""
    if expression != "data" or not isinstance(namespace, dict) or set(namespace) != {"data"} \
            or not isinstance(namespace["data"], np.ndarray):
        raise Refusal(f"builtins.eval of {expression!r:.60}")
    return namespace["data"]


_PADDLE_GLOBALS = {**NUMPY_ARRAYS, **CONTAINERS,
                   ("builtins", "eval"): _dense_tensor, ("__builtin__", "eval"): _dense_tensor}


def _existing(path: Any) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no weights file at {path}" if not os.path.isdir(path) else
                                f"{path} is a directory; give the weights file itself (e.g. model.pdparams)")
    return path


def _unpickle(path: str, allowed: dict, fix: str, holds: str = WEIGHTS_HOLD, also: tuple = ()) -> Any:
    with open(path, "rb") as f:
        try:
            obj = RestrictedUnpickler(f, path, allowed, fix, holds).load()
        except UnsafeFileError:
            raise
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError, KeyError,
                struct.error, UnicodeDecodeError, MemoryError, RecursionError) as exc:
            raise PaddleFileError(f"{path}: not a file paddle.save writes ({type(exc).__name__}: {exc}); give a "
                                  f"state dict saved by paddle.save (or task.save)") from None
    check_plain(obj, path, UnsafeFileError, also, holds)
    return obj


def _join_big_tensors(state: dict, path: str) -> None:
    """Put back the tensors pickle protocols 2 and 3 split into 1 GB slices."""
    info = state.pop(BIG_TENSORS)
    removed = []
    try:
        for key, spec in info.items():
            slices = [state[part] for part in spec["slices"]]
            state[key] = np.concatenate(slices).reshape(tuple(int(n) for n in spec["OriginShape"]))
            removed += spec["slices"]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise PaddleFileError(f"{path}: its table of tensors saved in slices is damaged ({type(exc).__name__}: "
                              f"{exc})") from None
    for part in removed:
        state.pop(part, None)


def _is_named_array(obj: Any) -> bool:
    """A Tensor as paddle.save pickles it outside a flat state dict: (name, array)."""
    return isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str) and isinstance(obj[1], np.ndarray)


def _contains(obj: Any, test: Callable[[Any], bool]) -> bool:
    if test(obj):
        return True
    if type(obj) in (dict, list, tuple) or isinstance(obj, dict):
        return any(_contains(v, test) for v in (obj.values() if isinstance(obj, dict) else obj))
    return False


def _convert(obj: Any, test: Callable[[Any], bool], make: Callable[[Any], Any]) -> Any:
    if test(obj):
        return make(obj)
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _convert(obj[key], test, make)
        return obj
    if type(obj) is list:
        return [_convert(v, test, make) for v in obj]
    if type(obj) is tuple:
        return tuple(_convert(v, test, make) for v in obj)
    return obj


def _tensor(array: np.ndarray, name: Any, as_numpy: bool) -> Any:
    if as_numpy:
        return array
    tensor = paddle.to_tensor(array)
    if name:
        tensor.name = name
    return tensor


def load_paddle_file(path: str, *, return_numpy: bool = False, fix: Optional[str] = None) -> Any:
    """What `paddle.load(path)` returns for a file `paddle.save` or `paddle.static.save` wrote (a
    state dict, an optimizer state with its `LR_Scheduler` and master weights, nested lists and
    dicts of tensors, a tensor, an array), read without running code from it. Arrays become
    Tensors in dynamic mode; they stay numpy arrays with `return_numpy=True` or in static mode.

    Raises `UnsafeFileError` (a `pickle.UnpicklingError`) naming the file and what it asked for
    when the pickle names anything else, before that is called; `PaddleFileError` when the file
    is not such a pickle; `FileNotFoundError` when there is no file. `fix` replaces the refusal's
    advice where the caller knows better where the file came from."""
    path = _existing(path)
    obj = _unpickle(path, _PADDLE_GLOBALS, fix or _PADDLE_FIX)
    as_numpy = return_numpy or not paddle.in_dynamic_mode()
    if isinstance(obj, dict):
        if BIG_TENSORS in obj:
            _join_big_tensors(obj, path)
        if NAME_TABLE in obj:
            names = obj.pop(NAME_TABLE)
            if not isinstance(names, dict):
                raise PaddleFileError(f"{path}: its parameter-name table is a {type(names).__name__}, not a dict")
            for key, name in names.items():
                if isinstance(obj.get(key), np.ndarray):
                    obj[key] = _tensor(obj[key], name, as_numpy)
            return obj
    if _contains(obj, _is_named_array):
        return _convert(obj, _is_named_array, lambda pair: _tensor(pair[1], pair[0], as_numpy))
    return _convert(obj, lambda v: isinstance(v, np.ndarray), lambda array: _tensor(array, None, as_numpy))


def load_legacy_pickle(path: str, *, fix: Optional[str] = None) -> Any:
    """hubtrain's format-1 `rng.pkl` (`{"paddle": paddle.get_rng_state(), "numpy":
    np.random.get_state(), "python": random.getstate()}`), its states as they were pickled, read
    without running code from it: besides numbers and arrays only paddle's generator state is
    admitted, which paddle rebuilds from numbers."""
    path = _existing(path)
    state_type = type(paddle.get_rng_state()[0])  # paddle's GeneratorState, found without its private module
    allowed = {**NUMPY_ARRAYS, **CONTAINERS, (state_type.__module__, state_type.__name__): state_type}
    return _unpickle(path, allowed, fix or _RNG_FIX, _RNG_HOLDS, (state_type,))
