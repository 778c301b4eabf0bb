"""A long run of a tiny model (logging, dev evaluation and checkpoints at intervals): resident
memory flat after warm-up, no growth in open files or threads. HUBTRAIN_LONG_TESTS=1 runs 60,000
steps instead of 10,000."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fault_tools import SCRIPTS, env, write_data

LONG = os.environ.get("HUBTRAIN_LONG_TESTS") == "1"
STEPS = 60_000 if LONG else 10_000
WARM_UP = 3_000
# Bytes a step may add after warm-up. The run keeps each step's time, samples and loss for
# _finetune_end_event (32 bytes); a Tensor kept per step would add 8 KB, a RunState object 0.5 KB.
BOUND = 200


@pytest.mark.slow
def test_memory_files_and_threads_stay_flat(tmp_path):
    data = write_data(str(tmp_path / "digits.npz"))
    out = tmp_path / "soak.json"
    done = subprocess.run([sys.executable, os.path.join(SCRIPTS, "soak_run.py"), str(tmp_path / "ck"), data,
                           str(STEPS), str(out)], env=env(HUBTRAIN_LOG_LEVEL="WARNING"), capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    samples = json.loads(out.read_text())["samples"]
    assert samples[-1]["step"] == STEPS
    steps = np.array([s["step"] for s in samples], dtype=float)
    rss = np.array([s["rss"] for s in samples], dtype=float)
    after = steps >= WARM_UP
    slope = np.polyfit(steps[after], rss[after], 1)[0]  # bytes per step
    growth = rss[after][-1] - rss[after][0]
    print(f"\nsoak: {STEPS} steps, RSS {rss[0] / 2**20:.1f} MB at step {int(steps[0])}, "
          f"{rss[after][0] / 2**20:.1f} MB at step {WARM_UP}, {rss[-1] / 2**20:.1f} MB at the end; "
          f"slope after warm-up {slope:.1f} bytes/step ({slope * 1000 / 1024:.0f} KB per 1,000 steps)")
    assert slope < BOUND, f"resident memory grows {slope:.0f} bytes a step after warm-up"
    assert growth < BOUND * (STEPS - WARM_UP)
    fds = [s["fds"] for s in samples]
    threads = [s["threads"] for s in samples]
    warm = [i for i, s in enumerate(samples) if s["step"] >= WARM_UP]
    assert {fds[i] for i in warm} == {fds[warm[0]]}, fds  # the same descriptors open throughout
    assert max(threads[i] for i in warm) <= max(threads[:warm[0]]), threads
