"""``--budget`` and ``--budget-order``: send only the top share of a message's tokens.

Shared by ``loopback``, ``tx``, ``erasure-eval`` and ``text-erasure-eval``.
The value is checked when the command runs (not by argparse), so a bad one
is a single ``tokencom: error: ...`` line.
"""

from __future__ import annotations

import argparse
from typing import Optional

from ..link.budget import BUDGET_ORDERS, IMAGE_RANKINGS


def add_budget_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("token budget")
    group.add_argument(
        "--budget", metavar="ALPHA", default=None,
        help="send only the share ALPHA (0 < ALPHA <= 1) of the message's tokens; their "
             "positions travel in the packet headers and the receiver fills the rest by "
             "context recovery, without being told ALPHA; none: every token")
    group.add_argument(
        "--budget-order", choices=BUDGET_ORDERS, default="importance",
        help="which tokens a --budget keeps: importance (those the receiver's context model "
             "would restore worst) or random (a control)")
    group.add_argument(
        "--budget-image-ranking", choices=IMAGE_RANKINGS, default=IMAGE_RANKINGS[0],
        help="how an importance budget ranks image tokens: checkerboard (rounds of two "
             "context-model passes, each hiding one colour of a checkerboard; one round down "
             "to ALPHA 0.6; default) or greedy (8 rounds of 4 passes: 0.1-0.3 dB better on "
             "photographs, 20-40 times slower)")


def budget_from_args(args, seed: int = 0) -> Optional[object]:
    """The :class:`~tokencom_sdr.app.token_budget.TokenBudget` of ``--budget``, or None."""
    from ..app.token_budget import TokenBudget

    if getattr(args, "budget", None) is None:
        return None
    return TokenBudget(args.budget, args.budget_order, seed, args.budget_image_ranking)
