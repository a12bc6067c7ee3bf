"""Bound glibc's malloc arenas in the operator process.

glibc gives every thread that contends for the heap its own arena (up to 8 per core), and freed memory in an
arena is rarely returned to the system. The operator runs kopf's event loop plus a thread pool for the
Kubernetes and chain clients, so each busy thread pins its own partly empty arena: measured with 20 FLTasks
of 10 participants, resident memory 220.7 MiB with glibc's default against 205.2 MiB with two arenas, CPU
unchanged (docs/scale.md). Two arenas keep the event loop and the worker threads from serialising on one lock.

``MALLOC_ARENA_MAX`` in the environment wins (glibc reads it at start-up; we then leave it alone), so an
operator can still choose another value; on a C library without ``mallopt`` (musl, macOS) nothing happens.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # from glibc's <malloc.h>
DEFAULT_ARENAS = 2


def limit_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Set glibc's ``M_ARENA_MAX`` to ``arenas`` unless ``MALLOC_ARENA_MAX`` is set; True when applied."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        # the process's own symbols: no library search (find_library may shell out to ldconfig or gcc,
        # and write temporary files, which a read-only root filesystem refuses)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(M_ARENA_MAX, arenas))
    if not applied:
        log.debug("mallopt(M_ARENA_MAX, %d) refused", arenas)
    return applied
