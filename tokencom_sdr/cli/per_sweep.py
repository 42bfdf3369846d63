"""``tokencom per-sweep``: PER/BER/goodput vs SNR per MCS, stock reference included."""

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from ..phy.mcs import CODED_MCS_NAMES, MCS_NAMES
from ..phy.phy_header import MAX_PAYLOAD_BYTES
from ..experiments.per_sweep import per_sweep, plot_per
from .options import add_mobility_options, fading_from_args, front_end_from_args, parse_snr_range, parse_taps


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "per-sweep", help="packet error rate vs SNR per MCS, with GNU Radio's stock OFDM as reference",
        description="Send random packets through the real GNU Radio OFDM chain (TX -> software "
                    "channel -> RX) for each MCS and SNR, and report PER, BER and goodput. GNU Radio's "
                    "stock ofdm_tx/ofdm_rx (uncoded QPSK) runs on the same packets and channel as "
                    "the reference curve.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    what = parser.add_argument_group("what to measure")
    what.add_argument("--mcs", default="qpsk-1/2,16qam-1/2,64qam-2/3", metavar="LIST",
                      help=f"comma-separated MCS names; 'all' = every coded one ({', '.join(MCS_NAMES)})")
    what.add_argument("--snr", default="0:20:2", metavar="START:STOP:STEP", help="SNRs in dB (stop included)")
    what.add_argument("--packets", type=int, default=500, metavar="N", help="packets per point")
    what.add_argument("--payload-bytes", type=int, default=100, metavar="B", help="bytes per packet")
    what.add_argument("--no-stock", action="store_true", help="skip the stock GNU Radio reference")
    channel = parser.add_argument_group("software channel")
    channel.add_argument("--cfo", type=float, default=0.005, metavar="F",
                         help="carrier frequency offset, normalised to the sample rate")
    channel.add_argument("--sco", type=float, default=0.0, metavar="PPM", help="sample-clock offset")
    channel.add_argument("--taps", nargs="+", default=None, metavar="TAP", help="multipath taps")
    channel.add_argument("--seed", type=int, default=0, help="payload, noise and fading seed")
    add_mobility_options(parser)
    receiver = parser.add_argument_group("receiver")
    receiver.add_argument("--no-tracking", action="store_true",
                          help="switch off the receiver's channel tracking across failed payloads "
                               "(to measure what it brings)")
    output = parser.add_argument_group("output")
    output.add_argument("--json", type=Path, required=True, metavar="PATH", help="write the points here")
    output.add_argument("--plot", type=Path, metavar="PATH", help="write a PER-vs-SNR plot (PNG)")
    parser.set_defaults(run=run)


def run(args) -> int:
    names = list(CODED_MCS_NAMES) if args.mcs == "all" else [m.strip() for m in args.mcs.split(",") if m.strip()]
    snrs = parse_snr_range(args.snr)
    if args.packets < 1 or args.payload_bytes < 1:
        raise ValueError("--packets and --payload-bytes must be positive")
    if args.payload_bytes > MAX_PAYLOAD_BYTES:
        raise ValueError(f"--payload-bytes {args.payload_bytes}: one burst carries at most "
                         f"{MAX_PAYLOAD_BYTES} bytes")
    total = len(snrs) * (len(names) + (0 if args.no_stock else 1))
    with tqdm(total=total, unit="point", desc="per-sweep") as bar:
        rows = per_sweep(names, snrs, args.packets, args.payload_bytes, args.cfo, args.sco,
                         parse_taps(args.taps) if args.taps else None, not args.no_stock,
                         args.rate, seed=args.seed,
                         progress=lambda label: (bar.set_postfix_str(label), bar.update(1)),
                         fading=fading_from_args(args), front_end=front_end_from_args(args),
                         channel_tracking=not args.no_tracking)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{'MCS':>20} {'SNR':>6} {'PER':>7} {'BER':>9} {'goodput kb/s':>13}")
    for row in rows:
        print(f"{row['mcs']:>20} {row['snr_db']:6.1f} {row['per']:7.3f} {row['ber']:9.2e} "
              f"{row['goodput_bps'] / 1e3:13.1f}")
    if args.plot:
        plot_per(rows, args.plot)
        print(f"plot: {args.plot}")
    return 0
