"""SIGKILL at 20 instants of one fine-tune, a restart after each: every restart resumes from the
newest whole checkpoint, and the run ends with the weights, optimizer state and best model of a
run never interrupted, bit for bit.

Most instants are reached deterministically: the run (tests/scripts/fault_run.py) pauses when
Python's audit events show the library about to do a given file operation (open the optimizer
file of checkpoint 8, rename the finished step_12 into place, delete a pruned checkpoint, ...),
or in the middle of a dev evaluation, and the test kills it there. The others are kills at a
training step, wherever they land. HUBTRAIN_LONG_TESTS=1 adds 60 kills at random instants, run
after run of the same fine-tune, each series ending bit-identical to the uninterrupted run.
"""
import os
import random
import time

import pytest

from fault_tools import Run, assert_same_as_straight, leftovers, newest_whole_step, resumed_step

pytest_plugins = ["fault_tools"]  # its fixtures: data, straight

LONG = os.environ.get("HUBTRAIN_LONG_TESTS") == "1"

# (kind, what, where): kind pause: at FAULT_PAUSE's audit events; eval: at FAULT_PAUSE_EVAL
# (step:batch); step: once past that step. where: "write" inside a checkpoint or best-model
# write, "start" before the run resumed, "run" anywhere else.
INSTANTS = [
    ("step", 6, "run"),                                                    # training, step_4 written
    ("pause", "open=.tmp-step_8-*/model.safetensors", "write"),          # step_8: its first file
    ("pause", "open=.tmp-step_8-*/optimizer.safetensors", "write"),      # weights written, optimizer not
    ("pause", "open=.tmp-step_8-*/manifest.json", "write"),              # every file, no manifest
    ("pause", "os.rename=.tmp-step_8-", "write"),                             # whole, not yet renamed
    ("pause", "shutil.rmtree=/.tmp-step_", "start"),                         # tidying the last one's leftovers
    ("pause", "open=/step_4/model.safetensors", "start"),                    # reading the checkpoint to resume
    ("eval", "10:3", "run"),                                               # in the dev evaluation of step 10
    ("pause", "open=.tmp-best_model-*/model.safetensors", "write"),      # writing the first best model
    ("pause", "os.rename=.tmp-step_12-", "write"),                            # step_12 whole, not in place
    ("pause", "shutil.rmtree=/step_4", "write"),                              # pruning the oldest
    ("pause", "shutil.rmtree=/step_8;os.remove=model.safetensors", "write"),  # half-way through a pruning
    ("pause", "os.rename=.old;os.rename=.tmp-best_model-", "write"),          # old best aside, new not in
    ("pause", "shutil.rmtree=.old", "write"),                                 # new best in, old not deleted
    ("step", 27, "run"),                                                   # training (step_28 may be writing)
    ("eval", "30:5", "run"),                                               # in the dev evaluation of step 30
    ("pause", "open=.tmp-step_36-*/rng.json", "write"),                  # step_36 half-written
    ("step", 39, "run"),                                                   # first steps of epoch 2
    ("pause", "open=.tmp-step_76-*/trainer_state.json", "write"),        # the final checkpoint
    # training done (step_76 in place), loading the best (its files are read at the start too)
    ("pause", "os.rename=.tmp-step_76-;open=/best_model/model.safetensors", "run"),
]


def _start(work, name, ckpt, data, kind, what):
    if kind == "pause":
        return Run(work, name, ckpt, data, FAULT_PAUSE=what)
    if kind == "eval":
        return Run(work, name, ckpt, data, FAULT_PAUSE_EVAL=what)
    return Run(work, name, ckpt, data, FAULT_STEP_SLEEP=0.03)


def _kill_at(run, kind, what):
    if kind == "step":
        run.wait_for(lambda: run.step() >= what, f"step {what}")
    else:
        run.wait_for(run.paused, f"the pause at {what}")
    run.kill()


@pytest.mark.slow
def test_sigkill_at_20_instants_resumes_each_time_and_ends_bit_identical(tmp_path, data, straight):
    ckpt = str(tmp_path / "ck")
    expected, cut_writes = None, 0
    for i, (kind, what, where) in enumerate(INSTANTS):
        run = _start(tmp_path, f"run{i}", ckpt, data, kind, what)
        _kill_at(run, kind, what)
        # every start after a kill resumed from the newest whole checkpoint the kill left
        assert resumed_step(run.log()) == (None if where == "start" else expected), (i, what, run.log()[-2000:])
        cut_writes += where == "write"  # this kill landed inside a checkpoint or best-model write
        if where == "write" and "rmtree" not in what:  # a write cut short: its temporary directory is there
            assert leftovers(ckpt), (i, what, os.listdir(ckpt))
        expected = newest_whole_step(ckpt)
        assert expected is not None, f"no whole checkpoint after kill {i} ({what})"
    assert cut_writes >= 10
    final = Run(tmp_path, "final", ckpt, data)
    assert final.wait() == 0, final.log()[-3000:]
    assert resumed_step(final.log()) == expected == 76
    assert_same_as_straight(straight, final.out, ckpt)


@pytest.mark.skipif(not LONG, reason="HUBTRAIN_LONG_TESTS=1 runs it (several minutes)")
def test_sigkill_at_60_random_instants(tmp_path, data, straight):
    """Kills a random number of steps after the last resume plus a random delay, wherever they
    land (training, evaluation, checkpoint and best-model writes, pruning); series after series
    of the same run until 60 kills, each series ending bit-identical to the uninterrupted run."""
    rng = random.Random(2026)
    kills, series = 0, 0
    while kills < 60:
        ckpt = str(tmp_path / f"ck{series}")
        expected = None
        while kills < 60:
            target = (expected or 0) + rng.randint(1, 8)
            if target >= 76:
                break
            run = Run(tmp_path, f"s{series}k{kills}", ckpt, data)
            run.wait_for(lambda: run.step() >= target, f"step {target}")
            time.sleep(rng.random() * 0.03)
            run.kill()
            kills += 1
            assert resumed_step(run.log()) == expected, run.log()[-2000:]
            expected = newest_whole_step(ckpt)
        final = Run(tmp_path, f"s{series}final", ckpt, data)
        assert final.wait() == 0, final.log()[-3000:]
        assert resumed_step(final.log()) == expected
        assert_same_as_straight(straight, final.out, ckpt)
        series += 1
