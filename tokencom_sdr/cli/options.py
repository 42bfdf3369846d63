"""Option groups shared by several subcommands."""

import argparse
from typing import List

import numpy as np

from ..channel.loopback_channel import check_snr_db
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


def comma_choices(allowed, what: str):
    """An argparse type: a comma list of names from ``allowed`` (at least one)."""
    def parse(value: str) -> List[str]:
        out = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in out if v not in allowed]
        if not out or bad:
            raise argparse.ArgumentTypeError(
                f"{what} must be among {','.join(allowed)}, got {value!r}")
        return out
    return parse


def write_json_file(path, result) -> None:
    """``--json PATH``: the result, indented, folders created."""
    import json
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def snr_argument(text: str) -> float:
    """``--snr`` value: a number of dB >= the channel's minimum, or inf."""
    try:
        return check_snr_db(float(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error) if "SNR" in str(error)
                                         else f"cannot read SNR {text!r}") from None


#: Most points an SNR list or range may have.
MAX_SNR_POINTS = 1000


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
            count = (stop - start) / step + 1e-9
            if not np.isfinite(count) or count >= MAX_SNR_POINTS:
                raise ValueError(f"SNR range {text!r} has more than {MAX_SNR_POINTS} points")
            values = [round(start + i * step, 6) for i in range(int(np.floor(count)) + 1)]
        else:
            values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as error:
        if "SNR range" in str(error):
            raise
        raise ValueError(f"cannot read SNRs {text!r}; write START:STOP:STEP (e.g. 0:12:1) "
                         f"or a comma list (e.g. 3,5,7)") from None
    if not values:
        raise ValueError("no SNR given")
    if len(values) > MAX_SNR_POINTS:
        raise ValueError(f"{len(values)} SNRs is more than {MAX_SNR_POINTS}")
    for value in values:
        check_snr_db(value)
    return values


def add_channel_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("software channel")
    group.add_argument("--snr", type=snr_argument, default=25.0, metavar="DB",
                       help="burst SNR in dB: burst power over noise power per sample (default 25)")
    group.add_argument("--cfo", type=float, default=0.0, metavar="F",
                       help="carrier frequency offset, normalised to the sample rate (e.g. 0.01)")
    group.add_argument("--sco", type=float, default=0.0, metavar="PPM",
                       help="sample-clock offset in ppm (e.g. 20)")
    group.add_argument("--taps", nargs="+", default=["1"], metavar="TAP",
                       help="multipath FIR taps, complex allowed (e.g. --taps 1 0.3+0.1j 0.1)")
    group.add_argument("--seed", type=int, default=0, metavar="N", help="noise seed (default 0)")


#: Token-to-packet mappings of a fixed grouping (``link.make_aggregation``).
FIXED_AGGREGATIONS = ("interleaved", "sequential")


def add_aggregation_option(group, help: str = "token-to-packet mapping") -> None:
    """``--aggregation interleaved|sequential`` (default interleaved)."""
    group.add_argument("--aggregation", choices=FIXED_AGGREGATIONS, default=FIXED_AGGREGATIONS[0],
                       help=help)


def add_link_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("link and PHY")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--mcs", choices=MCS_NAMES, default="qpsk-1/2",
                        help="modulation and coding scheme (default qpsk-1/2: LDPC rate 1/2, QPSK)")
    choice.add_argument("--modulation", choices=("bpsk", "qpsk"), dest="mcs",
                        help="uncoded payload modulation (same as --mcs bpsk|qpsk)")
    group.add_argument("--aggregation", choices=FIXED_AGGREGATIONS + ("sempa-gbeam", "sempa-look"),
                       default=FIXED_AGGREGATIONS[0],
                       help="token-to-packet mapping: interleaved (token i -> packet i mod P, TokCom), "
                            "sequential, or for text semantic packet aggregation (SemPA: tokens "
                            "grouped so what survives a loss keeps the most meaning; explicit "
                            "positions in the headers) (default interleaved)")
    group.add_argument("--packet-tokens", type=int, default=32, metavar="N",
                       help="tokens per packet (default 32)")
    group.add_argument("--sync-threshold", type=float, default=DEFAULT_SYNC_THRESHOLD, metavar="T",
                       help=f"receiver's Schmidl & Cox detection threshold (default {DEFAULT_SYNC_THRESHOLD})")


def add_mobility_options(parser: argparse.ArgumentParser, rate_option: bool = True) -> None:
    """``--channel/--doppler/--rician-k`` (fading) and ``--iq-imbalance/--dc-offset/--phase-noise``
    (front end), the gr-channels models of :mod:`tokencom_sdr.channel.mobility`."""
    from ..channel.mobility import DELAY_PROFILES

    group = parser.add_argument_group(
        "moving channel and front end",
        "gr-channels' selective_fading_model with a 3GPP delay profile, and channels.impairments.")
    group.add_argument("--channel", choices=("static",) + tuple(DELAY_PROFILES), default="static",
                       help="delay profile of a fading channel: 3GPP EPA (pedestrian), EVA (vehicular), "
                            "ETU (typical urban); static = no fading")
    group.add_argument("--doppler", type=float, default=5.0, metavar="HZ",
                       help="maximum Doppler shift of the fading channel (300 Hz is about "
                            "130 km/h at 2.45 GHz)")
    group.add_argument("--rician-k", type=float, default=0.0, metavar="K",
                       help="Rician K factor of the first path, linear (0: Rayleigh)")
    if rate_option:
        group.add_argument("-r", "--rate", type=float, default=2e6, metavar="HZ",
                           help="sample rate the delays and the Doppler refer to")
    group.add_argument("--iq-imbalance", default=None, metavar="DB,DEG",
                       help="receiver IQ gain and phase imbalance, e.g. 1,5")
    group.add_argument("--dc-offset", type=complex, default=0j, metavar="C",
                       help="DC offset added at the receiver, e.g. 0.1 or 0.05+0.05j")
    group.add_argument("--phase-noise", type=float, default=None, metavar="DB",
                       help="phase-noise magnitude in dB, e.g. -30")


def fading_from_args(args, sample_rate: float = None):
    """The :class:`~tokencom_sdr.channel.mobility.FadingSpec` the options ask for, or None."""
    from ..channel.mobility import FadingSpec

    if args.channel == "static":
        return None
    rate = sample_rate if sample_rate is not None else args.rate
    return FadingSpec(args.channel, args.doppler, rate, args.rician_k, args.seed)


def front_end_from_args(args):
    """The :class:`~tokencom_sdr.channel.mobility.FrontEndSpec` the options ask for, or None."""
    from ..channel.mobility import FrontEndSpec

    magnitude = phase = 0.0
    if args.iq_imbalance:
        try:
            magnitude, phase = (float(v) for v in args.iq_imbalance.split(","))
        except ValueError:
            raise ValueError(f"cannot read --iq-imbalance {args.iq_imbalance!r}; write DB,DEG "
                             f"(e.g. 1,5)") from None
    spec = FrontEndSpec(magnitude, phase, complex(args.dc_offset), args.phase_noise)
    return spec if spec.active else None
