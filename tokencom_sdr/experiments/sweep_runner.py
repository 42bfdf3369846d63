"""Running a sweep: every pending point of a config, in this process or on a
Dask cluster, into a :class:`~tokencom_sdr.experiments.sweep_results.SweepStore`.

Schedulers
----------
``serial``
    Point after point in this process.
``local``
    A ``distributed.LocalCluster`` on 127.0.0.1 with one single-threaded
    worker process per core (``workers`` to choose another number): GNU
    Radio and the decoders hold the GIL, so parallelism needs processes.
``tcp://HOST:PORT``
    An existing Dask scheduler; its workers need this package installed.

Each point is one Dask task (:func:`~tokencom_sdr.experiments.sweep_point.run_point`),
and the driver writes each row to the journal as it arrives, so a stopped
sweep resumes where it was.

Worker recycling: every flowgraph a process builds may leave GNU Radio
buffers behind (SysV shared memory, memory maps: issue 16), and a worker
lives for the whole sweep. :class:`RecycleWorkers` restarts each worker
(through its nanny) after ``points_per_worker`` points, so whatever a
flowgraph leaks is bounded by that many flowgraphs; a point that was queued
on the worker then runs on another one, and results are unchanged because a
point's noise depends only on the point.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from distributed.diagnostics.plugin import WorkerPlugin

from .sweep_config import SweepConfig
from .sweep_point import describe, run_point
from .sweep_results import SweepStore

__all__ = ["run_sweep", "SweepRun", "RecycleWorkers", "SCHEDULERS"]

#: Scheduler names besides ``tcp://HOST:PORT``.
SCHEDULERS = ("serial", "local")


@dataclass
class SweepRun:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    points : int
        Points in the config's grid.
    ran : int
        Points run now (the others were in the journal already).
    wall_s : float
        Wall time of this run, cluster start included.
    files : dict
        ``parquet``, ``csv`` and ``config`` paths.
    workers : int
        Processes that ran points (1 for serial).
    """

    points: int
    ran: int
    wall_s: float
    files: Dict[str, Path]
    workers: int


class RecycleWorkers(WorkerPlugin):
    """Restart a Dask worker (through its nanny) after ``points`` finished tasks.

    Parameters
    ----------
    points : int
        Tasks a worker process runs before it is replaced by a fresh one.
    """

    name = "tokencom-recycle-workers"

    def __init__(self, points: int):
        self.points = int(points)
        self.worker = None
        self.finished = 0
        self.closing = False

    def setup(self, worker):
        self.worker = worker

    def transition(self, key, start, finish, **kwargs):
        if start != "executing" or finish != "memory" or self.closing:
            return
        self.finished += 1
        if self.finished >= self.points:
            self.closing = True
            self.worker.loop.add_callback(self.worker.close_gracefully, restart=True,
                                          reason=f"tokencom sweep: recycled after {self.finished} points")


def _start_client(scheduler: str, workers: Optional[int]):
    """A Dask client for ``local`` (a new LocalCluster) or ``tcp://...``."""
    from distributed import Client, LocalCluster

    if scheduler == "local":
        count = workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        return Client(cluster), cluster
    if scheduler.startswith("tcp://"):
        if workers is not None:
            raise ValueError("--workers sets the size of a local cluster; an existing cluster "
                             "(tcp://...) has the workers it has")
        return Client(scheduler, timeout="20s"), None
    raise ValueError(f"unknown scheduler {scheduler!r}; use serial, local or tcp://HOST:PORT")


def run_sweep(config: SweepConfig, out, scheduler: str = "serial", workers: Optional[int] = None,
              progress: bool = True) -> SweepRun:
    """Run every point of ``config`` that ``out`` holds no row for yet, then
    write the Parquet and CSV tables.

    Parameters
    ----------
    config : SweepConfig
    out : path
        The results folder (created; resumed when it holds a journal).
    scheduler : str
        ``serial``, ``local`` or ``tcp://HOST:PORT`` (see the module docstring).
    workers : int, optional
        Worker processes of a ``local`` cluster (default: one per core).
    progress : bool
        Show a progress bar (points done, rate, ETA).
    """
    from tqdm import tqdm

    if workers is not None and workers < 1:
        raise ValueError("--workers must be at least 1")
    if scheduler == "serial" and workers not in (None, 1):
        raise ValueError("--workers needs --scheduler local")
    start = time.perf_counter()
    store = SweepStore(out, config)
    points = config.points()
    todo = store.pending(points)
    bar = tqdm(total=len(points), initial=len(points) - len(todo), unit="point", desc="sweep",
               dynamic_ncols=True, disable=not progress)
    pids = set()

    def finished(row):
        store.add(row)
        pids.add(row["run_pid"])
        bar.set_postfix_str(describe(row), refresh=False)
        bar.update(1)

    try:
        if scheduler == "serial" or not todo:
            for point in todo:
                finished(run_point(point, config))
        else:
            _run_on_dask(config, todo, scheduler, workers, finished)
    finally:
        bar.close()
        store.close()
    files = store.write_tables()
    return SweepRun(points=len(points), ran=len(todo), wall_s=time.perf_counter() - start, files=files,
                    workers=len(pids))


def _run_on_dask(config, todo, scheduler, workers, finished) -> None:
    from distributed import as_completed

    client, cluster = _start_client(scheduler, workers)
    try:
        client.register_plugin(RecycleWorkers(config.points_per_worker))
        futures = client.map(run_point, todo, config=config, pure=False)
        for future in as_completed(futures):
            finished(future.result())
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
