"""What the fault tests share: starting tests/scripts/fault_run.py, waiting for it to reach an
instant, and reading a checkpoint directory without hubtrain (so the library is not its own judge)."""
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(SCRIPTS, "fault_run.py")


def write_data(path):
    """The digits splits as one .npz, so the runs need not import scikit-learn."""
    from tiny import digits_splits

    train, dev, test = digits_splits()
    np.savez(path, train_x=train.x, train_y=train.y, dev_x=dev.x, dev_y=dev.y, test_x=test.x, test_y=test.y)
    return path


def env(**extra):
    out = dict(os.environ, HUBTRAIN_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([SCRIPTS, os.environ.get("PYTHONPATH", "")]))
    for key in [k for k in out if k.startswith("FAULT_")]:
        del out[key]
    out.update({k: str(v) for k, v in extra.items()})
    return out


class Run:
    """One start of fault_run.py, its output in files beside the checkpoint directory."""

    def __init__(self, workdir, name, ckpt, data, launch=None, new_session=False, **faults):
        self.workdir = str(workdir)
        self.out = os.path.join(self.workdir, f"{name}.npz")
        self.log_path = os.path.join(self.workdir, f"{name}.log")
        self.progress = os.path.join(self.workdir, f"{name}.progress")
        self.marker = os.path.join(self.workdir, f"{name}.marker")
        for path in (self.progress, self.marker):
            if os.path.exists(path):
                os.remove(path)
        cmd = [sys.executable, SCRIPT, str(ckpt), self.out, str(data)]
        if launch:
            cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(launch),
                   "--log_dir", os.path.join(self.workdir, f"{name}.launch")] + cmd[1:]
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=env(FAULT_PROGRESS=self.progress, FAULT_MARKER=self.marker, **faults),
                                     stdout=self.log_file, stderr=subprocess.STDOUT, cwd=self.workdir,
                                     start_new_session=new_session)

    def step(self):
        try:
            with open(self.progress) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def paused(self):
        return os.path.exists(self.marker) and os.path.getsize(self.marker) > 0

    def wait_for(self, condition, what, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if condition():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the run ended (code {self.proc.returncode}) before {what}:\n"
                                     f"{self.log()[-3000:]}")
            time.sleep(0.002)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log()[-3000:]}")

    def wait(self, timeout=240):
        try:
            self.proc.wait(timeout)
        finally:
            self.log_file.close()
        return self.proc.returncode

    def kill(self):
        self.proc.kill()
        return self.wait()

    def log(self):
        with open(self.log_path) as f:
            return f.read()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def whole(path):
    """A checkpoint directory whose manifest lists files that are all there, with their checksums."""
    try:
        with open(os.path.join(path, "manifest.json")) as f:
            files = json.load(f)["files"]
    except (OSError, ValueError, KeyError):
        return False
    return all(os.path.isfile(os.path.join(path, n)) and sha256(os.path.join(path, n)) == info["sha256"]
               for n, info in files.items())


def newest_whole_step(ckpt):
    """The step of the newest whole step_<N> checkpoint, or None."""
    if not os.path.isdir(ckpt):
        return None
    steps = sorted((int(n[5:]) for n in os.listdir(ckpt) if n.startswith("step_") and n[5:].isdigit()), reverse=True)
    return next((s for s in steps if whole(os.path.join(ckpt, f"step_{s}"))), None)


def leftovers(ckpt):
    return sorted(n for n in os.listdir(ckpt) if n.startswith(".tmp-")) if os.path.isdir(ckpt) else []


def same_files(a, b, names):
    """Byte-for-byte the same tensors in two checkpoint directories (read back, compared as arrays)."""
    from hubtrain.serialization.records import read_record, read_weights

    for name in names:
        read = read_weights if name == "model.safetensors" else read_record
        left, right = read(os.path.join(a, name)), read(os.path.join(b, name))
        assert sorted(left) == sorted(right), name
        for key in left:
            lv, rv = left[key], right[key]
            if hasattr(lv, "numpy"):
                assert np.array_equal(lv.numpy(), rv.numpy()), f"{name}:{key}"
            elif isinstance(lv, dict):
                for k2 in lv:
                    assert np.array_equal(np.asarray(lv[k2]), np.asarray(rv[k2])), f"{name}:{key}.{k2}"
            else:
                assert lv == rv, f"{name}:{key}"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_data(str(tmp_path_factory.mktemp("data") / "digits.npz"))


@pytest.fixture(scope="module")
def straight(tmp_path_factory, data):
    """fault_run.py never interrupted: its directory holds straight.npz and ck/."""
    work = tmp_path_factory.mktemp("straight")
    run = Run(work, "straight", work / "ck", data)
    assert run.wait() == 0, run.log()[-3000:]
    return work


def resumed_step(log):
    """The step a run says it resumed from (None: it started afresh)."""
    for line in log.splitlines():
        if "Resuming from checkpoint" in line:
            return int(line.rsplit("(step ", 1)[1].rstrip(")"))
    return None


def assert_same_as_straight(straight, out, ckpt):
    """A finished run's weights (the best model), last checkpoint and best model equal the
    uninterrupted run's, bit for bit, and nothing temporary is left in its directory."""
    a, b = np.load(os.path.join(straight, "straight.npz")), np.load(out)
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
        assert np.array_equal(a[name], b[name]), name
    ref = os.path.join(straight, "ck")
    same_files(os.path.join(ref, "step_76"), os.path.join(ckpt, "step_76"),
               ["model.safetensors", "optimizer.safetensors"])
    same_files(os.path.join(ref, "best_model"), os.path.join(ckpt, "best_model"), ["model.safetensors"])
    with open(os.path.join(ref, "step_76", "trainer_state.json")) as f, \
            open(os.path.join(ckpt, "step_76", "trainer_state.json")) as g:
        assert json.load(f) == json.load(g)
    assert leftovers(ckpt) == []
