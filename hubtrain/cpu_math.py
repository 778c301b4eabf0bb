"""CPU math set-up for the machine a run is on: how many math threads, and which MKL code path.

Paddle leaves dygraph math on one thread (`import paddle` sets OMP_NUM_THREADS=1 when it is
unset), and the MKL it ships sends processors other than Intel's down a generic code path, about
half as fast as its AVX2 one on a transformer step (benchmarks/cpu_setup.py). MKL picks its path
once, at its first call, from MKL_DEBUG_CPU_TYPE; the thread count can change at any time. So
`set_up` runs before the first math a task, a hub.Model, a Predictor or a command does, and is a
no-op after that unless asked for something else.

What the user chose wins: RunConfig's `cpu_threads`, `cpu_fast_path` and `cpu_setup`, then the
variables HUBTRAIN_CPU_THREADS, HUBTRAIN_CPU_FAST_PATH and HUBTRAIN_CPU_SETUP (the command line's
--cpu-threads, --no-cpu-fast-path and --no-cpu-setup set these), then OMP_NUM_THREADS,
MKL_NUM_THREADS and MKL_DEBUG_CPU_TYPE as the user set them. This module imports paddle only
when it applies a setting, so the command line can read its plan before paddle is loaded.
"""
from __future__ import annotations

import ctypes
import functools
import importlib.util
import logging
import math
import os
import sys
from dataclasses import dataclass
from typing import Mapping, Optional

from .log import ensure_output, logger

__all__ = ["CpuMath", "Processor", "plan", "set_up", "current", "available_cores", "local_processes",
           "SETUP_VARIABLE", "THREADS_VARIABLE", "FAST_PATH_VARIABLE"]

SETUP_VARIABLE = "HUBTRAIN_CPU_SETUP"          # 0: leave paddle's defaults alone
THREADS_VARIABLE = "HUBTRAIN_CPU_THREADS"      # a whole number of math threads per process
FAST_PATH_VARIABLE = "HUBTRAIN_CPU_FAST_PATH"  # 0 or 1: MKL's AVX2 path on non-Intel processors
MKL_PATH_VARIABLE = "MKL_DEBUG_CPU_TYPE"
MKL_AVX2 = 5  # MKL_DEBUG_CPU_TYPE's value for the AVX2 code path (honoured by MKL up to 2020.0)


@dataclass(frozen=True)
class Processor:
    vendor: str  # "GenuineIntel", "AuthenticAMD", ... or "" when unknown
    avx2: bool

    @classmethod
    def this_machine(cls) -> "Processor":
        """From /proc/cpuinfo (Linux); unknown elsewhere, which leaves MKL's path alone."""
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                head = f.read(1 << 16).split("\n\n", 1)[0]
        except OSError:
            return cls("", False)
        fields = dict(line.split(":", 1) for line in head.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        return cls(fields.get("vendor_id", ""), "avx2" in fields.get("flags", "").split())


@dataclass
class CpuMath:
    """What was chosen, and why: a line of the run summary."""

    threads: Optional[int]  # None: left as paddle has it
    threads_reason: str
    fast_path: bool         # MKL_DEBUG_CPU_TYPE set by hubtrain
    fast_path_reason: str
    mkl_path: Optional[int] = None  # the code path MKL runs, once known (5: AVX2)

    def describe(self) -> str:
        threads = ("paddle's thread count" if self.threads is None else
                   f"{self.threads} math thread{'s' if self.threads != 1 else ''}")
        path = {None: "", 0: "; MKL runs its generic path", MKL_AVX2: "; MKL runs its AVX2 path"}.get(
            self.mkl_path, f"; MKL runs its code path {self.mkl_path}")
        return f"{threads} ({self.threads_reason}); MKL fast path {self.fast_path_reason}{path}"


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def _cgroup_quota() -> Optional[float]:
    """CPUs a container's quota allows (cgroup v2 cpu.max, or v1 cfs quota/period); None: no cap."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def local_processes(env: Mapping[str, str] = os.environ) -> int:
    """Training processes on this node: paddle.distributed.launch's PADDLE_LOCAL_SIZE, else 1."""
    try:
        return max(1, int(env.get("PADDLE_LOCAL_SIZE", "1")))
    except ValueError:
        return 1


def _flag(env: Mapping[str, str], name: str) -> Optional[bool]:
    value = env.get(name)
    word = "" if value is None else value.strip().lower()
    if not word:
        return None
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r} is not accepted: set it to 1 or 0, or unset it.")


def _whole(env: Mapping[str, str], name: str) -> Optional[int]:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"{name}={value!r} is not accepted: set it to a whole number of threads >= 1, or unset it.")
    return int(value)


def _users_threads(env: Mapping[str, str], paddle_loaded: bool) -> Optional[tuple[int, str]]:
    """A thread count the user put in the environment. OMP_NUM_THREADS=1 is what `import paddle`
    writes when it is unset, so once paddle is loaded a 1 there is taken as paddle's."""
    for name in ("MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        value = env.get(name, "").strip()
        if value.isdigit() and int(value) >= 1:
            if name == "OMP_NUM_THREADS" and value == "1" and paddle_loaded:
                continue
            return int(value), f"{name}={value}, as set"
    return None


@functools.lru_cache(maxsize=None)
def _mkl_library() -> Optional[str]:
    """The MKL library paddle ships, if this paddle's math library is MKL (looked for once)."""
    spec = importlib.util.find_spec("paddle")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "libs", "libmklml_intel.so")
    return path if os.path.isfile(path) else None


def plan(threads: Optional[int] = None, fast_path: Optional[bool] = None, enabled: Optional[bool] = None,
         env: Mapping[str, str] = os.environ, processor: Optional[Processor] = None, cores: Optional[int] = None,
         processes: Optional[int] = None, mkl: Optional[bool] = None,
         paddle_loaded: Optional[bool] = None) -> CpuMath:
    """What to set, and why, without setting anything. Arguments (RunConfig's) beat the
    environment; the rest is read from this machine unless given."""
    enabled = _flag(env, SETUP_VARIABLE) if enabled is None else enabled
    if enabled is False:
        return CpuMath(None, "set-up off", False, "off (set-up off)")
    mkl = _mkl_library() is not None if mkl is None else mkl
    if not mkl:
        return CpuMath(None, "left to paddle: its math library is not MKL", False,
                       "not applicable (paddle's math library is not MKL)")
    paddle_loaded = "paddle" in sys.modules if paddle_loaded is None else paddle_loaded
    cores = available_cores() if cores is None else cores
    processes = local_processes(env) if processes is None else processes
    env_threads = _whole(env, THREADS_VARIABLE)
    if threads is not None:
        chosen = (threads, "RunConfig cpu_threads")
    elif env_threads is not None:
        chosen = (env_threads, f"{THREADS_VARIABLE}={env_threads}")
    else:
        chosen = _users_threads(env, paddle_loaded) or (
            max(1, cores // processes),
            f"{cores} core{'s' if cores != 1 else ''}" + (f" for {processes} processes" if processes > 1 else ""))
    return CpuMath(chosen[0], chosen[1], *_fast_path(fast_path, env, processor))


def _fast_path(asked: Optional[bool], env: Mapping[str, str], processor: Optional[Processor]) -> tuple[bool, str]:
    asked = _flag(env, FAST_PATH_VARIABLE) if asked is None else asked
    if asked is False:
        return False, "off, as asked"
    if MKL_PATH_VARIABLE in env:
        return False, f"left to {MKL_PATH_VARIABLE}={env[MKL_PATH_VARIABLE]}, as set"
    processor = Processor.this_machine() if processor is None else processor
    if processor.vendor == "GenuineIntel":
        return False, "not needed (an Intel processor gets it by default)"
    if not processor.vendor:
        return False, "off (the processor is unknown)"
    if not processor.avx2:
        return False, "off (the processor has no AVX2)"
    return True, f"on ({processor.vendor} with AVX2)"


_CURRENT: Optional[CpuMath] = None


def current() -> Optional[CpuMath]:
    """What `set_up` last chose in this process (None before it ran)."""
    return _CURRENT


def set_up(threads: Optional[int] = None, fast_path: Optional[bool] = None,
           enabled: Optional[bool] = None) -> CpuMath:
    """Apply `plan(...)` once; later calls change the thread count only when they ask for one.
    MKL's path cannot change once MKL has run: the returned record says which path it runs."""
    global _CURRENT
    asked = threads is not None or fast_path is not None or enabled is not None
    if _CURRENT is not None and not asked:
        return _CURRENT
    env: Mapping[str, str] = os.environ
    if _CURRENT is not None and _CURRENT.fast_path:  # MKL_DEBUG_CPU_TYPE is ours, not the user's
        env = {k: v for k, v in os.environ.items() if k != MKL_PATH_VARIABLE}
    chosen = plan(threads, fast_path, enabled, env=env)
    if chosen.fast_path:
        os.environ[MKL_PATH_VARIABLE] = str(MKL_AVX2)  # read by MKL at its first call
    import paddle  # noqa: F401  (loads MKL and OpenMP as paddle does, before they are called here)

    if chosen.threads is not None:
        _set_threads(chosen.threads)
    chosen.mkl_path = _mkl_code_path()
    missed = chosen.fast_path and chosen.mkl_path not in (None, MKL_AVX2)
    if missed:
        chosen.fast_path_reason = (f"not in effect: MKL had chosen its path before hubtrain set it up (paddle math "
                                   f"ran first); set {MKL_PATH_VARIABLE}={MKL_AVX2} before starting Python, or build "
                                   f"the task before other paddle math")
    if _CURRENT is None or chosen.describe() != _CURRENT.describe():
        # a debug line: the run summary shows the choice, and a command's stdout may be its results
        level = logging.WARNING if missed else logging.DEBUG
        ensure_output()
        logger.log(level, f"CPU math: {chosen.describe()}", extra={"tag": logging.getLevelName(level)})
    _CURRENT = chosen
    return chosen


def _set_threads(threads: int) -> None:
    """What paddle's own (private) setter does on an MKL build, through the libraries' public C
    API: MKL's thread count and OpenMP's for the parallel regions this thread starts."""
    mkl = _mkl_library()  # plan() sets threads only when there is one
    ctypes.CDLL(mkl).MKL_Set_Num_Threads(ctypes.c_int(threads))
    ctypes.CDLL(os.path.join(os.path.dirname(mkl), "libiomp5.so")).omp_set_num_threads(ctypes.c_int(threads))


def _mkl_code_path() -> Optional[int]:
    """The code path MKL runs (fixing it, if MKL has not run yet): `mkl_serv_cpu_detect`, an
    MKL service routine the library exports. None when paddle's library is not MKL or lacks it."""
    path = _mkl_library()
    if path is None:
        return None
    try:
        routine = ctypes.CDLL(path).mkl_serv_cpu_detect  # the copy paddle loaded: dlopen shares it
    except (OSError, AttributeError):
        return None
    routine.restype = ctypes.c_int
    return int(routine())
