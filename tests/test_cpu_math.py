"""The CPU math set-up: the plan (threads, MKL's path) from the machine and from what the user
chose, and its effect on a real paddle and MKL in fresh processes."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from hubtrain import cpu_math
from hubtrain.cpu_math import MKL_AVX2, Processor, plan

AMD = Processor("AuthenticAMD", True)
INTEL = Processor("GenuineIntel", True)


def _plan(env=None, **kw):
    kw.setdefault("processor", AMD)
    kw.setdefault("cores", 2)
    kw.setdefault("processes", 1)
    kw.setdefault("mkl", True)
    kw.setdefault("paddle_loaded", True)
    return plan(env=env or {}, **kw)


# ------------------------------------------------------------------------------- threads
def test_threads_are_the_cores_shared_among_the_processes_on_the_node():
    assert (_plan().threads, _plan().threads_reason) == (2, "2 cores")
    two = _plan(processes=2)
    assert (two.threads, two.threads_reason) == (1, "2 cores for 2 processes")
    assert _plan(cores=3, processes=2).threads == 1
    assert _plan(cores=8, processes=2).threads == 4
    assert _plan(env={"PADDLE_LOCAL_SIZE": "2"}, processes=None, cores=4).threads == 2


def test_what_the_user_chose_wins_in_order():
    env = {"HUBTRAIN_CPU_THREADS": "3", "OMP_NUM_THREADS": "5"}
    assert (_plan(env, threads=4).threads, _plan(env, threads=4).threads_reason) == (4, "RunConfig cpu_threads")
    assert (_plan(env).threads, _plan(env).threads_reason) == (3, "HUBTRAIN_CPU_THREADS=3")
    assert (_plan({"OMP_NUM_THREADS": "5"}).threads, _plan({"OMP_NUM_THREADS": "5"}).threads_reason) == \
        (5, "OMP_NUM_THREADS=5, as set")
    assert _plan({"MKL_NUM_THREADS": "1"}).threads == 1


def test_omp_one_is_paddles_own_once_paddle_is_loaded():
    # `import paddle` writes OMP_NUM_THREADS=1 when it is unset: after that a 1 says nothing
    assert _plan({"OMP_NUM_THREADS": "1"}, paddle_loaded=True).threads == 2
    assert _plan({"OMP_NUM_THREADS": "1"}, paddle_loaded=False).threads == 1


def test_set_up_off_leaves_everything_alone():
    for chosen in (_plan(enabled=False), _plan({"HUBTRAIN_CPU_SETUP": "0"})):
        assert chosen.threads is None and chosen.fast_path is False
        assert "set-up off" in chosen.describe()


# ------------------------------------------------------------------------------- MKL's path
def test_fast_path_only_where_the_default_is_slow_and_avx2_is_there():
    assert _plan().fast_path and _plan().fast_path_reason == "on (AuthenticAMD with AVX2)"
    cases = {
        "not needed (an Intel processor gets it by default)": dict(processor=INTEL),
        "off (the processor has no AVX2)": dict(processor=Processor("AuthenticAMD", False)),
        "off (the processor is unknown)": dict(processor=Processor("", False)),
        "not applicable (paddle's math library is not MKL)": dict(mkl=False),
        "off, as asked": dict(fast_path=False),
    }
    for reason, kw in cases.items():
        chosen = _plan(**kw)
        assert (chosen.fast_path, chosen.fast_path_reason) == (False, reason)
    assert _plan(mkl=False).threads is None  # threads are set through MKL's and OpenMP's own API
    assert _plan({"HUBTRAIN_CPU_FAST_PATH": "0"}).fast_path is False
    users = _plan({"MKL_DEBUG_CPU_TYPE": "4"})
    assert (users.fast_path, users.fast_path_reason) == (False, "left to MKL_DEBUG_CPU_TYPE=4, as set")


@pytest.mark.parametrize("name,value", [("HUBTRAIN_CPU_THREADS", "abc"), ("HUBTRAIN_CPU_THREADS", "0"),
                                        ("HUBTRAIN_CPU_FAST_PATH", "maybe"), ("HUBTRAIN_CPU_SETUP", "2")])
def test_a_bad_variable_is_named_with_its_fix(name, value):
    with pytest.raises(ValueError) as e:
        _plan({name: value})
    assert f"{name}={value!r} is not accepted" in str(e.value) and "or unset it" in str(e.value)


def test_this_machine_is_read():
    here = Processor.this_machine()
    if os.path.exists("/proc/cpuinfo"):
        assert here.vendor
    assert cpu_math.available_cores() >= 1


# ------------------------------------------------------------------------------- real processes
_PROBE = textwrap.dedent("""
    import ctypes, json, logging, os, sys
    before = sys.argv[1]
    if before == "affinity":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import paddle
    if before == "math":
        a = paddle.ones([4, 4]); (a @ a).numpy()
    import hubtrain as hub
    records = []
    handler = logging.Handler(); handler.emit = lambda r: records.append((r.levelname, r.getMessage()))
    logging.getLogger("hubtrain").addHandler(handler)
    logging.getLogger("hubtrain").setLevel(logging.DEBUG)
    if before == "task":  # a model first (set up for the machine), then a task asking for 1 thread
        hub.Model(paddle.nn.Linear(4, 2))
        config = hub.RunConfig(cpu_threads=1)
        hub.ImageClassifierTask(feature=paddle.nn.Linear(4, 8), num_classes=2, config=config, feature_dim=8)
    else:
        hub.Model(paddle.nn.Linear(4, 2))
    from hubtrain import cpu_math
    mkl = ctypes.CDLL(os.path.join(os.path.dirname(paddle.__file__), "libs", "libmklml_intel.so"))
    omp = ctypes.CDLL(os.path.join(os.path.dirname(paddle.__file__), "libs", "libiomp5.so"))
    print(json.dumps({"threads": omp.omp_get_max_threads(), "path": mkl.mkl_serv_cpu_detect(),
                      "describe": cpu_math.current().describe(), "log": records,
                      "cores": cpu_math.available_cores(), "fast": cpu_math.current().fast_path}))
""")


def _probe(before="nothing", **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HUBTRAIN_CPU", "MKL_", "OMP_"))}
    full.update(env)
    done = subprocess.run([sys.executable, "-c", _PROBE, before], capture_output=True, text=True, env=full,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fast_path_here():
    return plan(env={}).fast_path


def test_a_model_sets_up_this_machine():
    got = _probe()
    assert got["threads"] == got["cores"]
    if _fast_path_here():  # e.g. AMD with AVX2: MKL's AVX2 path, 3-4x its default here
        assert got["path"] == MKL_AVX2 and "MKL runs its AVX2 path" in got["describe"]
    assert [level for level, _ in got["log"]] == ["DEBUG"] and got["log"][0][1].startswith("CPU math: ")


def test_threads_follow_the_affinity_and_a_task_config():
    assert _probe("affinity")["threads"] == 1
    got = _probe("task")
    assert got["threads"] == 1 and "1 math thread (RunConfig cpu_threads)" in got["describe"]
    if _fast_path_here():  # the path hubtrain set before is still reported as hubtrain's
        assert "MKL fast path on (" in got["describe"]


def test_set_up_off_keeps_paddles_defaults():
    got = _probe(HUBTRAIN_CPU_SETUP="0")
    assert got["threads"] == 1 and got["path"] == 0 and not got["fast"]


@pytest.mark.skipif(not _fast_path_here(), reason="MKL's default path is the fast one on this processor")
def test_math_before_the_set_up_is_reported_with_the_fix():
    got = _probe("math")
    assert got["path"] == 0
    assert got["log"][0][0] == "WARNING"
    assert "not in effect" in got["log"][0][1] and "MKL_DEBUG_CPU_TYPE=5 before starting Python" in got["log"][0][1]


def test_command_line_options_reach_the_set_up():
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBTRAIN_CPU")}
    env["HUBTRAIN_LOG_LEVEL"] = "DEBUG"
    run = [sys.executable, "-m", "hubtrain"]
    done = subprocess.run(run + ["--cpu-threads", "1", "--no-cpu-fast-path", "zoo", "list"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CPU math: 1 math thread (HUBTRAIN_CPU_THREADS=1); MKL fast path off, as asked" in done.stdout
    bad = subprocess.run(run + ["--cpu-threads", "0", "zoo", "list"], capture_output=True, text=True, env=env,
                         timeout=300)
    assert bad.returncode == 2 and "--cpu-threads 0 is not accepted" in bad.stderr
    bad = subprocess.run(run + ["zoo", "list"], capture_output=True, text=True, timeout=300,
                         env={**env, "HUBTRAIN_CPU_THREADS": "many"})
    assert bad.returncode == 2 and "HUBTRAIN_CPU_THREADS='many' is not accepted" in bad.stderr
