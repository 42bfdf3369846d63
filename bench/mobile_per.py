#!/usr/bin/env python3
"""PER against SNR on moving channels, with and without the receiver's
channel tracking: AWGN with a frequency offset, 3GPP EPA at 5 Hz, ETU at
70 Hz and ETU at 300 Hz of Doppler (gr-channels' selective_fading_model at
2 MS/s), through the real GNU Radio chain.

Writes one JSON file of ``tokencom per-sweep`` rows per (channel, tracking)
case into ``--out``, a summary (``summary.json``: for each case and MCS the
lowest SNR from which every measured point has PER <= 1 %) and a plot
(``mobile_per.png``). ``--jobs 2`` runs the cases in two processes.

    .venv/bin/python bench/mobile_per.py --packets 300 --out docs/results/mobile_per --jobs 2
"""

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from json_report import emit_json  # bench/, first on sys.path when a bench runs

from tokencom_sdr.channel.mobility import FadingSpec
from tokencom_sdr.experiments.per_sweep import per_sweep

SAMPLE_RATE = 2e6
#: (case name, fading or None, MCSs, SNRs)
CASES = (
    ("awgn", None, ("qpsk-1/2", "16qam-1/2", "64qam-2/3"), [float(s) for s in range(0, 21)]),
    ("epa-5", FadingSpec("epa", 5.0, SAMPLE_RATE), ("qpsk-1/2", "16qam-1/2"), [float(s) for s in range(0, 27, 2)]),
    ("etu-70", FadingSpec("etu", 70.0, SAMPLE_RATE), ("qpsk-1/2", "16qam-1/2"), [float(s) for s in range(0, 27, 2)]),
    ("etu-300", FadingSpec("etu", 300.0, SAMPLE_RATE),
     ("qpsk-1/2", "16qam-1/2", "qpsk-1/2-mobile", "16qam-1/2-mobile"), [float(s) for s in range(0, 27, 2)]),
)
#: The frequency offset of today's AWGN sweep (normalised), on every case.
CFO = 0.005


def run_case(name: str, fading, mcs_names, snrs, tracking: bool, packets: int, out: Path) -> str:
    rows = per_sweep(mcs_names, snrs, packets, 100, cfo=CFO, include_stock=False, sample_rate=SAMPLE_RATE,
                     fading=fading, channel_tracking=tracking)
    path = out / f"{name}-{'tracking' if tracking else 'no-tracking'}.json"
    path.write_text(json.dumps(rows, indent=1) + "\n")
    return str(path)


def threshold_snr(rows, target: float = 0.01):
    """Lowest SNR from which every measured point meets ``target`` (None: never).

    Compared in packets, not as floats: 3 failures in 300 are 1 %, though
    ``1 - 297 / 300`` is a hair over 0.01."""
    points = sorted(rows, key=lambda r: r["snr_db"])
    for i, row in enumerate(points):
        if all(round(p["per"] * p["packets"]) <= target * p["packets"] for p in points[i:]):
            return row["snr_db"]
    return None


def summarise(out: Path) -> dict:
    summary = {}
    for path in sorted(p for p in out.glob("*.json") if p.name != "summary.json"):
        rows = json.loads(path.read_text())
        for mcs in dict.fromkeys(r["mcs"] for r in rows):
            mine = [r for r in rows if r["mcs"] == mcs]
            summary.setdefault(path.stem, {})[mcs] = {
                "snr_per_1pct_db": threshold_snr(mine),
                "per_at_max_snr": mine[-1]["per"], "max_snr_db": mine[-1]["snr_db"],
                "packets": mine[0]["packets"]}
    return summary


def plot(out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CASES), figsize=(4.2 * len(CASES), 4), sharey=True)
    colours = {}
    for ax, (name, _, _, _) in zip(axes, CASES):
        for tracking, style in ((True, "-"), (False, "--")):
            path = out / f"{name}-{'tracking' if tracking else 'no-tracking'}.json"
            if not path.exists():
                continue
            rows = json.loads(path.read_text())
            floor = 0.5 / rows[0]["packets"]
            for mcs in dict.fromkeys(r["mcs"] for r in rows):
                mine = [r for r in rows if r["mcs"] == mcs]
                colour = colours.setdefault(mcs, f"C{len(colours)}")
                ax.semilogy([r["snr_db"] for r in mine], [max(r["per"], floor) for r in mine], style,
                            color=colour, marker="o" if tracking else None, markersize=3,
                            label=f"{mcs}{'' if tracking else ' (no tracking)'}")
        ax.axhline(0.01, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(name.upper().replace("-", ", ") + (" Hz" if "-" in name else " + CFO"))
        ax.set_xlabel("SNR (dB)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("packet error rate (100-byte packets)")
    # One legend for all panels, beside them: inside, it would hide curves.
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="center right", fontsize=7)
    fig.suptitle("TokenCom-SDR PER on gr-channels' 3GPP fading models at 2 MS/s: "
                 "solid with channel tracking, dashed without (bottom row: no error seen)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    path = out / "mobile_per.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--packets", type=int, default=300, help="100-byte packets per point")
    parser.add_argument("--out", type=Path, default=Path("out/mobile_per"))
    parser.add_argument("--jobs", type=int, default=1, help="processes")
    parser.add_argument("--cases", default=",".join(c[0] for c in CASES), help="comma-separated case names")
    parser.add_argument("--plot-only", action="store_true", help="summarise and plot what --out holds")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.plot_only:
        wanted = set(args.cases.split(","))
        work = [(name, fading, mcs, snrs, tracking, args.packets, args.out)
                for name, fading, mcs, snrs in CASES if name in wanted for tracking in (True, False)]
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for path in pool.map(run_case, *zip(*work)):
                print(f"wrote {path}", file=sys.stderr, flush=True)
    report = {"command": "bench/mobile_per.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "cfo": CFO, "sample_rate": SAMPLE_RATE, "payload_bytes": 100,
              "summary": summarise(args.out), "plot": str(plot(args.out))}
    emit_json(report, args.out / "summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
