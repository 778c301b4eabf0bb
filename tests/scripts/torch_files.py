"""Write PyTorch checkpoints (zip and legacy layouts) and safetensors files with the standard
library and numpy, so the readers are tested on real files without torch.

The pickle is emitted opcode by opcode (protocol 2, as torch.save writes it): tensors are
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())`
with the storage as a persistent id.
"""
from __future__ import annotations

import json
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

STORAGE_NAMES = {
    np.dtype("float32"): "FloatStorage", np.dtype("float16"): "HalfStorage", np.dtype("float64"): "DoubleStorage",
    np.dtype("int64"): "LongStorage", np.dtype("int32"): "IntStorage", np.dtype("uint8"): "ByteStorage",
    np.dtype("int8"): "CharStorage", np.dtype("bool"): "BoolStorage",
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


@dataclass
class Tensor:
    """A tensor as torch stores it: a view (offset, size, stride in elements) of a flat storage."""

    storage: np.ndarray  # 1-D
    key: str
    offset: int
    size: tuple
    stride: tuple
    parameter: bool = False

    @classmethod
    def of(cls, array: np.ndarray, key: str, parameter: bool = False) -> "Tensor":
        array = np.array(array, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        stride, acc = [], 1
        for n in reversed(array.shape):
            stride.insert(0, acc)
            acc *= n
        return cls(array.reshape(-1), key, 0, tuple(array.shape), tuple(stride), parameter)


class Raw:
    """Bytes put into the pickle as they are (to craft records by hand)."""

    def __init__(self, data: bytes) -> None:
        self.data = data


def _int(value: int) -> bytes:
    if -2**31 <= value < 2**31:
        return b"J" + struct.pack("<i", value)
    n = (value.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + value.to_bytes(n, "little", signed=True)


def _str(value: str) -> bytes:
    data = value.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


class PickleWriter:
    """Emits the object pickle; storages become persistent ids in zip or legacy form."""

    def __init__(self, legacy: bool) -> None:
        self.legacy = legacy
        self.storages: "OrderedDict[str, np.ndarray]" = OrderedDict()

    def emit(self, obj: Any) -> bytes:
        if isinstance(obj, Raw):
            return obj.data
        if obj is None:
            return b"N"
        if isinstance(obj, bool):
            return b"\x88" if obj else b"\x89"
        if isinstance(obj, int):
            return _int(obj)
        if isinstance(obj, str):
            return _str(obj)
        if isinstance(obj, np.ndarray):
            return self.emit(Tensor.of(obj, str(len(self.storages))))
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if isinstance(obj, tuple):
            return b")" if not obj else _tuple([self.emit(v) for v in obj])
        if isinstance(obj, list):
            return b"]" + (b"(" + b"".join(self.emit(v) for v in obj) + b"e" if obj else b"")
        if isinstance(obj, dict):
            head = _global("collections", "OrderedDict") + b")R" if isinstance(obj, OrderedDict) else b"}"
            items = b"".join(self.emit(k) + self.emit(v) for k, v in obj.items())
            return head + (b"(" + items + b"u" if obj else b"")
        raise TypeError(f"cannot emit {type(obj).__name__}")

    def _tensor(self, t: Tensor) -> bytes:
        self.storages.setdefault(t.key, t.storage)
        kind = _global("torch", STORAGE_NAMES[t.storage.dtype])
        pid = [_str("storage"), kind, _str(t.key), _str("cpu"), _int(int(t.storage.size))]
        if self.legacy:
            pid.append(b"N")
        rebuild = (_global("torch._utils", "_rebuild_tensor_v2")
                   + _tuple([_tuple(pid) + b"Q", _int(t.offset), self.emit(tuple(t.size)),
                             self.emit(tuple(t.stride)), b"\x89", self.emit(OrderedDict())]) + b"R")
        if t.parameter:
            rebuild = (_global("torch._utils", "_rebuild_parameter")
                       + _tuple([rebuild, b"\x88", self.emit(OrderedDict())]) + b"R")
        return rebuild

    def dumps(self, obj: Any) -> bytes:
        return b"\x80\x02" + self.emit(obj) + b"."


def save_zip(path: str, obj: Any, prefix: str = "archive", pickle_bytes: Optional[bytes] = None) -> None:
    """torch.save's zip layout: `<prefix>/data.pkl`, `<prefix>/data/<key>`, `<prefix>/version`."""
    writer = PickleWriter(legacy=False)
    data = writer.dumps(obj) if pickle_bytes is None else pickle_bytes
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{prefix}/data.pkl", data)
        archive.writestr(f"{prefix}/byteorder", "little")
        for key, storage in writer.storages.items():
            archive.writestr(f"{prefix}/data/{key}", storage.astype(storage.dtype.newbyteorder("<")).tobytes())
        archive.writestr(f"{prefix}/version", "3\n")


def save_legacy(path: str, obj: Any) -> None:
    """torch.save's legacy layout: magic, protocol, sys info, object, storage keys, storages."""
    writer = PickleWriter(legacy=True)
    body = writer.dumps(obj)
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    with open(path, "wb") as f:
        f.write(b"\x80\x02" + _int(LEGACY_MAGIC) + b".")
        f.write(b"\x80\x02" + _int(1001) + b".")
        f.write(writer.dumps(sys_info))
        f.write(body)
        f.write(writer.dumps(list(writer.storages)))
        for storage in writer.storages.values():
            f.write(struct.pack("<q", storage.size))
            f.write(storage.astype(storage.dtype.newbyteorder("<")).tobytes())


def save_safetensors(path: str, tensors: dict[str, np.ndarray], metadata: Optional[dict] = None) -> None:
    codes = {"float32": "F32", "float16": "F16", "float64": "F64", "int64": "I64", "int32": "I32",
             "uint8": "U8", "int8": "I8", "bool": "BOOL"}
    header: dict[str, Any] = {"__metadata__": metadata or {"format": "pt"}}
    blobs, offset = [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": codes[str(array.dtype)], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
