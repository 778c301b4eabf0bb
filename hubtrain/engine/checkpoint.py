"""Checkpoints on disk: written whole or not at all, verified before use, the newest N kept.

A checkpoint is a directory `step_<N>/` holding the network, optimizer, RNG and trainer
state, and a `manifest.json` written last with each file's size and SHA-256. It is built
under a temporary name and renamed into place, so a kill at any instant leaves the previous
checkpoint untouched.

Format 2 holds data only (safetensors and JSON), so reading a checkpoint never runs code.
Format 1 (pickles from `paddle.save`) is still read, through an unpickler that admits arrays
and tensors only.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import random
import shutil
import time
from typing import Any, Optional, Sequence, Union

import numpy as np
import paddle

from ..serialization.paddle_pickle import UnsafeFileError, load_legacy_pickle, load_paddle_file
from ..serialization.records import Packed, RecordError, pack_record, pack_weights, read_record, read_weights

__all__ = ["CheckpointError", "CheckpointFormatError", "CheckpointManager", "checkpoint_in", "network_signature", "capture_rng",
           "restore_rng", "ranks_rng", "WEIGHTS", "OPTIMIZER", "SCALER", "CALLBACKS", "RNG", "TRAINER_STATE", "STEP_NEEDS",
           "BEST_NEEDS"]

FORMAT = 2
FORMATS = (1, 2)
MANIFEST = "manifest.json"
BEST = "best_model"

# The files of a checkpoint (format 2 names; every reader asks for these)
WEIGHTS = "model.safetensors"
OPTIMIZER = "optimizer.safetensors"
SCALER = "scaler.safetensors"
CALLBACKS = "callbacks.safetensors"
RNG = "rng.json"
OTHER_RANKS = "other_ranks"  # in RNG: the states of ranks 1.. of a job of several processes
TRAINER_STATE = "trainer_state.json"
_RECORDS = (OPTIMIZER, SCALER, CALLBACKS)
# What a resume of a step checkpoint reads whatever else it holds, and what a best model holds
STEP_NEEDS = (WEIGHTS, RNG, TRAINER_STATE)
BEST_NEEDS = (WEIGHTS,)
# The same files in format 1
_FORMAT1_NAMES = {WEIGHTS: "model.pdparams", OPTIMIZER: "optimizer.pdopt", SCALER: "scaler.pdscaler",
                  CALLBACKS: "callbacks.pdstate", RNG: "rng.pkl", TRAINER_STATE: TRAINER_STATE}


# No space left, quota exceeded, or past the process's file-size limit (ulimit -f)
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _mb(n: int) -> str:
    """A size people read at a glance: KB below a megabyte, MB below a gigabyte, else GB."""
    for unit, scale in (("KB", 2**10), ("MB", 2**20)):
        if n < 1024 * scale:
            return f"{n / scale:.0f} {unit}" if unit == "KB" else f"{n / scale:.1f} {unit}"
    return f"{n / 2**30:.1f} GB"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used, with the reason and the fix."""


class CheckpointFormatError(CheckpointError):
    """A checkpoint in a format this hubtrain does not know."""


def network_signature(state_dict: dict) -> list[list]:
    """Names, shapes and dtypes of a network's tensors: what must match for weights to load."""
    return [[k, list(v.shape), str(v.dtype).replace("paddle.", "")] for k, v in sorted(state_dict.items())]


def _generator_plain(state: Any) -> list:
    """One paddle generator's state as JSON data: the tuple its pickle support gives, byte lists as text."""
    items = state if isinstance(state, (tuple, list)) else state.__getstate__()
    return [{"bytes": bytes(x).decode("latin-1")} if isinstance(x, list) and all(
        isinstance(b, int) and 0 <= b < 256 for b in x) else x for x in items]


def _generator_state(plain: list) -> Any:
    """A paddle GeneratorState from `_generator_plain`'s data, built the way unpickling builds one."""
    items = tuple(list(x["bytes"].encode("latin-1")) if isinstance(x, dict) else x for x in plain)
    kind = type(paddle.get_rng_state()[0])
    state = kind.__new__(kind)
    state.__setstate__(items)
    return state


def _on_gpu() -> bool:
    return paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def _rng_plain(generators: Any, numpy_state: Any, python_state: Any, cuda: Any = None) -> dict[str, Any]:
    name, keys, pos, has_gauss, gauss = numpy_state
    version, internal, gauss_next = python_state
    plain = {"paddle": [_generator_plain(g) for g in generators],
             "numpy": [name, [int(k) for k in keys], int(pos), int(has_gauss), float(gauss)],
             "python": [version, list(internal), gauss_next]}
    if cuda is not None:
        plain["cuda"] = [_generator_plain(g) for g in cuda]
    return plain


def capture_rng() -> dict[str, Any]:
    """paddle's, numpy's and Python's random states as plain JSON data."""
    cuda = paddle.get_cuda_rng_state() if _on_gpu() else None
    return _rng_plain(paddle.get_rng_state(), np.random.get_state(), random.getstate(), cuda)


def _rng_from_format1(state: Any) -> dict[str, Any]:
    """A format-1 rng.pkl's states (generator objects, numpy's tuple) as `capture_rng` gives them."""
    try:
        return _rng_plain(state["paddle"], state["numpy"], state["python"], state.get("cuda"))
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"not the random states hubtrain saves ({type(e).__name__}: {e})") from None


def _rng_parts(state: Any) -> tuple:
    """The generator states `restore_rng` sets, rebuilt from `capture_rng`'s data; ValueError if malformed."""
    try:
        generators = [_generator_state(g) for g in state["paddle"]]
        name, keys, pos, has_gauss, gauss = state["numpy"]
        version, internal, gauss_next = state["python"]
        cuda = [_generator_state(g) for g in state["cuda"]] if "cuda" in state else None
        numpy_state = (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss)
        python_state = (version, tuple(internal), gauss_next)
        np.random.RandomState().set_state(numpy_state)
        random.Random().setstate(python_state)
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise ValueError(f"not the random states hubtrain saves ({type(e).__name__}: {e})") from None
    return generators, numpy_state, python_state, cuda


def ranks_rng(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The RNG file of a job: rank 0's states, as one process's file holds them, and every other
    rank's in rank order. Each rank draws its own numbers (dropout masks over batches whose padded
    length differs between ranks), so a resumed rank needs its own states back."""
    return dict(states[0], **{OTHER_RANKS: list(states[1:])}) if len(states) > 1 else dict(states[0])


def restore_rng(state: dict[str, Any], rank: int = 0, world_size: int = 1) -> None:
    """Put back what `capture_rng` took: this rank's states when the file holds one per rank of a
    job of this size, else rank 0's (a file of one process, or of a job of another size)."""
    others = state.get(OTHER_RANKS) or []
    if rank > 0 and len(others) == world_size - 1:
        state = others[rank - 1]
    generators, numpy_state, python_state, cuda = _rng_parts(state)
    paddle.set_rng_state(generators)
    np.random.set_state(numpy_state)
    random.setstate(python_state)
    if cuda is not None and _on_gpu():
        paddle.set_cuda_rng_state(cuda)


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pack(name: str, obj: Any) -> Union[Packed, str]:
    """What file `name` will hold, checked before anything is written: data only."""
    if name.endswith(".json"):
        return json.dumps(obj, indent=None if name == RNG else 1, sort_keys=True)
    if name == WEIGHTS:
        return pack_weights(obj, "the network's weights")
    if name == CALLBACKS:
        return pack_record(obj, "the callbacks' state (their state_dict())")
    if name in _RECORDS:
        return pack_record(obj, f"the {name.split('.')[0]} state (its state_dict())")
    raise ValueError(f"{name} is not a checkpoint file hubtrain writes.")


def _write(path: str, name: str, packed: Union[Packed, str]) -> None:
    data = packed.encode() if isinstance(packed, str) else packed.to_bytes()
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _json(target: str) -> Any:
    with open(target) as f:
        return json.load(f)


def _fix(path: str) -> str:
    return f"move or delete {path} (or choose another checkpoint_dir) and run again"


def _read_format1(path: str, target: str, name: str) -> Any:
    """A format-1 pickle, through the reader that admits arrays and tensors only."""
    fix = (f"hubtrain never writes a checkpoint file that runs code when read, so this one was made or "
           f"altered by someone else: {_fix(path)}.")
    try:
        if name == RNG:
            return _rng_from_format1(load_legacy_pickle(target, fix=fix))
        return load_paddle_file(target, fix=fix)
    except UnsafeFileError as e:
        raise CheckpointError(f"checkpoint {path} is refused: {e}") from None


def _read(path: str, name: str, fmt: int) -> Any:
    """File `name` of a checkpoint in format `fmt`, whose manifest verified; CheckpointError otherwise."""
    target = os.path.join(path, name if fmt == FORMAT else _FORMAT1_NAMES[name])
    try:
        if name.endswith(".json") and (fmt == FORMAT or name == TRAINER_STATE):
            value = _json(target)
        elif fmt == FORMAT:
            return read_weights(target) if name == WEIGHTS else read_record(target)
        else:
            value = _read_format1(path, target, name)
        if name == RNG:  # malformed states fail here, before a resume changes anything
            for state in [value, *value.get(OTHER_RANKS, [])] if isinstance(value, dict) else [value]:
                _rng_parts(state)
        return value
    except (RecordError, pickle.UnpicklingError, EOFError, ValueError) as e:
        raise CheckpointError(f"checkpoint file {target} cannot be read ({e}): {_fix(path)}.") from None


class CheckpointManager:
    """Writes, lists, verifies and loads the checkpoints of one `checkpoint_dir`."""

    def __init__(self, root: str, keep_max: int = 3) -> None:
        self.root = os.path.abspath(root)
        self.keep_max = keep_max
        self._lock_fd: Optional[int] = None

    # -- exclusive use --------------------------------------------------------------------
    def acquire(self) -> None:
        """Refuse to share the directory with a running process that writes to it."""
        import fcntl

        os.makedirs(self.root, exist_ok=True)
        fd = os.open(os.path.join(self.root, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            owner = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise CheckpointError(
                    f"checkpoint_dir {self.root} is in use by another run (process {owner}): wait for it "
                    f"to finish, stop it, or give this run another checkpoint_dir."
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd
        self._recover()

    def _recover(self) -> None:
        """Tidy what a killed writer left: put back a best model caught mid-swap, drop temporaries."""
        best = os.path.join(self.root, BEST)
        for name in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, name)
            if not name.startswith(".tmp-"):
                continue
            if name.startswith(f".tmp-{BEST}-") and name.endswith(".old") and not os.path.exists(best):
                os.rename(path, best)
            else:
                shutil.rmtree(path, ignore_errors=True)

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- writing --------------------------------------------------------------------------
    def _commit(self, files: dict[str, Any], final: str, meta: dict) -> str:
        packed = {name: _pack(name, obj) for name, obj in files.items()}  # refuse before writing anything
        os.makedirs(self.root, exist_ok=True)
        tmp = os.path.join(self.root, f".tmp-{os.path.basename(final)}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            os.makedirs(tmp)
            for name, data in packed.items():
                _write(tmp, name, data)
            manifest = dict(meta, format=FORMAT, time=time.time(),
                            files={n: {"bytes": os.path.getsize(os.path.join(tmp, n)),
                                       "sha256": _sha256(os.path.join(tmp, n))} for n in files})
            _write(tmp, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
            _fsync_dir(tmp)
            old = None
            if os.path.exists(final):
                old = f"{tmp}.old"
                os.rename(final, old)
            os.rename(tmp, final)
            _fsync_dir(self.root)
            if old:
                shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            free_then = shutil.disk_usage(self.root).free
            shutil.rmtree(tmp, ignore_errors=True)
            if e.errno in _NO_SPACE:
                raise CheckpointError(self._no_space(final, e, free_then)) from e
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def _no_space(self, final: str, error: OSError, free_then: int) -> str:
        """What a full disk (or a file-size limit) means for this run, and what to do."""
        usage = shutil.disk_usage(self.root)
        previous = self.steps()
        newest = previous[-1] if previous else None
        size = ""
        if newest is not None:
            try:
                with open(os.path.join(newest, MANIFEST)) as f:
                    needed = sum(v["bytes"] for v in json.load(f)["files"].values())
                size = f"; a checkpoint of this run takes about {_mb(needed)}"
            except (OSError, ValueError, KeyError):
                size = ""
        kept = (f"The previous checkpoint {newest} is intact and the run resumes from it" if newest
                else "No earlier checkpoint exists, so the run would start afresh")
        return (f"could not write {os.path.basename(final)} in {self.root}: {error.strerror} [errno {error.errno}]. "
                f"Free space there: {_mb(free_then)} of {_mb(usage.total)} when the write failed, "
                f"{_mb(usage.free)} with the unfinished checkpoint removed{size}. Nothing of the unfinished "
                f"write is left behind. {kept}: free some space (or lower keep_checkpoint_max, or give the run "
                f"another checkpoint_dir) and run the same command again.")

    def save(self, step: int, files: dict[str, Any], meta: dict) -> str:
        """Write checkpoint `step_<step>` atomically, then drop all but the newest `keep_max`."""
        path = self._commit(files, os.path.join(self.root, f"step_{step}"), dict(meta, step=step))
        for stale in self.steps()[:-self.keep_max]:
            shutil.rmtree(stale, ignore_errors=True)
        return path

    def save_best(self, files: dict[str, Any], meta: dict) -> str:
        return self._commit(files, os.path.join(self.root, BEST), meta)

    # -- reading --------------------------------------------------------------------------
    def steps(self) -> list[str]:
        """Complete-looking `step_<N>` directories, oldest first."""
        if not os.path.isdir(self.root):
            return []
        found = []
        for name in os.listdir(self.root):
            if name.startswith("step_") and name[5:].isdigit():
                found.append((int(name[5:]), os.path.join(self.root, name)))
        return [p for _, p in sorted(found)]

    @property
    def best_dir(self) -> Optional[str]:
        path = os.path.join(self.root, BEST)
        if os.path.isdir(path):
            return path
        # killed between moving the old best aside and moving the new one in
        leftovers = [n for n in os.listdir(self.root) if n.startswith(f".tmp-{BEST}-") and n.endswith(".old")] \
            if os.path.isdir(self.root) else []
        return os.path.join(self.root, leftovers[0]) if leftovers else None

    def verify(self, path: str, needs: Sequence[str] = BEST_NEEDS) -> dict:
        """The manifest of a whole, unaltered checkpoint of a known format that lists every file in
        `needs`; CheckpointError otherwise (CheckpointFormatError for a format this hubtrain lacks)."""
        mpath = os.path.join(path, MANIFEST)
        if not os.path.isfile(mpath):
            raise CheckpointError(f"checkpoint {path} has no {MANIFEST}: it was not written by hubtrain "
                                  f"or its writing was cut short.")
        try:
            manifest = _json(mpath)
        except (ValueError, OSError) as e:
            raise CheckpointError(f"checkpoint {path}: {MANIFEST} is unreadable ({e}).") from None
        files = manifest.get("files") if isinstance(manifest, dict) else None
        if not isinstance(files, dict) or not all(isinstance(i, dict) and {"bytes", "sha256"} <= set(i)
                                                  for i in files.values()):
            raise CheckpointError(f"checkpoint {path}: {MANIFEST} is not a hubtrain manifest (no 'files' with "
                                  f"the size and SHA-256 of each).")
        fmt = manifest.get("format")
        if fmt not in FORMATS:
            raise CheckpointFormatError(
                f"checkpoint {path} is in format {fmt!r}, which this hubtrain (formats "
                f"{', '.join(map(str, FORMATS))}) cannot read: resume it with the hubtrain that wrote it, or "
                f"{_fix(path)}.")
        for name in needs:
            stored = name if fmt == FORMAT else _FORMAT1_NAMES[name]
            if stored not in files:
                raise CheckpointError(f"checkpoint {path}: {MANIFEST} does not list {stored}, which is read from "
                                      f"it: the checkpoint is incomplete or its manifest was altered.")
        for name, info in files.items():
            fpath = os.path.join(path, name)
            if not os.path.isfile(fpath):
                raise CheckpointError(f"checkpoint {path} is missing {name}.")
            size = os.path.getsize(fpath)
            if size != info["bytes"]:
                raise CheckpointError(f"checkpoint file {fpath} is truncated or altered "
                                      f"({size} bytes, the manifest says {info['bytes']}).")
            if _sha256(fpath) != info["sha256"]:
                raise CheckpointError(f"checkpoint file {fpath} is corrupted (SHA-256 differs from the manifest).")
        return manifest

    def load(self, path: str, names: Optional[Sequence[str]] = None,
             needs: Sequence[str] = BEST_NEEDS) -> tuple[dict, dict[str, Any]]:
        """Verify, then read the checkpoint's files (all it lists, or just `names`), keyed by their
        format-2 names whatever the checkpoint's format."""
        manifest = self.verify(path, needs)
        fmt = manifest["format"]
        listed = {n for n in _FORMAT1_NAMES if (n if fmt == FORMAT else _FORMAT1_NAMES[n]) in manifest["files"]}
        wanted = names if names is not None else sorted(listed)
        return manifest, {n: _read(path, n, fmt) for n in wanted if n in listed}

    def weights_dir(self) -> tuple[Optional[str], list[str]]:
        """The checkpoint a run's weights are read from: its best model, else its newest whole step
        checkpoint (with a message for each newer one passed over)."""
        return (self.best_dir, []) if self.best_dir is not None else self.latest()

    def latest(self) -> tuple[Optional[str], list[str]]:
        """The newest checkpoint that verifies, and a message for each newer one passed over."""
        problems = []
        for path in reversed(self.steps()):
            try:
                self.verify(path, STEP_NEEDS)
                return path, problems
            except CheckpointFormatError:
                raise  # a newer hubtrain's checkpoint: resuming an older one would overwrite it
            except CheckpointError as e:
                problems.append(str(e))
        return None, problems


def checkpoint_in(path: str) -> tuple[Optional[str], list[str]]:
    """The checkpoint directory `path` stands for: itself when it holds a manifest (a step_<N> or
    best_model directory), else, as a checkpoint_dir, its best model or newest whole checkpoint;
    None with the problems met when there is none."""
    if os.path.isfile(os.path.join(path, MANIFEST)):
        return path, []
    return CheckpointManager(path).weights_dir()
