"""``tokencom loopback``: one message through TX -> software channel -> RX."""

import argparse
import json
from pathlib import Path

from ..app.loopback import LinkConfig, run_text_loopback
from ..app.rx_report import recovering_expert
from ..app.unequal_protection import parse_uep
from ..context.modes import CONTEXT_DECODING, DEFAULT_TEXT_RECOVERY, TEXT_RECOVERY_MODES
from .options import (add_channel_options, add_link_options, add_mobility_options, fading_from_args,
                      front_end_from_args, parse_taps)
from .image_options import add_image_source_options, run_image_loopback_from_args
from .loss_options import add_link_loss_options, loss_model_from_args
from .budget_options import add_budget_options, budget_from_args
from .text_source import add_text_source_options, text_from_args


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "loopback", help="send a message over the software OFDM loopback",
        description="Send a text message as BPE tokens (--text or --text-file), or an image "
                    "as VQ tokens (--image), through the real GNU Radio OFDM transmitter, a "
                    "software channel and the OFDM receiver; print what arrived. Images: lost tokens are filled "
                    "by --recovery before decoding.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = parser.add_argument_group("source (one of)")
    exclusive = source.add_mutually_exclusive_group(required=True)
    add_text_source_options(exclusive)
    add_image_source_options(parser, exclusive)
    add_channel_options(parser)
    add_mobility_options(parser)
    add_link_options(parser)
    add_link_loss_options(parser)
    add_budget_options(parser)
    text = parser.add_argument_group("text (with --text or --text-file)")
    text.add_argument(
        "--text-recovery", choices=TEXT_RECOVERY_MODES, default=DEFAULT_TEXT_RECOVERY,
        help="how the receiver restores tokens of lost or CRC-failed packets: none, hard "
             "(hard bits of failed packets), fill (context model) or soft (context model x "
             "bit LLRs)")
    text.add_argument(
        "--context-decoding", choices=CONTEXT_DECODING, default="model",
        help="with --text-recovery soft: decode CRC-failed codewords again with the known "
             "link header and then the context model's token prior as a-priori bit LLRs "
             "(model), with the header only (header), with the model's prior only "
             "(model-only, a measurement aid) or not at all (off); a packet counts "
             "only if it then passes its CRC")
    text.add_argument(
        "--uep", metavar="ROBUST,FAST", default=None,
        help="unequal protection: the packets whose tokens the context model would restore "
             "worst go at the ROBUST MCS, the rest at FAST, as many robust as fit in the air "
             "time of --mcs for every packet (e.g. bpsk-1/2,16qam-1/2 against qpsk-1/2)")
    output = parser.add_argument_group("output")
    output.add_argument("--json", type=Path, metavar="PATH", help="write the metrics as JSON here")
    parser.set_defaults(run=run)


def config_from_args(args) -> LinkConfig:
    return LinkConfig(snr_db=args.snr, cfo=args.cfo, sco_ppm=args.sco, taps=parse_taps(args.taps),
                      mcs=args.mcs, aggregation=args.aggregation,
                      tokens_per_packet=args.packet_tokens, sync_threshold=args.sync_threshold,
                      seed=args.seed, recovery=getattr(args, "text_recovery", "none"),
                      context_decoding=getattr(args, "context_decoding", "model"),
                      fading=fading_from_args(args), front_end=front_end_from_args(args),
                      uep=None if getattr(args, "uep", None) is None else parse_uep(args.uep),
                      budget=budget_from_args(args, args.seed),
                      loss=loss_model_from_args(args) if hasattr(args, "loss_model") else None)


def summary_line(report: dict) -> str:
    lat = report["latency_s"]
    return (f"snr {report['snr_db']:.1f} dB | packets {report['packets_received']}/"
            f"{report['packets_sent']} (PER {report['packet_error_rate']:.3f}) | tokens "
            f"{report['tokens_sent']} (TER {report['token_error_rate']:.3f}) | "
            f"{report['channel_uses']} channel uses | exact {report['exact']} | "
            f"{_redecoded(report)}{_recovered_by(report)}"
            f"encode {lat['encode'] * 1e3:.0f} ms, phy {lat['phy'] * 1e3:.0f} ms, "
            f"decode {lat['decode'] * 1e3:.0f} ms")


def _recovered_by(report: dict) -> str:
    domain = recovering_expert(report)
    return "" if domain is None else f"recovered by the {domain} expert | "


def _redecoded(report: dict) -> str:
    decoding = report.get("context_decoding")
    if not decoding or not decoding["candidates"]:
        return ""
    return f"re-decoded {decoding['recovered']}/{decoding['candidates']} failed packets | "


def run(args) -> int:
    if args.image is not None:
        return run_image_loopback_from_args(args, config_from_args(args))
    report = run_text_loopback(text_from_args(args), config_from_args(args))
    print(report["received_text"])
    print(summary_line(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0
