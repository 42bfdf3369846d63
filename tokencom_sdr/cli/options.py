"""Option groups shared by several subcommands."""

import argparse
from typing import List

import numpy as np

from ..phy.mcs import MCS_NAMES
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD


def parse_taps(values: List[str]) -> List[complex]:
    """``--taps 1 0.3+0.1j 0.1`` or ``--taps 1,0.3+0.1j,0.1`` -> complex list."""
    taps = []
    for value in values:
        for part in value.split(","):
            part = part.strip().replace(" ", "")
            if not part:
                continue
            try:
                taps.append(complex(part))
            except ValueError:
                raise ValueError(
                    f"cannot read multipath tap {part!r}; write taps like 1 or 0.3+0.1j") from None
    if not taps:
        raise ValueError("--taps needs at least one tap")
    return taps


def parse_snr_range(text: str) -> List[float]:
    """SNRs in dB from ``START:STOP:STEP`` (STOP included) or a comma list.

    ``"0:10:2"`` -> [0, 2, 4, 6, 8, 10]; ``"7,9"`` -> [7, 9]; ``"5"`` -> [5].
    """
    text = text.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError(f"SNR range {text!r} must be START:STOP:STEP")
            start, stop, step = (float(p) for p in parts)
            if step <= 0 or stop < start:
                raise ValueError(f"SNR range {text!r} needs STEP > 0 and STOP >= START")
            count = int(np.floor((stop - start) / step + 1e-9)) + 1
            return [round(start + i * step, 6) for i in range(count)]
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as error:
        if "SNR range" in str(error):
            raise
        raise ValueError(f"cannot read SNRs {text!r}; write START:STOP:STEP (e.g. 0:12:1) "
                         f"or a comma list (e.g. 3,5,7)") from None
    if not values:
        raise ValueError("no SNR given")
    return values


def add_channel_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("software channel")
    group.add_argument("--snr", type=float, default=25.0, metavar="DB",
                       help="burst SNR in dB: burst power over noise power per sample (default 25)")
    group.add_argument("--cfo", type=float, default=0.0, metavar="F",
                       help="carrier frequency offset, normalised to the sample rate (e.g. 0.01)")
    group.add_argument("--sco", type=float, default=0.0, metavar="PPM",
                       help="sample-clock offset in ppm (e.g. 20)")
    group.add_argument("--taps", nargs="+", default=["1"], metavar="TAP",
                       help="multipath FIR taps, complex allowed (e.g. --taps 1 0.3+0.1j 0.1)")
    group.add_argument("--seed", type=int, default=0, metavar="N", help="noise seed (default 0)")


def add_link_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("link and PHY")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--mcs", choices=MCS_NAMES, default="qpsk-1/2",
                        help="modulation and coding scheme (default qpsk-1/2: LDPC rate 1/2, QPSK)")
    choice.add_argument("--modulation", choices=("bpsk", "qpsk"), dest="mcs",
                        help="uncoded payload modulation (same as --mcs bpsk|qpsk)")
    group.add_argument("--aggregation", choices=("interleaved", "sequential"), default="interleaved",
                       help="token-to-packet mapping: interleaved (token i -> packet i mod P, TokCom) "
                            "or sequential (default interleaved)")
    group.add_argument("--packet-tokens", type=int, default=32, metavar="N",
                       help="tokens per packet (default 32)")
    group.add_argument("--sync-threshold", type=float, default=DEFAULT_SYNC_THRESHOLD, metavar="T",
                       help=f"receiver's Schmidl & Cox detection threshold (default {DEFAULT_SYNC_THRESHOLD})")
