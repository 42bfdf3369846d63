"""What this process holds: resident memory, memory mappings (shared-memory
ones apart), open file descriptors and threads, read from ``/proc/self``.

A leak per flowgraph shows here first: every GNU Radio stream buffer is a
double-mapped SysV shared-memory segment, so a flowgraph that is never freed
leaves its buffers' mappings behind (the kernel caps a process at
``vm.max_map_count`` mappings and the machine at ``kernel.shmmni``
segments). The soak bench and the leak tests compare two snapshots.
"""

import os
import threading
from dataclasses import asdict, dataclass

__all__ = ["ProcessResources", "process_resources"]

# How /proc/self/maps names GNU Radio's buffers: SysV segments, or /dev/zero
# when the mmap factory is configured instead.
_SHARED_MEMORY_MARKERS = ("SYSV", "/dev/zero (deleted)")


@dataclass(frozen=True)
class ProcessResources:
    """One snapshot.

    Attributes
    ----------
    rss_mb : float
        Resident set size in MiB.
    memory_mappings : int
        Lines of ``/proc/self/maps``.
    shared_memory_mappings : int
        Those that map a SysV segment (or ``/dev/zero``).
    open_fds : int
        Entries of ``/proc/self/fd``.
    threads : int
        OS threads (``/proc/self/task``), GNU Radio's included; ``python_threads``
        counts Python's alone.
    python_threads : int
    """

    rss_mb: float
    memory_mappings: int
    shared_memory_mappings: int
    open_fds: int
    threads: int
    python_threads: int

    def to_json(self) -> dict:
        return asdict(self)


def process_resources() -> ProcessResources:
    """Snapshot of this process (Linux only)."""
    mappings = shared = 0
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            mappings += 1
            if any(marker in line for marker in _SHARED_MEMORY_MARKERS):
                shared += 1
    rss_kb = 0
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
                break
    return ProcessResources(rss_mb=round(rss_kb / 1024, 1), memory_mappings=mappings,
                            shared_memory_mappings=shared,
                            open_fds=len(os.listdir("/proc/self/fd")),
                            threads=len(os.listdir("/proc/self/task")),
                            python_threads=threading.active_count())
