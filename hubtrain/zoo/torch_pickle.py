"""Read PyTorch checkpoints (`.pth`, `.pt`, `.bin`) into numpy arrays, without torch and without
running code from the file.

A checkpoint is a pickle, and unpickling can call any importable function. The unpickler here
admits only the few globals that rebuild tensors and refuses every other one in `find_class`,
i.e. before anything from the file is called. Both layouts that `torch.save` writes are read:

* zip (torch >= 1.6): `<prefix>/data.pkl` plus one record `<prefix>/data/<key>` per storage;
* legacy: five pickles in a row (magic number, protocol version, system info, the object whose
  storages are persistent ids, the list of storage keys), then each storage as an 8-byte
  little-endian element count followed by its raw bytes.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import tarfile
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

import numpy as np

from ..serialization.restricted_pickle import Record, RestrictedUnpickler, UnsafeFileError

__all__ = ["UnsafeCheckpointError", "CheckpointFormatError", "load_torch_checkpoint", "load_torch_object",
           "find_state_dict", "is_torch_checkpoint"]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
_MAX_EXPANDED = 2**26  # elements a zero-stride (expanded) tensor may reach beyond its storage
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "params",
                   "weights", "ema")


class UnsafeCheckpointError(UnsafeFileError):
    """The file asks to call something other than the tensor-rebuilding records."""


class CheckpointFormatError(ValueError):
    """The file is not a readable PyTorch checkpoint (damaged, truncated or another format)."""


@dataclass(frozen=True, slots=True)
class _StorageType:
    """Stands in for `torch.FloatStorage` etc.: only the element type matters here."""

    name: str
    dtype: str  # numpy dtype, little-endian; "bfloat16" is widened to float32 after reading

    @property
    def itemsize(self) -> int:
        return 2 if self.dtype == "bfloat16" else np.dtype(self.dtype).itemsize


_STORAGE_TYPES = {
    "DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2", "BFloat16Storage": "bfloat16",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?", "ComplexFloatStorage": "<c8", "ComplexDoubleStorage": "<c16",
    "UntypedStorage": "u1",
}


@dataclass(frozen=True, slots=True)
class _Storage:
    key: str
    type: _StorageType
    numel: int
    offset: int = 0  # legacy views: elements into the root storage


@dataclass(frozen=True, slots=True)
class _TensorRecord:
    storage: _Storage
    offset: int
    size: tuple
    stride: tuple


@dataclass(frozen=True, slots=True)
class _TensorClass:
    """Stands in for `torch.Tensor` / `torch.nn.Parameter` where a record names the class."""

    name: str


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> _TensorRecord:
    if not isinstance(storage, _Storage):
        raise CheckpointFormatError(f"a tensor record refers to {type(storage).__name__}, not a storage")
    try:
        size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(storage_offset)
    except (TypeError, ValueError) as exc:
        raise CheckpointFormatError(f"a tensor record has a malformed size/stride/offset: {exc}") from None
    if len(size) != len(stride):
        raise CheckpointFormatError(f"a tensor record has size {size} but stride {stride}")
    return _TensorRecord(storage, offset, size, stride)


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    return data


def _rebuild_from_type(func: Any, new_type: Any, args: Any, state: Any = None) -> Any:
    if not isinstance(func, Record) or func.fn not in (_rebuild_tensor, _rebuild_parameter) \
            or not isinstance(new_type, _TensorClass):
        raise CheckpointFormatError("a tensor-subclass record rebuilds something other than a tensor")
    return func(*args)


def _ordered_dict(*args: Any) -> collections.OrderedDict:
    return collections.OrderedDict(*args)


# (module, name) -> what the file gets instead. Nothing here runs code of the file's choosing;
# the storage types and tensor classes are frozen, the functions are wrapped in `Record`.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch", "Tensor"): _TensorClass("Tensor"),
    ("torch.nn.parameter", "Parameter"): _TensorClass("Parameter"),
}
_ALLOWED.update({("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGE_TYPES.items()})


_FIX = "If you trust the file, re-save only the weights: torch.save(model.state_dict(), path)."


class _RestrictedUnpickler(RestrictedUnpickler):
    """Admits only `_ALLOWED`; storages come back as `_Storage` placeholders."""

    error = UnsafeCheckpointError

    def __init__(self, file: BinaryIO, source: str, storages: dict[str, _Storage]) -> None:
        super().__init__(file, source, _ALLOWED, _FIX)
        self.storages = storages

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise CheckpointFormatError(f"{self.source}: unexpected persistent id {pid!r}")
        if pid[0] == "module":
            raise UnsafeCheckpointError(
                f"{self.source}: refusing to load a pickled module (source code): a weights file may only "
                f"hold tensors. Re-save the weights with torch.save(model.state_dict(), path).")
        if pid[0] != "storage" or len(pid) not in (5, 6):
            raise CheckpointFormatError(f"{self.source}: unexpected persistent id {pid[:1]!r}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])  # pid[3]: device, unused
        if not isinstance(storage_type, _StorageType):
            raise CheckpointFormatError(f"{self.source}: storage {key} has no storage type")
        root = self.storages.setdefault(key, _Storage(key, storage_type, numel))
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return root
        view_key, view_offset, view_size = view  # legacy views onto a root storage
        return _Storage(key, storage_type, int(view_size), int(view_offset))


def _unpickle(file: BinaryIO, source: str, storages: dict[str, _Storage]) -> Any:
    try:
        return _RestrictedUnpickler(file, source, storages).load()
    except UnsafeCheckpointError:
        raise
    except CheckpointFormatError as exc:
        if str(exc).startswith(source):
            raise
        raise CheckpointFormatError(f"{source}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError,
            KeyError, struct.error, UnicodeDecodeError) as exc:
        raise CheckpointFormatError(f"{source}: not a readable PyTorch checkpoint ({type(exc).__name__}: "
                                    f"{exc})") from None


def _array_of(record: _TensorRecord, raw: bytes, source: str, bigendian: bool) -> np.ndarray:
    st = record.storage
    kind = st.type
    base_dtype = np.dtype("<u2" if kind.dtype == "bfloat16" else kind.dtype)
    if bigendian:
        base_dtype = base_dtype.newbyteorder(">")
    have = len(raw) // kind.itemsize
    if st.offset + st.numel > have:
        raise CheckpointFormatError(f"{source}: storage {st.key} holds {have} elements, a tensor needs "
                                    f"{st.offset + st.numel}; the file is truncated or damaged")
    flat = np.frombuffer(raw, dtype=base_dtype, count=st.numel, offset=st.offset * kind.itemsize)
    if any(n == 0 for n in record.size):
        out = np.empty(record.size, dtype=base_dtype)
    else:
        if record.offset < 0 or any(s < 0 for s in record.stride):
            raise CheckpointFormatError(f"{source}: a tensor on storage {st.key} has a negative offset/stride")
        count = int(np.prod(record.size, dtype=np.int64))
        if count > max(st.numel, _MAX_EXPANDED):  # only zero strides make a tensor outgrow its storage
            raise CheckpointFormatError(f"{source}: a tensor of size {list(record.size)} would expand storage "
                                        f"{st.key} ({st.numel} elements) to {count}; refusing to allocate it")
        last = record.offset + sum((n - 1) * s for n, s in zip(record.size, record.stride))
        if last >= st.numel:
            raise CheckpointFormatError(f"{source}: a tensor of size {list(record.size)} reaches element {last} "
                                        f"of storage {st.key}, which has {st.numel}; the file is damaged")
        view = np.lib.stride_tricks.as_strided(
            flat[record.offset:], shape=record.size, strides=[s * base_dtype.itemsize for s in record.stride],
            writeable=False)
        out = np.array(view)  # a contiguous copy that owns its memory
    if kind.dtype == "bfloat16":
        return (out.astype(np.uint32) << 16).view(np.float32)
    return out.astype(base_dtype.newbyteorder("="), copy=False)


def _materialize(obj: Any, read: Callable[[_Storage], bytes], source: str, bigendian: bool) -> Any:
    if isinstance(obj, _TensorRecord):
        return _array_of(obj, read(obj.storage), source, bigendian)
    if isinstance(obj, dict):
        return type(obj)((k, _materialize(v, read, source, bigendian)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v, read, source, bigendian) for v in obj)
    if isinstance(obj, (_Storage, _StorageType, _TensorClass, Record)):
        raise CheckpointFormatError(f"{source}: holds a bare {type(obj).__name__}, not a tensor")
    return obj


def _load_zip(path: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkls = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pkls) != 1:
            raise CheckpointFormatError(f"{path}: a zip file but not a PyTorch checkpoint (expected one "
                                        f"'<name>/data.pkl', found {len(pkls)})")
        prefix = pkls[0][: -len("data.pkl")]
        order = prefix + "byteorder"
        bigendian = order in names and archive.read(order).strip() == b"big"
        storages: dict[str, _Storage] = {}
        obj = _unpickle(io.BytesIO(archive.read(pkls[0])), path, storages)
        cache: dict[str, bytes] = {}

        def read(st: _Storage) -> bytes:
            if st.key not in cache:
                record = f"{prefix}data/{st.key}"
                if record not in names:
                    raise CheckpointFormatError(f"{path}: storage record {record} is missing")
                cache[st.key] = archive.read(record)
            return cache[st.key]

        return _materialize(obj, read, path, bigendian)


def _load_legacy(path: str) -> Any:
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as f:
        magic = _unpickle(f, path, {})
        if magic != LEGACY_MAGIC:
            raise CheckpointFormatError(f"{path}: a pickle but not a PyTorch checkpoint (no torch magic number)")
        protocol = _unpickle(f, path, {})
        if protocol != LEGACY_PROTOCOL:
            raise CheckpointFormatError(f"{path}: unsupported legacy checkpoint protocol {protocol!r}")
        sys_info = _unpickle(f, path, {})
        bigendian = isinstance(sys_info, dict) and sys_info.get("little_endian") is False
        obj = _unpickle(f, path, storages)
        keys = _unpickle(f, path, {})
        if not isinstance(keys, list):
            raise CheckpointFormatError(f"{path}: the storage key list is missing")
        cache: dict[str, bytes] = {}
        for key in keys:
            st = storages.get(str(key))
            if st is None:
                raise CheckpointFormatError(f"{path}: storage {key} is listed but never used")
            head = f.read(8)
            if len(head) != 8:
                raise CheckpointFormatError(f"{path}: truncated before storage {key}")
            numel = struct.unpack(">q" if bigendian else "<q", head)[0]
            if numel < 0:
                raise CheckpointFormatError(f"{path}: storage {key} has a negative size; the file is damaged")
            nbytes = numel * st.type.itemsize
            raw = f.read(nbytes)
            if len(raw) != nbytes:
                raise CheckpointFormatError(f"{path}: storage {key} is truncated ({len(raw)} of {nbytes} bytes)")
            cache[str(key)] = raw

    def read(st: _Storage) -> bytes:
        if st.key not in cache:
            raise CheckpointFormatError(f"{path}: storage {st.key} is used but its data is missing")
        return cache[st.key]

    return _materialize(obj, read, path, bigendian)


def is_torch_checkpoint(path: str | os.PathLike) -> bool:
    """Whether `torch.save` wrote the file: a zip with one `data.pkl`, or a pickle that opens
    with torch's magic number (read by an unpickler that admits no global at all)."""
    path = os.fspath(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return any(n == "data.pkl" or n.endswith("/data.pkl") for n in archive.namelist())
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, path, {}, "").load() == LEGACY_MAGIC
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError, KeyError,
                struct.error, UnicodeDecodeError):
            return False


def load_torch_object(path: str | os.PathLike) -> Any:
    """The checkpoint's whole object (dicts, lists, numbers), with every tensor as a numpy array."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with open(path, "rb") as f:
        first = f.read(2)
    if first[:1] == b"\x80":
        return _load_legacy(path)
    if tarfile.is_tarfile(path):
        raise CheckpointFormatError(f"{path}: a tar-format checkpoint from torch < 0.4 is not supported; "
                                    f"re-save it with a newer torch (torch.save(torch.load(path), new_path))")
    raise CheckpointFormatError(f"{path}: neither a zip nor a pickle PyTorch checkpoint")


def _flatten(obj: Any, prefix: str, out: dict[str, np.ndarray]) -> None:
    if isinstance(obj, np.ndarray):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _flatten(value, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _flatten(value, f"{prefix}.{i}" if prefix else str(i), out)


def find_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, np.ndarray]:
    """The weights inside a checkpoint object: the object itself when it is a flat dict of
    tensors, else the first of `STATE_DICT_KEYS` that holds tensors (`{"state_dict": {...}}`,
    `{"model": {...}}`), else every tensor under dotted names. Non-tensor entries are left out."""
    if isinstance(obj, dict):
        if obj and all(isinstance(v, np.ndarray) for v in obj.values()):
            return {str(k): v for k, v in obj.items()}
        for key in STATE_DICT_KEYS:
            inner = obj.get(key)
            if isinstance(inner, dict):
                found: dict[str, np.ndarray] = {}
                _flatten(inner, "", found)
                if found:
                    return find_state_dict(inner, source)
    out: dict[str, np.ndarray] = {}
    _flatten(obj, "", out)
    if not out:
        raise CheckpointFormatError(f"{source}: holds no tensors")
    return out


def load_torch_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A PyTorch checkpoint's weights as `{name: numpy array}` (bfloat16 widened to float32)."""
    return find_state_dict(load_torch_object(path), os.fspath(path))
