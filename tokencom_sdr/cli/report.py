"""``tokencom report``: figures and an HTML page from a sweep's results."""

import argparse
from pathlib import Path

from ..experiments.sweep_report import write_report


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="figures and a self-contained HTML report of a sweep's results",
        description="Read a sweep's results (tokencom sweep --out DIR) and write PER and goodput vs "
                    "SNR with Wilson 95 % intervals, text and image quality vs SNR, and bandwidth "
                    "efficiency at equal quality (the best link setting reaching a quality target, "
                    "with and without context recovery) as PNG figures and one HTML page that "
                    "embeds them.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("results", type=Path, metavar="RESULTS",
                        help="a sweep's results.parquet, or the folder holding it")
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder for report.html, the PNG figures and efficiency.json")
    parser.set_defaults(run=run)


def run(args) -> int:
    files = write_report(args.results, args.out)
    for name, path in files.items():
        print(f"{name}: {path}")
    return 0
