"""Keep the backfill's peak memory flat: cap glibc's malloc arenas before any reader thread starts.

glibc gives each thread that allocates concurrently its own arena (up to 8 x cores) and keeps freed
memory in them. The backfill's reader threads each parse Stripe pages of a few hundred kilobytes, so
the freed pages pile up in many arenas and the process's peak grows with the length of the backfill
(measured: 131 MiB at 100,000 invoices against 70 MiB at 10,000). Two arenas, the same as
``MALLOC_ARENA_MAX=2``, give 77 MiB against 57 MiB (``benchmarks/README.md``). Elsewhere than glibc
this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """``mallopt(M_ARENA_MAX, arenas)``; True when glibc accepted it."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
