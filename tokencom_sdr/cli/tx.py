"""``tokencom tx``: send text or an image over a radio profile."""

import argparse
import json
import sys
from pathlib import Path

from .image_options import TOKENIZER_CHOICES, add_id_search_option, load_image_arg
from .options import add_aggregation_option
from .budget_options import add_budget_options, budget_from_args
from .radio_options import add_radio_options, load_radio, profiles_help
from .text_source import add_text_source_options, text_from_args


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "tx", help="transmit a message over a radio (Pluto, USRP, ZMQ, SigMF file, loopback)",
        description="Tokenize a text or an image, packetize it, modulate the packets with the "
                    "OFDM PHY and send them through the radio of a profile. With the loopback "
                    "profile the receiver runs in this process and prints what it decoded.",
        epilog=profiles_help(), formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_radio_options(parser, transmit=True)
    source = parser.add_argument_group("message")
    what = source.add_mutually_exclusive_group(required=True)
    add_text_source_options(what)
    what.add_argument("--image", metavar="PATH|NAME",
                      help="image to send: a file, or a bundled image name (e.g. astronaut)")
    source.add_argument("--tokenizer", choices=TOKENIZER_CHOICES, default="standard",
                        help="image tokenizer: standard (f=4, 512 codes) or low-rate (f=8, 1024 "
                             "codes); every packet header names it, so the receiver needs no "
                             "setting")
    source.add_argument("--max-side", type=int, default=0, metavar="PX",
                        help="shrink the image so that no side exceeds PX pixels (0: as is); "
                             "a 512x512 image is 16384 tokens")
    add_id_search_option(source)
    source.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="send the message N times, each with the next message id "
                             "(0: until Ctrl-C)")
    source.add_argument("--interval", type=float, default=1.0, metavar="S",
                        help="seconds between repetitions")
    source.add_argument("--message-id", type=int, default=1, metavar="N",
                        help="message id of the first message (0..65535)")
    link = parser.add_argument_group("link")
    add_aggregation_option(link)
    link.add_argument("--packet-tokens", type=int, default=32, metavar="N", help="tokens per packet")
    add_budget_options(parser)
    output = parser.add_argument_group("output")
    output.add_argument("--record", type=Path, metavar="PATH.sigmf-data",
                        help="also write the transmitted IQ as a SigMF recording")
    output.add_argument("--json", type=Path, metavar="PATH",
                        help="write a summary (loopback: the receiver's reports) as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..app.tx import (image_frame, make_messages, receive_looped_back, run_transmitter,
                          text_frame)
    from ..radio.backends import get_backend

    profile = load_radio(args, "tx")
    backend = get_backend(profile.backend)
    text = text_from_args(args)
    if text is not None:
        frame = text_frame(text)
    else:
        if args.max_side < 0:
            raise ValueError(f"--max-side must be >= 0, got {args.max_side}")
        frame = image_frame(load_image_arg(args.image, args.max_side), args.tokenizer,
                            args.id_search, args.id_refine)
    messages = make_messages(frame, args.repeat, args.message_id, args.aggregation,
                             args.packet_tokens, budget_from_args(args))
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    print(f"tokencom tx: {profile.name} ({profile.backend}, {profile.device_address or 'in-process'}),"
          f" {profile.mcs}, {profile.sample_rate_hz / 1e6:g} MS/s at "
          f"{profile.center_freq_hz / 1e9:g} GHz", file=sys.stderr, flush=True)
    sink = backend.make_sink(profile, log)
    summary = run_transmitter(profile, messages, args.interval, args.record, log, sink)
    print(f"[tx] done: {summary['messages']} messages, {summary['packets']} packets, "
          f"{summary['airtime_s'] * 1e3:.1f} ms of airtime", file=sys.stderr, flush=True)
    if backend.loops_back:
        summary["reports"] = receive_looped_back(profile, sink.samples(), log, sys.stdout,
                                                 expect_text=text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    if backend.loops_back:
        reports = summary["reports"]
        return 0 if reports and all(r["packets_received"] for r in reports) else 1
    return 0
