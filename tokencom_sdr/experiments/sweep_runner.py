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

On a cluster the points go out in tasks of several points each
(:func:`run_points`, about ``TASKS_PER_WORKER`` tasks per worker and
round): a point takes about 0.1 s, and each Dask task costs scheduling,
pickling and messages between processes that share the same cores, which
a task of about 20 points pays once. The driver writes each row to the
journal as its task returns, so a stopped sweep resumes where it was.

Worker recycling: a flowgraph built and dropped in one process used to
leave GNU Radio's SysV buffers behind (issue 16, fixed since for our
blocks), and a worker would otherwise live for the whole sweep; recycling
keeps whatever a block still leaks bounded. The points go out in rounds of
``points_per_worker`` per worker, and ``Client.restart`` replaces every
worker process (through its nanny) between rounds, so whatever a flowgraph
leaks is bounded by that many flowgraphs per process. (A worker that retires
itself mid-round, Dask's ``lifetime`` way, was tried: its nanny was told by
the scheduler's retirement not to restart it, and the sweep stalled with no
workers.) Results do not depend on the rounds: a point's noise depends only
on the point. On an existing cluster (``tcp://``) the restarts restart that
cluster's workers.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .sweep_config import SweepConfig, SweepPoint
from .sweep_point import describe, run_point
from .sweep_results import SweepStore

__all__ = ["run_sweep", "run_points", "task_chunks", "SweepRun", "SCHEDULERS", "TASKS_PER_WORKER"]

#: Scheduler names besides ``tcp://HOST:PORT``.
SCHEDULERS = ("serial", "local")

#: Environment of a local cluster's worker processes: Dask's default
#: (one BLAS/OpenMP thread per worker) without its ``MALLOC_TRIM_THRESHOLD_``
#: of 64 KiB, which made glibc hand freed memory back to the kernel so often
#: that a point's page faults grew tenfold (12,800 a point) and its time by
#: 7 to 16 % (a point builds and drops flowgraphs and activations of a few
#: MB each).
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}

#: Tasks each worker gets per round on a cluster: enough that the workers
#: finish a round close together (the last task is the imbalance), few
#: enough that Dask's cost per task stays small against a task's points.
TASKS_PER_WORKER = 6


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


def _start_client(scheduler: str, workers: Optional[int]):
    """A Dask client for ``local`` (a new LocalCluster) or ``tcp://...``."""
    from distributed import Client, LocalCluster

    if scheduler == "local":
        import dask

        count = workers or os.cpu_count() or 1
        # The workers' statistical profiler is off: it feeds the dashboard,
        # which a sweep does not start, and its 100 stack samples a second,
        # each under the GIL, cost a point about 10 %. Each nanny keeps the
        # environment and a deep copy of the config (a shallow one would
        # share the nested sections that leaving dask.config.set restores),
        # so restarted workers get them too.
        with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRONMENT,
                              "distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None,
                                   silence_logs=logging.ERROR,
                                   config=copy.deepcopy(dask.config.config))
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


def run_points(points: Sequence[SweepPoint], config: SweepConfig) -> List[Dict[str, object]]:
    """One cluster task: the rows of ``points``, run one after the other
    (:func:`~tokencom_sdr.experiments.sweep_point.run_point`)."""
    return [run_point(point, config) for point in points]


def task_chunks(points: Sequence[SweepPoint], workers: int) -> List[List[SweepPoint]]:
    """``points`` dealt into ``TASKS_PER_WORKER * workers`` tasks (fewer if
    there are fewer points), none empty, sizes within one. Dealt, not cut:
    neighbouring points of a grid differ in cost (an image point costs
    several text points), and dealing them spreads each kind over all
    tasks, so the tasks take about equally long."""
    tasks = min(len(points), max(1, workers) * TASKS_PER_WORKER)
    return [list(points[k::tasks]) for k in range(tasks)]


def _run_on_dask(config, todo, scheduler, workers, finished) -> None:
    from distributed import as_completed

    client, cluster = _start_client(scheduler, workers)
    try:
        count = max(1, len(client.scheduler_info()["workers"]))
        round_size = count * config.points_per_worker
        for start in range(0, len(todo), round_size):
            if start:
                # Fresh worker processes (through their nannies) every
                # points_per_worker points each: see the module docstring.
                client.restart()
            futures = client.map(run_points, task_chunks(todo[start:start + round_size], count),
                                 config=config, pure=False)
            for future in as_completed(futures):
                for row in future.result():
                    finished(row)
                future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
