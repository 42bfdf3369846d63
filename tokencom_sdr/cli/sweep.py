"""``tokencom sweep``: a YAML grid of points through the real chain, serial or on Dask."""

import argparse
from pathlib import Path

from ..experiments.sweep_config import load_sweep_config
from ..experiments.sweep_runner import run_sweep


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="run a config-driven sweep (SNR x MCS x channel x recovery x ...) on Dask",
        description="Send every point of a sweep config (docs/sweeps/example.yaml) once through the "
                    "real GNU Radio chain: tokens -> packets -> OFDM -> software channel -> OFDM -> "
                    "the receiver and its context recovery. Rows go to DIR/points.jsonl as they "
                    "finish (a rerun with the same --out skips them), then to DIR/results.parquet "
                    "and DIR/results.csv with the package version and the config.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("config", type=Path, metavar="CONFIG.yaml", help="the sweep config")
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="results folder (resumed when it holds finished points)")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    execution = parser.add_argument_group("execution")
    execution.add_argument("--scheduler", default="serial", metavar="serial|local|tcp://HOST:8786",
                           help="serial: this process; local: a Dask LocalCluster on 127.0.0.1, one "
                                "single-threaded worker process per core; tcp://...: an existing "
                                "Dask scheduler")
    execution.add_argument("--workers", type=int, default=0, metavar="N",
                           help="worker processes of the local cluster; 0: one per core")
    parser.set_defaults(run=run)


def run(args) -> int:
    config = load_sweep_config(args.config)
    if args.workers < 0:
        raise ValueError("--workers must be 0 (one per core) or more")
    result = run_sweep(config, args.out, args.scheduler, args.workers or None, progress=not args.quiet)
    print(f"{result.ran} of {result.points} points run in {result.wall_s:.1f} s "
          f"({result.points - result.ran} from an earlier run) on {result.workers} worker process(es)")
    for name, path in result.files.items():
        print(f"{name}: {path}")
    return 0
