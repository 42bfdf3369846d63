"""Packet-loss options that several subcommands share."""

from __future__ import annotations

import argparse
from typing import Optional

from ..channel.loss_models import LOSS_MODEL_NAMES, MarkovLossModel


def add_loss_model_options(parser: argparse.ArgumentParser, default: str = "iid") -> None:
    """``--loss-model NAME [--burst B]`` of the packet-erasure experiments (their own
    ``--loss`` gives the rate)."""
    group = parser.add_argument_group("packet loss")
    group.add_argument("--loss-model", choices=LOSS_MODEL_NAMES, default=default,
                       help="i.i.d. loss, the simple Gilbert model (--loss and --burst), or "
                            "Yajnik et al.'s 3-state traces EP1-EP6 (their published loss rate "
                            "and burst length; --loss is then ignored)")
    group.add_argument("--burst", type=float, default=None, metavar="B",
                       help="gilbert: mean burst length in packets")


def add_link_loss_options(parser: argparse.ArgumentParser) -> None:
    """``--loss-model/--loss/--burst``: packets lost after the radio, on a loopback."""
    group = parser.add_argument_group(
        "packet loss after the radio",
        "A seeded trace drops whole packets whatever the PHY made of them (a congested hop); "
        "their air time still counts.")
    group.add_argument("--loss-model", choices=("none",) + LOSS_MODEL_NAMES, default="none",
                       help="none, iid (--loss), gilbert (--loss, --burst) or ep1..ep6")
    group.add_argument("--loss", type=float, default=None, metavar="P",
                       help="iid and gilbert: loss rate")
    group.add_argument("--burst", type=float, default=None, metavar="B",
                       help="gilbert: mean burst length in packets")


def loss_model_from_args(args) -> Optional[MarkovLossModel]:
    """The model of :func:`add_link_loss_options`, or None."""
    from ..channel.loss_models import make_loss_model

    if args.loss_model == "none":
        if args.loss is not None or args.burst is not None:
            raise ValueError("--loss and --burst need --loss-model iid or gilbert")
        return None
    return make_loss_model(args.loss_model, args.loss, args.burst)
