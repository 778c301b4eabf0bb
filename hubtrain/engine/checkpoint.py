"""Checkpoints on disk: written whole or not at all, verified before use, the newest N kept.

A checkpoint is a directory `step_<N>/` holding the network, optimizer, RNG and trainer
state, and a `manifest.json` written last with each file's size and SHA-256. It is built
under a temporary name and renamed into place, so a kill at any instant leaves the previous
checkpoint untouched.
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
from typing import Any, Optional

import numpy as np
import paddle

__all__ = ["CheckpointError", "CheckpointManager", "network_signature", "capture_rng", "restore_rng"]

FORMAT = 1
MANIFEST = "manifest.json"
BEST = "best_model"


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


def network_signature(state_dict: dict) -> list[list]:
    """Names, shapes and dtypes of a network's tensors: what must match for weights to load."""
    return [[k, list(v.shape), str(v.dtype).replace("paddle.", "")] for k, v in sorted(state_dict.items())]


def capture_rng() -> dict[str, Any]:
    state = {"paddle": paddle.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        state["cuda"] = paddle.get_cuda_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    paddle.set_rng_state(state["paddle"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        paddle.set_cuda_rng_state(state["cuda"])


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: str, name: str, obj: Any) -> None:
    target = os.path.join(path, name)
    if name.endswith(".json"):
        with open(target, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
    elif name.endswith(".pkl"):
        with open(target, "wb") as f:
            pickle.dump(obj, f, protocol=4)
    else:
        paddle.save(obj, target)
    with open(target, "rb+") as f:
        os.fsync(f.fileno())


def _read(path: str, name: str) -> Any:
    target = os.path.join(path, name)
    if name.endswith(".json"):
        with open(target) as f:
            return json.load(f)
    if name.endswith(".pkl"):
        with open(target, "rb") as f:
            return pickle.load(f)  # only files whose checksum matched our own manifest get here
    return paddle.load(target)


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
        os.makedirs(self.root, exist_ok=True)
        tmp = os.path.join(self.root, f".tmp-{os.path.basename(final)}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            os.makedirs(tmp)
            for name, obj in files.items():
                _write(tmp, name, obj)
            manifest = dict(meta, format=FORMAT, time=time.time(),
                            files={n: {"bytes": os.path.getsize(os.path.join(tmp, n)),
                                       "sha256": _sha256(os.path.join(tmp, n))} for n in files})
            _write(tmp, MANIFEST, manifest)
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

    def verify(self, path: str) -> dict:
        """The manifest of a whole, unaltered checkpoint; CheckpointError otherwise."""
        mpath = os.path.join(path, MANIFEST)
        if not os.path.isfile(mpath):
            raise CheckpointError(f"checkpoint {path} has no {MANIFEST}: it was not written by hubtrain "
                                  f"or its writing was cut short.")
        try:
            manifest = _read(path, MANIFEST)
        except (ValueError, OSError) as e:
            raise CheckpointError(f"checkpoint {path}: {MANIFEST} is unreadable ({e}).") from None
        for name, info in manifest.get("files", {}).items():
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

    def load(self, path: str, names: Optional[list[str]] = None) -> tuple[dict, dict[str, Any]]:
        """Verify, then read the checkpoint's files (all, or just `names`)."""
        manifest = self.verify(path)
        wanted = names if names is not None else list(manifest["files"])
        return manifest, {n: _read(path, n) for n in wanted if n in manifest["files"]}

    def latest(self) -> tuple[Optional[str], list[str]]:
        """The newest checkpoint that verifies, and a message for each newer one passed over."""
        problems = []
        for path in reversed(self.steps()):
            try:
                self.verify(path)
                return path, problems
            except CheckpointError as e:
                problems.append(str(e))
        return None, problems
