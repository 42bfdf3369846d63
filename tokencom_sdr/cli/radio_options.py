"""Options shared by ``tokencom tx`` and ``tokencom rx``: the radio profile
and its UHD-style overrides, the MCS, and the simulated channel."""

import argparse
from typing import Optional

from ..phy.mcs import MCS_NAMES
from ..radio.profile import (RadioProfile, available_profiles, load_profile, overrides_from_args,
                             profile_search_path)


def add_radio_options(parser: argparse.ArgumentParser, required: bool = True,
                      transmit: bool = False) -> None:
    group = parser.add_argument_group(
        "radio", f"A profile ({', '.join(available_profiles())}; see the folders below) or a "
                 f"YAML file; the flags below override its fields, as in UHD's tools.")
    group.add_argument("--radio", required=required, metavar="PROFILE",
                       help="radio profile name or YAML file")
    group.add_argument("-a", "--args", metavar="ARGS",
                       help="device: Pluto URI (ip:192.168.2.1, usb:1.2.5), USRP args "
                            "(type=b200,serial=...), ZMQ endpoint (tcp://127.0.0.1:5555) or "
                            "SigMF file (NAME.sigmf-meta)")
    group.add_argument("-f", "--freq", metavar="HZ", help="centre frequency (2.45e9 or 2.45G)")
    group.add_argument("-r", "--rate", metavar="SPS", help="sample rate (2.5e6 or 2.5M)")
    group.add_argument("-g", "--gain", metavar="DB",
                       help="gain in dB: TX gain for tx (Pluto -89.75..0), RX gain for rx")
    if transmit:
        group.add_argument("--mcs", choices=MCS_NAMES, metavar="MCS",
                           help="modulation and coding scheme, overriding the profile "
                                f"({', '.join(MCS_NAMES)}); the receiver reads it from each "
                                f"burst's header")


def add_channel_options(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_argument_group(
        "simulated channel", f"Software impairments added to the {what} (for ZMQ and replay "
                             f"tests; off unless --snr, --cfo, --sco, --taps or an option of the "
                             f"moving channel below is given; delays and Doppler refer to the "
                             f"profile's sample rate).")
    from .options import snr_argument
    group.add_argument("--snr", type=snr_argument, metavar="DB", help="burst SNR in dB")
    group.add_argument("--cfo", type=float, metavar="F",
                       help="carrier frequency offset, normalised to the sample rate")
    group.add_argument("--sco", type=float, metavar="PPM", help="sample-clock offset in ppm")
    group.add_argument("--taps", nargs="+", metavar="TAP", help="multipath taps (1 0.3+0.1j)")
    group.add_argument("--seed", type=int, default=0, metavar="N", help="noise seed")
    from .options import add_mobility_options
    add_mobility_options(parser, rate_option=False)


def load_radio(args, direction: str, extra: Optional[dict] = None) -> RadioProfile:
    """The profile named by ``--radio`` with ``-a/-f/-r/-g/--mcs`` applied."""
    # Read once to learn the backend, then again with the overrides so that
    # validation sees the final values.
    backend = load_profile(args.radio).backend
    overrides = overrides_from_args(backend, args.args, args.freq, args.rate, args.gain, direction)
    if getattr(args, "mcs", None):
        overrides["mcs"] = args.mcs
    overrides.update(extra or {})
    return load_profile(args.radio, overrides)


def make_channel(args, sample_rate: float):
    """A LoopbackChannel from the simulated-channel flags, or None.

    ``sample_rate`` (Hz, the radio profile's) turns the fading profile's
    delays and Doppler into samples."""
    from .options import fading_from_args, front_end_from_args, parse_taps

    fading, front_end = fading_from_args(args, sample_rate), front_end_from_args(args)
    if (args.snr is None and args.cfo is None and args.sco is None and args.taps is None
            and fading is None and front_end is None):
        return None
    from ..channel.loopback_channel import LoopbackChannel

    return LoopbackChannel(float("inf") if args.snr is None else args.snr, args.cfo or 0.0,
                           args.sco or 0.0, parse_taps(args.taps) if args.taps else None, args.seed,
                           fading=fading, front_end=front_end)


def profiles_help() -> str:
    """Epilog of ``tokencom tx|rx --help``: where ``--radio NAME`` is looked up."""
    return "profiles are looked up in: " + ", ".join(str(p) for p in profile_search_path())
