"""``tokencom rx``: receive messages from a radio, or replay a recording."""

import argparse
import sys
from pathlib import Path

from ..context.modes import (DEFAULT_IMAGE_RECOVERY, DEFAULT_TEXT_RECOVERY,
                             IMAGE_RECOVERY_MODES, TEXT_RECOVERY_MODES)
from .radio_options import add_channel_options, add_radio_options, load_radio, make_channel, \
    profiles_help

#: ``--recovery`` values: the text modes and the image modes (``none`` is both).
RECOVERY_CHOICES = tuple(dict.fromkeys(TEXT_RECOVERY_MODES + IMAGE_RECOVERY_MODES))


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "rx", help="receive messages from a radio (Pluto, USRP, ZMQ) or a SigMF recording",
        description="Run the OFDM receiver on a radio's samples and print each message as it "
                    "arrives, before and after context recovery, with live statistics "
                    "(packets, token error rates, SNR and CFO estimates). Text and images are "
                    "told apart, and decoded, by their packet headers. Stops on Ctrl-C, after "
                    "--count messages or --duration seconds, or at the end of a replayed "
                    "recording.",
        epilog=profiles_help(), formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_radio_options(parser, required=False)
    parser.add_argument("--replay", type=Path, metavar="PATH.sigmf-meta",
                        help="decode a SigMF recording instead of a radio (--radio optional)")
    recovery = parser.add_argument_group("recovery")
    recovery.add_argument(
        "--recovery", choices=RECOVERY_CHOICES, default=None,
        help=f"text: none, hard (hard bits of failed packets), fill (context model) or soft "
             f"(context model x bit LLRs, after re-decoding failed codewords; default "
             f"{DEFAULT_TEXT_RECOVERY}); images: none, copy (nearest token) or context "
             f"(masked-token model; default {DEFAULT_IMAGE_RECOVERY}). A text mode leaves "
             f"images at their default and the other way round; none turns both off")
    stop = parser.add_argument_group("when to stop")
    stop.add_argument("--count", type=int, metavar="N", help="stop after N messages")
    stop.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    output = parser.add_argument_group("output")
    output.add_argument("--json", type=Path, metavar="PATH",
                        help="write a JSON list, one object per message (before and after "
                             "recovery)")
    output.add_argument("--out", type=Path, metavar="DIR",
                        help="save each message in DIR as received and as recovered "
                             "(text .txt, image .png)")
    output.add_argument("--record", type=Path, metavar="PATH.sigmf-data",
                        help="record the received IQ as SigMF, one annotation per packet")
    output.add_argument("--expect", metavar="TEXT",
                        help="the text the TX sends: reports exact_raw/exact and token error "
                             "rates against it")
    output.add_argument("--expect-image", metavar="PATH",
                        help="the image the TX sends (file or bundled name): reports PSNR "
                             "and MS-SSIM before and after recovery")
    output.add_argument("--expect-tokenizer", choices=("standard", "low-rate"), default=None,
                        help="with --expect-image: the TX's image tokenizer, to also compare "
                             "tokens")
    add_channel_options(parser, "received IQ")
    parser.set_defaults(run=run)


def recovery_modes(choice):
    """``(text, image)`` recovery modes from ``--recovery``."""
    if choice is None:
        return DEFAULT_TEXT_RECOVERY, DEFAULT_IMAGE_RECOVERY
    if choice == "none":
        return "none", "none"
    if choice in TEXT_RECOVERY_MODES:
        return choice, DEFAULT_IMAGE_RECOVERY
    return DEFAULT_TEXT_RECOVERY, choice


def _expected(args):
    from ..app.rx_report import Expected

    image, image_tokenizer = None, None
    if args.expect_image:
        from .image_options import load_image_arg

        image = load_image_arg(args.expect_image)
        if args.expect_tokenizer:
            from ..tokens.image_vq import ImageTokenizer

            image_tokenizer = ImageTokenizer.default(args.expect_tokenizer)
    return Expected(text=args.expect, image=image, image_tokenizer=image_tokenizer)


def run(args) -> int:
    from ..app.rx import RxFlowgraph, RxOptions, run_receiver
    from ..radio.backends import get_backend
    from ..radio.profile import replay_profile

    if args.count is not None and args.count < 1:
        raise ValueError(f"--count must be >= 1, got {args.count}")
    if args.duration is not None and args.duration <= 0:
        raise ValueError(f"--duration must be > 0 s, got {args.duration}")
    if args.replay is None and args.radio is None:
        raise ValueError("give --radio PROFILE (live) or --replay PATH.sigmf-meta")
    if args.replay is not None:
        # The receiver reads the MCS from each burst's header; the recording
        # gives the rate (for Hz figures) and the sync threshold it ran with;
        # a --radio profile may add its own settings (gap, timeout).
        base = load_radio(args, "rx") if args.radio else None
        profile = replay_profile(args.replay, base)
        label = f"replay of {args.replay}"
    else:
        profile = load_radio(args, "rx")
        if get_backend(profile.backend).finite_source:  # --radio sigmf -a FILE
            profile = replay_profile(profile.device_address, profile)
        label = f"{profile.name} ({profile.backend}, {profile.device_address})"
    backend = get_backend(profile.backend)
    source = backend.make_source(profile)
    text_recovery, image_recovery = recovery_modes(args.recovery)
    print(f"tokencom rx: {label}, {profile.sample_rate_hz / 1e6:g} MS/s, recovery "
          f"{text_recovery} (text) / {image_recovery} (images)"
          + ("" if backend.finite_source else " - Ctrl-C to stop"), file=sys.stderr, flush=True)
    flowgraph = RxFlowgraph(source, profile, make_channel(args, profile.sample_rate_hz), args.record)
    options = RxOptions(count=args.count, duration_s=args.duration, json_path=args.json,
                        out_dir=args.out, record_path=args.record, expected=_expected(args),
                        text_recovery=text_recovery, image_recovery=image_recovery)
    config = {"radio": profile.to_dict(), "replay": str(args.replay) if args.replay else None}
    reports = run_receiver(flowgraph, profile, options, finite=backend.finite_source,
                           config=config)
    print(f"tokencom rx: {len(reports)} message(s)", file=sys.stderr, flush=True)
    if args.record:
        print(f"tokencom rx: recorded {args.record}", file=sys.stderr, flush=True)
    return 0
