"""``tokencom report``: figures and an HTML page from a sweep's results."""

import argparse
from pathlib import Path

from ..experiments.sweep_report import write_report

#: Coloured pixels a screenshot must show to count the figures as shown: one
#: small curve with markers is a few thousand; a page of text and tables,
#: none (see tests/experiments/test_sweep.py).
FIGURES_SHOWN_PIXELS = 2000


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
    output.add_argument("--screenshot", action="store_true",
                        help="also render report.html in a headless browser (chromium-headless-shell) "
                             "to report.png, and check that the figures show")
    parser.set_defaults(run=run)


def run(args) -> int:
    try:
        files = write_report(args.results, args.out)
    except (OSError, ValueError) as error:
        raise SystemExit(f"tokencom report: {error}")
    for name, path in files.items():
        print(f"{name}: {path}")
    if args.screenshot:
        from ..experiments.report_screenshot import coloured_pixels, screenshot

        try:
            shot = screenshot(files["html"], args.out / "report.png")
        except RuntimeError as error:
            raise SystemExit(f"tokencom report: {error}")
        coloured = coloured_pixels(shot)
        print(f"screenshot: {shot} ({coloured} coloured pixels)")
        if coloured < FIGURES_SHOWN_PIXELS:
            raise SystemExit(f"tokencom report: the screenshot {shot} shows no figures "
                             f"({coloured} coloured pixels)")
    return 0
