"""Pretrained weights from other frameworks onto Paddle networks: read a weights file, rename and
reshape its tensors by an ordered table of rules, and check the result against the network."""
from __future__ import annotations

import json
import logging
import os
import re
import struct
import tarfile
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from .torch_pickle import CheckpointFormatError, find_state_dict, is_torch_checkpoint, load_torch_checkpoint

__all__ = ["load_state", "load_safetensors", "Transform", "TRANSPOSE", "Rule", "MappingTable", "ConversionReport",
           "ConversionError", "convert_state", "MINILM_TO_PADDLENLP_BERT", "TORCHVISION_MOBILENET_V2_TO_PADDLE"]

PathLike = Union[str, "os.PathLike[str]"]

_SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "bfloat16", "I64": "<i8", "I32": "<i4", "I16": "<i2",
    "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}


class ConversionError(ValueError):
    """Weights that do not fit the target network; the message names the tensors."""


# ---------------------------------------------------------------------------------------- reading
def load_safetensors(path: PathLike) -> dict[str, np.ndarray]:
    """A `.safetensors` file: 8-byte little-endian header length, a JSON header naming each
    tensor's dtype, shape and byte range, then the little-endian buffer. bfloat16 is widened to
    float32 (numpy has no bfloat16)."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ConversionError(f"{path}: too short to be a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise ConversionError(f"{path}: header length {n} exceeds the file ({size} bytes); not safetensors")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConversionError(f"{path}: the safetensors header is not JSON ({exc})") from None
        base, end = 8 + n, size
        for name, info in header.items():
            if name == "__metadata__":
                continue
            try:
                dtype, shape, (start, stop) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
            except (KeyError, TypeError, ValueError):
                raise ConversionError(f"{path}: tensor {name!r} has a malformed header entry {info!r}") from None
            if dtype not in _SAFETENSORS_DTYPES:
                raise ConversionError(f"{path}: tensor {name!r} has dtype {dtype}, which is not supported")
            code = _SAFETENSORS_DTYPES[dtype]
            itemsize = 2 if code == "bfloat16" else np.dtype(code).itemsize
            count = int(np.prod(shape, dtype=np.int64))
            if stop - start != count * itemsize or start < 0 or base + stop > end:
                raise ConversionError(f"{path}: tensor {name!r} ({dtype} {shape}) has byte range [{start}, {stop}) "
                                      f"that does not fit its shape or the file; the file is damaged")
            buf = bytearray(stop - start)
            f.seek(base + start)
            f.readinto(buf)
            if code == "bfloat16":
                array = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                array = np.frombuffer(buf, dtype=code).astype(np.dtype(code).newbyteorder("="), copy=False)
            out[name] = array.reshape(shape)
    return out


def _is_safetensors(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= os.path.getsize(path) - 8 and head[8:9] == b"{"


def _is_pickle(path: str) -> bool:
    """Pickle protocols 2 and above open with PROTO (0x80); paddle.save writes 2 to 4."""
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def load_state(path: PathLike) -> dict[str, np.ndarray]:
    """`{name: numpy array}` from a safetensors file, a PyTorch checkpoint (zip or legacy pickle) or
    a Paddle state dict (`paddle.save`: .pdparams), the pickles read without torch or paddle's
    unpickler and without running code from them. A directory is searched for
    `model.safetensors`, then `pytorch_model.bin`, then `model_state.pdparams`."""
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("model.safetensors", "pytorch_model.bin", "model_state.pdparams"):
            if os.path.isfile(os.path.join(path, name)):
                return load_state(os.path.join(path, name))
        raise FileNotFoundError(f"{path}: a directory without model.safetensors, pytorch_model.bin or "
                                f"model_state.pdparams; pass the weights file itself")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no weights file at {path}")
    if _is_safetensors(path):
        return load_safetensors(path)
    if is_torch_checkpoint(path):
        return load_torch_checkpoint(path)
    if _is_pickle(path):  # no torch magic number: paddle.save's pickle, which has none
        from ..serialization.paddle_pickle import load_paddle_file  # imports paddle: only when needed

        return find_state_dict(load_paddle_file(path, return_numpy=True), path)
    if zipfile.is_zipfile(path) or tarfile.is_tarfile(path):
        return load_torch_checkpoint(path)  # its message says which torch layout it is not
    raise CheckpointFormatError(f"{path}: neither a zip nor a pickle: load_state reads safetensors files, PyTorch "
                                f"checkpoints (torch.save) and Paddle state dicts (paddle.save)")


# ---------------------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Transform:
    """A named reshaping of one tensor (the name shows in reports)."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]

    def __call__(self, array: np.ndarray) -> np.ndarray:
        return self.fn(array)


def _transpose(array: np.ndarray) -> np.ndarray:
    if array.ndim != 2:
        raise ConversionError(f"transpose expects a 2-D tensor, got shape {list(array.shape)}")
    return np.ascontiguousarray(array.T)


# torch/HF Linear stores [out, in]; paddle.nn.Linear stores [in, out].
TRANSPOSE = Transform("transpose", _transpose)


@dataclass(frozen=True)
class Rule:
    """Source names that fully match `pattern` become `target` (a `re` template: \\1, \\g<name>),
    after `transform`. The first matching rule of a table wins."""

    pattern: str
    target: str
    transform: Optional[Transform] = None

    @classmethod
    def prefix(cls, source_prefix: str, target_prefix: str, transform: Optional[Transform] = None) -> "Rule":
        return cls(re.escape(source_prefix) + r"(.*)", target_prefix.replace("\\", r"\\") + r"\1", transform)

    def apply(self, name: str) -> Optional[str]:
        match = re.fullmatch(self.pattern, name)
        return None if match is None else match.expand(self.target)


@dataclass(frozen=True)
class MappingTable:
    """Ordered rules from one checkpoint layout to one Paddle network. `drop`: source names (regexes)
    left out on purpose (buffers the target has no use for). `optional`: target names (regexes)
    that may keep their initial values when the source lacks them."""

    name: str
    rules: tuple[Rule, ...]
    drop: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def is_dropped(self, name: str) -> bool:
        return any(re.fullmatch(p, name) for p in self.drop)

    def is_optional(self, name: str) -> bool:
        return any(re.fullmatch(p, name) for p in self.optional)

    def map_name(self, name: str) -> tuple[Optional[str], Optional[Rule]]:
        for rule in self.rules:
            target = rule.apply(name)
            if target is not None:
                return target, rule
        return None, None


@dataclass
class ConversionReport:
    """What a conversion did. `unmapped`: source name -> why it was not used."""

    table: str
    source: str
    mapped: list[tuple[str, str, str]] = field(default_factory=list)  # source, target, transform
    dropped: list[str] = field(default_factory=list)
    unmapped: dict[str, str] = field(default_factory=dict)
    unfilled: list[str] = field(default_factory=list)
    optional_unfilled: list[str] = field(default_factory=list)
    shape_mismatches: list[tuple[str, str, tuple, tuple]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.source} -> {self.table}: {len(self.mapped)} mapped, {len(self.dropped)} dropped, "
                f"{len(self.unmapped)} unmapped, {len(self.unfilled)} target(s) unfilled, "
                f"{len(self.optional_unfilled)} optional target(s) left at init, "
                f"{len(self.shape_mismatches)} shape mismatch(es)")


def _shape(value: Any) -> tuple:
    return tuple(int(s) for s in value.shape)


def _numpy_dtype(value: Any) -> Optional[np.dtype]:
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, np.dtype):
        return dtype
    name = str(dtype).rsplit(".", 1)[-1]  # paddle.float32 -> float32
    try:
        return np.dtype(name)
    except TypeError:
        return None


def _listing(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def convert_state(source: Union[Mapping[str, np.ndarray], PathLike], table: MappingTable,
                  target_state_dict: Mapping[str, Any], *, allow_unfilled: bool = False,
                  allow_shape_mismatch: bool = False) -> tuple[dict[str, np.ndarray], ConversionReport]:
    """Rename and reshape `source` (a state dict, or a weights file for `load_state`) by `table`
    for a network whose `state_dict()` is `target_state_dict` (only names, shapes and dtypes are
    read). Returns arrays in the target's dtypes, ready for `set_state_dict`, and a report.

    Raises `ConversionError` when a required target has no source or a shape differs (unless
    `allow_unfilled` / `allow_shape_mismatch`; those targets then keep their values), or when two
    source tensors map to one target. Unmapped source tensors are logged and reported."""
    label = "state dict"
    if not isinstance(source, Mapping):
        label = os.fspath(source)
        source = load_state(label)
    report = ConversionReport(table.name, label)
    converted: dict[str, np.ndarray] = {}
    origin: dict[str, str] = {}
    for name, array in source.items():
        if table.is_dropped(name):
            report.dropped.append(name)
            continue
        target, rule = table.map_name(name)
        if target is None:
            report.unmapped[name] = "no rule matches it"
            continue
        if target not in target_state_dict:
            report.unmapped[name] = f"it maps to {target}, which the target network does not have"
            continue
        if target in origin:
            raise ConversionError(f"{label}: both {origin[target]} and {name} map to {target} under {table.name}; "
                                  f"the table is ambiguous for this checkpoint")
        value = np.asarray(array)
        if rule.transform is not None:
            try:
                value = rule.transform(value)
            except ConversionError as exc:
                raise ConversionError(f"{label}: {name}: {exc}") from None
        want = _shape(target_state_dict[target])
        if tuple(value.shape) != want:
            report.shape_mismatches.append((name, target, tuple(value.shape), want))
            continue
        dtype = _numpy_dtype(target_state_dict[target])
        converted[target] = value.astype(dtype, copy=False) if dtype is not None else value
        origin[target] = name
        report.mapped.append((name, target, rule.transform.name if rule.transform else ""))
    for target in target_state_dict:
        if target not in converted and not any(t == target for _, t, _, _ in report.shape_mismatches):
            (report.optional_unfilled if table.is_optional(target) else report.unfilled).append(target)

    if report.unmapped:
        from ..engine.report import log
        log("WARNING", f"{report.summary()}; not used: " + _listing(
            [f"{n} ({why})" for n, why in report.unmapped.items()], 5), logging.WARNING)
    if report.shape_mismatches and not allow_shape_mismatch:
        lines = [f"{s} -> {t}: source shape {list(a)}{' (after transform)' if s != t else ''} but target "
                 f"shape {list(b)}" for s, t, a, b in report.shape_mismatches]
        raise ConversionError(f"{label}: {len(lines)} shape mismatch(es) under {table.name}: " + _listing(lines, 4)
                              + ". Is this checkpoint the same architecture and size as the network? "
                              "(allow_shape_mismatch=True keeps those parameters at their initial values)")
    if report.unfilled and not allow_unfilled:
        raise ConversionError(f"{label}: {len(report.unfilled)} target parameter(s) have no source tensor under "
                              f"{table.name}: {_listing(report.unfilled)}. Check that the checkpoint matches the "
                              f"network (allow_unfilled=True keeps them at their initial values)")
    return converted, report


# ---------------------------------------------------------------------------------------- tables
def _bert_rules() -> tuple[Rule, ...]:
    """Hugging Face BERT names (optionally under `bert.`) -> paddlenlp BertModel names."""
    p = r"(?:bert\.)?"
    layer = p + r"encoder\.layer\.(\d+)\."
    parts = (  # HF sub-module, paddlenlp sub-module, is a Linear
        (r"attention\.self\.query", "self_attn.q_proj", True),
        (r"attention\.self\.key", "self_attn.k_proj", True),
        (r"attention\.self\.value", "self_attn.v_proj", True),
        (r"attention\.output\.dense", "self_attn.out_proj", True),
        (r"attention\.output\.LayerNorm", "norm1", False),
        (r"intermediate\.dense", "linear1", True),
        (r"output\.dense", "linear2", True),
        (r"output\.LayerNorm", "norm2", False),
    )
    rules = [
        Rule(p + r"embeddings\.(word_embeddings|position_embeddings|token_type_embeddings)\.weight",
             r"embeddings.\1.weight"),
        Rule(p + r"embeddings\.LayerNorm\.(weight|bias)", r"embeddings.layer_norm.\1"),
    ]
    for hf, nlp, linear in parts:
        rules.append(Rule(layer + hf + r"\.weight", rf"encoder.layers.\1.{nlp}.weight", TRANSPOSE if linear else None))
        rules.append(Rule(layer + hf + r"\.bias", rf"encoder.layers.\1.{nlp}.bias"))
    rules.append(Rule(p + r"pooler\.dense\.weight", "pooler.dense.weight", TRANSPOSE))
    rules.append(Rule(p + r"pooler\.dense\.bias", "pooler.dense.bias"))
    return tuple(rules)


# all-MiniLM-L6-v2 (and other Hugging Face BertModel checkpoints) -> paddlenlp BertModel.
# The pooler (dense + tanh on [CLS]) is optional: all-MiniLM-L6-v2 ships one, inherited from its
# base model and not trained for sentence embeddings (mean pooling is), and it is mapped; a
# checkpoint without one leaves paddlenlp's pooler at its initial values, used only with "cls" pooling.
MINILM_TO_PADDLENLP_BERT = MappingTable(
    name="hf-bert->paddlenlp.BertModel",
    rules=_bert_rules(),
    drop=(r"(?:bert\.)?embeddings\.position_ids", r"cls\..*"),  # a buffer; pre-training heads
    optional=(r"pooler\..*",),
)

# torchvision MobileNetV2 -> paddle.vision.models.mobilenet_v2: same module tree, BatchNorm buffers
# renamed, the classifier's Linear transposed.
TORCHVISION_MOBILENET_V2_TO_PADDLE = MappingTable(
    name="torchvision.mobilenet_v2->paddle.vision.mobilenet_v2",
    rules=(
        Rule(r"(.*)\.running_mean", r"\1._mean"),
        Rule(r"(.*)\.running_var", r"\1._variance"),
        Rule(r"classifier\.1\.weight", "classifier.1.weight", TRANSPOSE),
        Rule(r"(features\..*|classifier\..*)", r"\1"),
    ),
    drop=(r".*\.num_batches_tracked",),
)
