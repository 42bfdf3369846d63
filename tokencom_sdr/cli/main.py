"""Entry point of the ``tokencom`` command."""

import argparse
from typing import List, Optional

from .. import __version__
from .command import run_parsed
from . import (aggregation_eval, caption_eval, data, demo, erasure_eval, grc_check, loopback,
               loss_trace, models, per_sweep, rx, text_erasure_eval, text_eval, todma, train, tx)
from . import bits_eval, report, sweep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokencom",
        description="TokenCom-SDR: large-model tokens as the unit of transmission over a real "
                    "GNU Radio OFDM link.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    demo.add_parser(subparsers)
    loopback.add_parser(subparsers)
    per_sweep.add_parser(subparsers)
    sweep.add_parser(subparsers)
    report.add_parser(subparsers)
    train.add_parser(subparsers)
    erasure_eval.add_parser(subparsers)
    caption_eval.add_parser(subparsers)
    loss_trace.add_parser(subparsers)
    aggregation_eval.add_parser(subparsers)
    text_erasure_eval.add_parser(subparsers)
    bits_eval.add_parser(subparsers)
    tx.add_parser(subparsers)
    rx.add_parser(subparsers)
    text_eval.add_parser(subparsers)
    todma.add_parser(subparsers)
    grc_check.add_parser(subparsers)
    data.add_parser(subparsers)
    models.add_parser(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    return run_parsed(build_parser(), argv)
