"""A disk that fills while a checkpoint is written: a clear error naming the directory and its free
space, the previous checkpoint intact and resumable, nothing temporary left. Two runs on one
checkpoint_dir: the second refuses, naming the first's process."""
import os
import subprocess

import pytest

from fault_tools import Run, assert_same_as_straight, leftovers, newest_whole_step, resumed_step

pytest_plugins = ["fault_tools"]  # its fixtures: data, straight


def _sizes(directory):
    """Bytes a directory's files take, each rounded up to whole 4 KB pages as tmpfs counts them."""
    return sum(-(-os.path.getsize(os.path.join(directory, n)) // 4096) * 4096 for n in os.listdir(directory))


@pytest.fixture
def small_tmpfs(tmp_path, straight):
    """A tmpfs holding two checkpoints and the best model of fault_run.py, not a third."""
    mount = tmp_path / "small"
    mount.mkdir()
    ck, best = _sizes(straight / "ck" / "step_76"), _sizes(straight / "ck" / "best_model")
    size = 2 * ck + best + ck // 2 + 64 * 1024
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); the RLIMIT_FSIZE test covers it")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _check_refused_write(run, ckpt, errno_text):
    assert run.wait() != 0
    log = run.log()
    assert "CheckpointError: could not write step_12 in " + ckpt + ": " + errno_text in log, log[-3000:]
    assert "Free space there: " in log and "Nothing of the unfinished write is left behind." in log
    assert f"The previous checkpoint {os.path.join(ckpt, 'step_8')} is intact and the run resumes from it" in log
    assert "run the same command again" in log
    assert newest_whole_step(ckpt) == 8 and leftovers(ckpt) == []
    assert not os.path.exists(os.path.join(ckpt, "step_12"))


def test_full_disk_while_saving(tmp_path, data, straight, small_tmpfs):
    ckpt = str(small_tmpfs / "ck")
    run = Run(tmp_path, "full", ckpt, data)
    _check_refused_write(run, ckpt, "No space left on device [errno 28]")
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_tmpfs)], check=True)  # space freed
    again = Run(tmp_path, "again", ckpt, data)
    assert again.wait() == 0, again.log()[-3000:]
    assert resumed_step(again.log()) == 8
    assert_same_as_straight(straight, again.out, ckpt)


def test_file_size_limit_while_saving(tmp_path, data, straight):
    """RLIMIT_FSIZE from step 11 on: the optimizer file of step_12 (55 KB) cannot be written (EFBIG),
    the weights before it could: the half-written checkpoint goes, step_8 stays."""
    ckpt = str(tmp_path / "ck")
    run = Run(tmp_path, "limited", ckpt, data, FAULT_FSIZE="11:40000")
    _check_refused_write(run, ckpt, "File too large [errno 27]")
    again = Run(tmp_path, "again", ckpt, data)
    assert again.wait() == 0, again.log()[-3000:]
    assert resumed_step(again.log()) == 8
    assert_same_as_straight(straight, again.out, ckpt)


def test_second_run_on_the_same_directory_is_refused_naming_the_first(tmp_path, data, straight):
    ckpt = str(tmp_path / "ck")
    first = Run(tmp_path, "first", ckpt, data, FAULT_PAUSE_EVAL="10:1")
    first.wait_for(first.paused, "the first run's pause at step 10")
    before = {p: os.stat(os.path.join(dirpath, p)).st_mtime_ns for dirpath, _, files in os.walk(ckpt) for p in files}
    second = Run(tmp_path, "second", ckpt, data)
    assert second.wait() != 0
    assert (f"checkpoint_dir {ckpt} is in use by another run (process {first.proc.pid}): wait for it to finish, "
            f"stop it, or give this run another checkpoint_dir.") in second.log()
    after = {p: os.stat(os.path.join(dirpath, p)).st_mtime_ns for dirpath, _, files in os.walk(ckpt) for p in files}
    assert before == after  # the refused run touched nothing
    first.kill()  # the kernel drops a killed process's lock
    third = Run(tmp_path, "third", ckpt, data)
    assert third.wait() == 0, third.log()[-3000:]
    assert resumed_step(third.log()) == 8
    assert_same_as_straight(straight, third.out, ckpt)
