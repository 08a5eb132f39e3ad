"""The served process's memory (issue 12 item 27; SPEC section 11): keep it small, and read it.

A served Kontor is one process with a thread per request being served (waitress) and a few
for the jobs. Two things made it grow to about 570 MB under 8 clients, measured with
bench/memory.py: SQLite's page cache, which every connection has for itself (see
models/db.py's `cache_size`), and glibc's malloc, which gives each new thread an arena of its
own (up to eight per core) that it rarely hands back to the system. `limit_malloc_arenas`
caps the second; together with the smaller page cache the same run stays near 140 MB.
"""
import ctypes
import ctypes.util
import logging
from pathlib import Path

log = logging.getLogger(__name__)

M_ARENA_MAX = -8      # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MALLOC_ARENAS = 2
# blocks of this size or more always get pages of their own, handed back when freed
MMAP_THRESHOLD = 1024 * 1024


def _libc_function(name):
    """The C library's function `name`, or None where there is no such library or function
    (not glibc)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(count: int = MALLOC_ARENAS) -> bool:
    """Let glibc's malloc use at most `count` arenas in this process, for threads started
    from now on (mallopt(M_ARENA_MAX); what the MALLOC_ARENA_MAX environment variable does
    before a process starts). Returns True if it was set, False where the C library is not
    glibc (musl, macOS) or refuses; it never raises."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_ARENA_MAX, count) == 1


def map_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Have glibc's malloc give every block of `threshold` bytes or more pages of its own
    (mmap), returned to the system when freed (mallopt(M_MMAP_THRESHOLD)). By default glibc
    raises that threshold up to 32 MB once such a block is freed, after which a password
    hash's 19 MB (kontor/passwords.py) or a large page came from the heap and much of it
    stayed there: 8 sign-ins at once left a served Kontor 20-40 MB larger for good (issue 12
    item 27). Returns True if set, False where the C library is not glibc; never raises."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1


def give_back_free_memory() -> bool:
    """Hand the memory malloc holds free back to the system (glibc's malloc_trim): after a
    large piece of work, such as a 50,000-line import (the process kept 250 MB after one,
    measured with bench/import_load.py). True if done; False where the C library is not
    glibc. Takes a few milliseconds; never raises."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


def resident_mb(pid="self") -> dict:
    """The resident memory of process `pid` (default: this one) in MB, from /proc/PID/status:
    {"total": VmRSS, "anonymous": RssAnon, "file": RssFile}. Empty where /proc has no such
    file (not Linux, or the process ended)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    names = {"VmRSS": "total", "RssAnon": "anonymous", "RssFile": "file"}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in names:
            found[names[key]] = int(value.split()[0]) / 1024
    return found
