"""Memory a long pass has freed, handed back to the system."""
from __future__ import annotations

import ctypes
import functools
import os
from typing import Any

__all__ = ["release_freed_memory"]


@functools.lru_cache(maxsize=None)
def _libc_trim() -> Any:
    """glibc's malloc_trim, looked up in the symbols already loaded (dlopen(NULL)) on first use:
    ctypes.util.find_library would run ldconfig in a subprocess."""
    if os.name != "posix":
        return None
    return getattr(ctypes.CDLL(None), "malloc_trim", None)


def release_freed_memory() -> None:
    """Hand memory freed by finished batches back to the system. glibc keeps freed buffers of
    mid-sized batches in its heaps, so without this a long prediction's resident memory creeps
    up although nothing is kept; elsewhere (no glibc) it does nothing."""
    trim = _libc_trim()
    if trim is not None:
        trim(0)
