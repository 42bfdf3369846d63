"""``tokencom tx``: send text or an image over a radio profile."""

import argparse
import json
import sys
from pathlib import Path

from .radio_options import add_radio_options, load_radio, profiles_help


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "tx", help="transmit a message over a radio (Pluto, USRP, ZMQ, loopback)",
        description="Tokenize a text or an image, packetize it, modulate the packets with the "
                    "OFDM PHY and send them through the radio of a profile. With the loopback "
                    "profile the receiver runs in this process and prints what it decoded.",
        epilog=profiles_help(), formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_radio_options(parser, transmit=True)
    source = parser.add_argument_group("message")
    what = source.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", metavar="TEXT", help="text to send")
    what.add_argument("--image", type=Path, metavar="PATH",
                      help="image file to send (needs the trained image tokenizer)")
    source.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="send the message N times, each with the next message id "
                             "(0: until Ctrl-C)")
    source.add_argument("--interval", type=float, default=1.0, metavar="S",
                        help="seconds between repetitions")
    source.add_argument("--message-id", type=int, default=1, metavar="N",
                        help="message id of the first message (0..65535)")
    link = parser.add_argument_group("link")
    link.add_argument("--aggregation", choices=("interleaved", "sequential"),
                      default="interleaved", help="token-to-packet mapping")
    link.add_argument("--packet-tokens", type=int, default=32, metavar="N", help="tokens per packet")
    output = parser.add_argument_group("output")
    output.add_argument("--record", type=Path, metavar="PATH.sigmf-data",
                        help="also write the transmitted IQ as a SigMF recording")
    output.add_argument("--json", type=Path, metavar="PATH",
                        help="write a summary (loopback: the receiver's reports) as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..app.tx import (LoopbackTxSink, image_frame, make_messages, run_transmitter,
                                     text_frame)

    profile = load_radio(args, "tx")
    frame = text_frame(args.text) if args.text is not None else image_frame(args.image)
    messages = make_messages(frame, args.repeat, args.message_id, args.aggregation,
                             args.packet_tokens)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    print(f"tokencom tx: {profile.name} ({profile.backend}, {profile.device_address or 'in-process'}),"
          f" {profile.mcs}, {profile.sample_rate_hz / 1e6:g} MS/s at "
          f"{profile.center_freq_hz / 1e9:g} GHz", file=sys.stderr, flush=True)
    sink = None
    if profile.backend == "loopback":
        sink = LoopbackTxSink(profile, log, sys.stdout, expect_text=args.text)
    summary = run_transmitter(profile, messages, args.interval, args.record, log, sink)
    print(f"[tx] done: {summary['messages']} messages, {summary['packets']} packets, "
          f"{summary['airtime_s'] * 1e3:.1f} ms of airtime", file=sys.stderr, flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    if profile.backend == "loopback":
        reports = summary["reports"]
        return 0 if reports and all(r["packets_received"] for r in reports) else 1
    return 0
