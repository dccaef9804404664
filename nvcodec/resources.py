"""How much memory this process may use: what the decoder checks a file's needs against."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import resource
from typing import Optional

#: The decoder's default limit: this share of the memory available when it starts.
MEMORY_SHARE = 0.5


def _meminfo(key: str) -> Optional[int]:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _address_space_left() -> Optional[int]:
    """What an address-space limit (ulimit -v, RLIMIT_AS) leaves this process, if one is set."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        used = 0
    return max(soft - used, 0)


def available_memory() -> int:
    """Bytes this process can still allocate: the machine's available memory, or what an
    address-space limit leaves, whichever is less."""
    free = _meminfo("MemAvailable")
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            free = 4 << 30  # no way to ask: assume a small machine
    left = _address_space_left()
    return free if left is None else min(free, left)


def default_memory_limit() -> int:
    return int(MEMORY_SHARE * available_memory())


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


@functools.lru_cache(maxsize=1)
def glibc() -> Optional[ctypes.CDLL]:
    """The C library where it is glibc (it has mallopt), else None."""
    try:
        name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") else None


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for the next allocation instead of handing it back to the
    system: blocks up to 32 MiB (glibc's most) come from the heap rather than their own mmap,
    and up to 256 MiB of free heap top is not trimmed. A fitting step frees and reallocates the
    same few-MiB activations; by default each came back as fresh pages, 600-900 page faults a
    step for NeRV 100k at 320x180; keeping them made its steps x1.16 (bunny) / x1.03 (bikes)
    faster (bench/step_speed.py). Process-wide, once set; elsewhere than glibc nothing changes (False)."""
    libc = glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 256 << 20))
