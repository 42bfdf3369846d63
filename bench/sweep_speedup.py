"""Wall time of one sweep run serially and on a local Dask cluster, in
alternation, in one command; and whether their rows are identical.

Each run is a fresh ``tokencom sweep`` process into a fresh folder, so both
sides pay the same start-up (imports, models) and the cluster also pays for
starting its scheduler and worker processes. Runs alternate (serial,
cluster, serial, cluster, ...) so that a change in the machine's load
falls on both sides. Prints one JSON object: ``serial_s`` and
``cluster_s`` (every run), their medians, ``ratio`` (median cluster /
median serial), ``rows_identical`` and the machine's load average before
and after.

Examples (issue 15's measurements, in ``docs/results/sweep_speedup/``)::

    .venv/bin/python bench/sweep_speedup.py docs/sweeps/example.yaml --workers 2 --repeats 3 \\
        --json docs/results/sweep_speedup/example.json
    .venv/bin/python bench/sweep_speedup.py docs/sweeps/speedup.yaml --workers 2 --repeats 3 \\
        --json docs/results/sweep_speedup/speedup.json
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from json_report import emit_json  # noqa: E402

CLI = [sys.executable, "-m", "tokencom_sdr.cli", "sweep"]


def timed_sweep(config: Path, out: Path, scheduler: str, workers: int) -> float:
    command = CLI + [str(config), "--out", str(out), "--scheduler", scheduler, "--quiet"]
    if scheduler != "serial":
        command += ["--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sweep_speedup: {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return wall


def result_rows(out: Path):
    from tokencom_sdr.experiments.sweep_point import RUN_COLUMN_PREFIX
    from tokencom_sdr.experiments.sweep_results import read_results

    rows, _ = read_results(out)
    return sorted(({k: v for k, v in r.items() if not k.startswith(RUN_COLUMN_PREFIX)} for r in rows),
                  key=lambda r: r["point_id"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="a sweep config (docs/sweeps/example.yaml)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side")
    parser.add_argument("--json", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.workers < 1:
        raise SystemExit("sweep_speedup: --repeats and --workers must be at least 1")
    load_before = os.getloadavg()
    serial, cluster = [], []
    identical = True
    with tempfile.TemporaryDirectory(prefix="sweep-speedup-") as scratch:
        reference = None
        for k in range(args.repeats):
            for scheduler, times in (("serial", serial), ("local", cluster)):
                out = Path(scratch) / f"{scheduler}{k}"
                times.append(timed_sweep(args.config, out, scheduler, args.workers))
                rows = result_rows(out)
                reference = reference or rows
                identical = identical and rows == reference
                print(f"{scheduler} run {k + 1}: {times[-1]:.1f} s", file=sys.stderr)
    report = {"config": str(args.config), "workers": args.workers, "cores": os.cpu_count(),
              "points": len(reference), "serial_s": serial, "cluster_s": cluster,
              "serial_median_s": statistics.median(serial), "cluster_median_s": statistics.median(cluster),
              "ratio": statistics.median(cluster) / statistics.median(serial), "rows_identical": identical,
              "load_average_before": list(load_before), "load_average_after": list(os.getloadavg())}
    emit_json(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
