"""``tokencom rx``: receive messages from a radio, or replay a recording."""

import argparse
import sys
from pathlib import Path

from .radio_options import add_channel_options, add_radio_options, load_radio, make_channel, \
    profiles_help


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "rx", help="receive messages from a radio (Pluto, USRP, ZMQ) or a SigMF recording",
        description="Run the OFDM receiver on a radio's samples and print each message as it "
                    "arrives, with live statistics (packets, PER, SNR and CFO estimates). Stops "
                    "on Ctrl-C, after --count messages or --duration seconds, or at the end of a "
                    "replayed recording.",
        epilog=profiles_help(), formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_radio_options(parser, required=False)
    parser.add_argument("--replay", type=Path, metavar="PATH.sigmf-meta",
                        help="decode a SigMF recording instead of a radio (--radio optional)")
    stop = parser.add_argument_group("when to stop")
    stop.add_argument("--count", type=int, metavar="N", help="stop after N messages")
    stop.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    output = parser.add_argument_group("output")
    output.add_argument("--json", type=Path, metavar="PATH",
                        help="write a JSON list, one object per message (keys of tokencom loopback)")
    output.add_argument("--out", type=Path, metavar="DIR",
                        help="save each message (text .txt, image .png) in DIR")
    output.add_argument("--record", type=Path, metavar="PATH.sigmf-data",
                        help="record the received IQ as SigMF, one annotation per packet")
    output.add_argument("--expect", metavar="TEXT",
                        help="the text the TX sends, to report exact matches and token errors")
    add_channel_options(parser, "received IQ")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..app.rx import (ArraySource, RxFlowgraph, RxOptions, make_source,
                                     run_receiver)
    from ..radio.profile import profile_from_dict
    from ..radio.sigmf_file import read_recording

    if args.count is not None and args.count < 1:
        raise ValueError(f"--count must be >= 1, got {args.count}")
    if args.duration is not None and args.duration <= 0:
        raise ValueError(f"--duration must be > 0 s, got {args.duration}")
    if args.replay is None and args.radio is None:
        raise ValueError("give --radio PROFILE (live) or --replay PATH.sigmf-meta")
    if args.replay is not None:
        samples, info = read_recording(args.replay)
        # The receiver reads the MCS from each burst's header; the recording
        # gives the rate (for Hz figures) and the sync threshold it ran with.
        fields = {"sample_rate_hz": info.sample_rate_hz, "center_freq_hz": info.center_freq_hz or 0.0}
        if info.sync_threshold is not None:
            fields["sync_threshold"] = info.sync_threshold
        if args.radio:
            profile = load_radio(args, "rx", fields)
        else:
            profile = profile_from_dict(dict(backend="loopback", name="replay", **fields),
                                        source=str(args.replay))
        source = ArraySource(samples)
        label = f"replay of {args.replay} ({info.num_samples} samples, {info.hardware or '?'})"
    else:
        profile = load_radio(args, "rx")
        source = make_source(profile)
        label = f"{profile.name} ({profile.backend}, {profile.device_address})"
    print(f"tokencom rx: {label}, {profile.sample_rate_hz / 1e6:g} MS/s"
          + ("" if args.replay else " - Ctrl-C to stop"), file=sys.stderr, flush=True)
    flowgraph = RxFlowgraph(source, profile, make_channel(args), args.record)
    options = RxOptions(count=args.count, duration_s=args.duration, json_path=args.json,
                        out_dir=args.out, record_path=args.record, expect_text=args.expect)
    config = {"radio": profile.to_dict(), "replay": str(args.replay) if args.replay else None}
    reports = run_receiver(flowgraph, profile, options, finite=args.replay is not None,
                           config=config)
    print(f"tokencom rx: {len(reports)} message(s)", file=sys.stderr, flush=True)
    if args.record:
        print(f"tokencom rx: recorded {args.record}", file=sys.stderr, flush=True)
    return 0
