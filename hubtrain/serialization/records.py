"""Nested records and flat weights as safetensors files, so reading one back can never run code.

A record (dicts with str keys, lists, tuples, numbers, strings, bools, None, numpy arrays and
paddle Tensors) keeps its arrays in the file's tensor section and its structure as JSON in the
header's metadata. A weights file is a plain name -> tensor safetensors file any tool reads.
Dtypes come back exactly; those numpy lacks (bfloat16, float8) are stored as their raw bits
with the dtype's name in the metadata.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import paddle
import safetensors
import safetensors.numpy

__all__ = ["RecordError", "Packed", "pack_record", "pack_weights", "write_record", "read_record",
           "write_weights", "read_weights", "record_bytes", "record_from_bytes"]

RECORD_FORMAT = "hubtrain.record.1"
_FORMAT_KEY = "format"
_RECORD_KEY = "record"
_DTYPES_KEY = "dtypes"

# numpy dtypes safetensors stores as they are
_NUMPY_DTYPES = frozenset({"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
                           "float16", "float32", "float64", "complex64"})
# paddle dtypes a tensor may come back as (a name from a file is checked against this list)
_PADDLE_DTYPES = frozenset({"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
                            "float64", "complex64", "complex128", "float8_e4m3fn", "float8_e5m2"})
_AS_BYTES = frozenset({"complex128"})
_BITS = {"bfloat16": "uint16", "float8_e4m3fn": "int8", "float8_e5m2": "int8"}
_PLAIN = "dicts with str keys, lists, tuples, numbers, strings, bools, None, numpy arrays and paddle Tensors"


class RecordError(ValueError):
    """A value a record cannot hold, or a file that is not a record or weights file of this kind."""


@dataclass(frozen=True)
class Packed:
    """A record or weights file ready to write: its arrays and its header metadata."""

    arrays: dict[str, np.ndarray]
    metadata: dict[str, str]

    def to_bytes(self) -> bytes:
        return safetensors.numpy.save(self.arrays, metadata=self.metadata)

    def write(self, path: str) -> None:
        """Written by Python's own file object, so a full disk raises OSError with its errno."""
        data = self.to_bytes()
        with open(path, "wb") as f:
            f.write(data)


def _where(path: tuple) -> str:
    return "".join(f"[{p!r}]" for p in path) or "the value"


def _dtype_name(value: Any) -> str:
    return str(value.dtype).rsplit(".", 1)[-1]


def _numpy_form(dtype: str) -> str:
    """The numpy dtype that holds a value of `dtype` bit for bit (bfloat16 as uint16, float8 as int8)."""
    return _BITS.get(dtype, dtype)


def _array_node(value: Any, key: str, arrays: dict[str, np.ndarray]) -> dict:
    """Store one array or tensor under `key`; the node says how to rebuild it exactly."""
    if isinstance(value, paddle.Tensor):
        of, dtype = "paddle", _dtype_name(value)
        array = np.asarray(value.detach().cpu().numpy(), order="C")
        if dtype not in _PADDLE_DTYPES or array.dtype.name != _numpy_form(dtype):
            raise RecordError(f"a paddle Tensor of dtype {dtype}, which a record does not hold")
    else:
        of = "scalar" if isinstance(value, np.generic) else "numpy"
        dtype, array = value.dtype.name, np.asarray(value, order="C")
        if dtype not in _NUMPY_DTYPES and dtype not in _AS_BYTES:
            raise RecordError(f"a numpy array of dtype {value.dtype}, which a record does not hold")
    shape = list(array.shape)
    if array.dtype.name in _AS_BYTES:  # safetensors has no such dtype: keep its bytes
        array = array.reshape(shape + [1]).view(np.uint8)
    arrays[key] = array
    return {"array": key, "of": of, "dtype": dtype, "shape": shape}


def _encode(value: Any, path: tuple, arrays: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (paddle.Tensor, np.ndarray, np.generic)):  # before float: np.float64 is one
        try:
            return _array_node(value, str(len(arrays)), arrays)
        except RecordError as e:
            raise RecordError(f"{_where(path)} is {e}") from None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"float": repr(float(value))}
    if isinstance(value, Mapping):
        bad = next((k for k in value if not isinstance(k, str)), None)
        if bad is not None:
            raise RecordError(f"{_where(path)} has the key {bad!r} of type {type(bad).__name__} (keys must be str)")
        return {"dict": {k: _encode(v, path + (k,), arrays) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        tag = "list" if isinstance(value, list) else "tuple"
        return {tag: [_encode(v, path + (i,), arrays) for i, v in enumerate(value)]}
    raise RecordError(f"{_where(path)} is a {type(value).__module__}.{type(value).__qualname__}")


def pack_record(value: Any, what: str) -> Packed:
    """`value` ready to write as a record; RecordError naming `what` and the place of anything else."""
    arrays: dict[str, np.ndarray] = {}
    try:
        structure = _encode(value, (), arrays)
    except RecordError as e:
        raise RecordError(f"{what} cannot be saved: {e}. A record holds only {_PLAIN}, nothing that needs "
                          f"code to rebuild: make it hold only those.") from None
    except RecursionError:
        raise RecordError(f"{what} cannot be saved: it is nested too deeply or refers to itself.") from None
    return Packed(arrays, {_FORMAT_KEY: RECORD_FORMAT, _RECORD_KEY: json.dumps(structure)})


def pack_weights(tensors: Mapping[str, Any], what: str) -> Packed:
    """A flat name -> tensor mapping ready to write as a plain safetensors file."""
    arrays: dict[str, np.ndarray] = {}
    dtypes: dict[str, str] = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or not isinstance(value, (paddle.Tensor, np.ndarray)):
            raise RecordError(f"{what} cannot be saved: {name!r} is not a str naming a tensor or array "
                              f"(a weights file maps names to tensors, like a state_dict()).")
        scratch: dict[str, np.ndarray] = {}
        try:
            node = _array_node(value, name, scratch)
        except RecordError as e:
            raise RecordError(f"{what} cannot be saved: {name!r} is {e}.") from None
        arrays[name] = scratch[name]
        if node["dtype"] != arrays[name].dtype.name or node["shape"] != list(arrays[name].shape):
            dtypes[name] = node["dtype"]
    metadata = {_DTYPES_KEY: json.dumps(dtypes, sort_keys=True)} if dtypes else {}
    return Packed(arrays, metadata)


def write_record(path: str, value: Any) -> None:
    pack_record(value, path).write(path)


def write_weights(path: str, tensors: Mapping[str, Any]) -> None:
    pack_weights(tensors, path).write(path)


def _open(path: str) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            arrays = {key: f.get_tensor(key) for key in f.keys()}
    except safetensors.SafetensorError as e:
        raise RecordError(f"{path} is not a safetensors file ({e}).") from None
    return metadata, arrays


def _rebuild(array: np.ndarray, of: str, dtype: Any, shape: Any, path: str, key: str) -> Any:
    """The array or tensor stored as `array`, with its own dtype and shape again."""
    known = _PADDLE_DTYPES if of == "paddle" else (_NUMPY_DTYPES | _AS_BYTES)
    if of not in ("paddle", "numpy", "scalar") or not isinstance(dtype, str) or dtype not in known or \
            not isinstance(shape, list) or not all(type(d) is int for d in shape):
        raise RecordError(f"{path}: array {key!r} has an unknown kind or dtype ({of}, {dtype}).")
    form = _numpy_form(dtype)
    if form in _AS_BYTES and array.dtype == np.uint8 and array.ndim == len(shape) + 1:
        array = array.view(np.dtype(form))[..., 0]
    if array.dtype.name != form or list(array.shape) != shape:
        raise RecordError(f"{path}: array {key!r} is {array.dtype.name} of shape {list(array.shape)}, "
                          f"its record says {dtype} of shape {shape}.")
    if of == "numpy":
        return array
    if of == "scalar":
        return array[()]
    tensor = paddle.to_tensor(array)
    if _dtype_name(tensor) != dtype:
        tensor = tensor.view(getattr(paddle, dtype))
    return tensor


def _decode(node: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and len(node) == 1:  # a container, or a float JSON cannot spell
        (tag, body), = node.items()
        if tag == "dict" and isinstance(body, dict):
            return {k: _decode(v, arrays, path) for k, v in body.items()}
        if tag in ("list", "tuple") and isinstance(body, list):
            items = [_decode(v, arrays, path) for v in body]
            return items if tag == "list" else tuple(items)
        if tag == "float" and body in ("inf", "-inf", "nan"):
            return float(body)
    if isinstance(node, dict) and set(node) == {"array", "of", "dtype", "shape"}:
        key = node["array"]
        if not isinstance(key, str) or key not in arrays:
            raise RecordError(f"{path}: its record names an array {key!r} the file does not hold.")
        return _rebuild(arrays[key], node["of"], node["dtype"], node["shape"], path, key)
    raise RecordError(f"{path}: its record holds an entry hubtrain does not write: {str(node)[:80]}.")


def _record(metadata: dict[str, str], arrays: dict[str, np.ndarray], path: str) -> Any:
    if metadata.get(_FORMAT_KEY) != RECORD_FORMAT or _RECORD_KEY not in metadata:
        raise RecordError(f"{path} is a safetensors file but not a hubtrain record "
                          f"(its metadata has no {_FORMAT_KEY} {RECORD_FORMAT!r}).")
    try:
        structure = json.loads(metadata[_RECORD_KEY])
    except (ValueError, RecursionError) as e:
        raise RecordError(f"{path}: its record is not valid JSON ({e}).") from None
    try:
        return _decode(structure, arrays, path)
    except RecursionError:
        raise RecordError(f"{path}: its record is nested too deeply.") from None


def read_record(path: str) -> Any:
    """The value `write_record` wrote to `path`; RecordError for anything else."""
    return _record(*_open(path), path)


def record_bytes(value: Any, what: str) -> bytes:
    """`value` as the bytes of a record file, to send to another process."""
    return pack_record(value, what).to_bytes()


def record_from_bytes(data: bytes, what: str) -> Any:
    """The value `record_bytes` gave, read as a record file is: data only, never code."""
    try:
        size = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + size])
        metadata = (header.get("__metadata__") or {}) if isinstance(header, dict) else None
        arrays = safetensors.numpy.load(data)
    except (ValueError, safetensors.SafetensorError) as e:
        raise RecordError(f"{what} is not a record ({e}).") from None
    if not isinstance(metadata, dict):
        raise RecordError(f"{what} is not a record (its header is not a mapping).")
    return _record(metadata, arrays, what)


def read_weights(path: str) -> dict[str, paddle.Tensor]:
    """The tensors of a weights file, each with the dtype it was saved with."""
    metadata, arrays = _open(path)
    try:
        dtypes = json.loads(metadata.get(_DTYPES_KEY, "{}"))
    except ValueError as e:
        raise RecordError(f"{path}: its {_DTYPES_KEY} metadata is not valid JSON ({e}).") from None
    if not isinstance(dtypes, dict):
        raise RecordError(f"{path}: its {_DTYPES_KEY} metadata is not a mapping of names to dtypes.")
    out = {}
    for name, array in arrays.items():
        dtype = dtypes.get(name, array.dtype.name)
        shape = list(array.shape[:-1]) if _numpy_form(dtype) in _AS_BYTES else list(array.shape)
        out[name] = _rebuild(array, "paddle", dtype, shape, path, name)
    return out
