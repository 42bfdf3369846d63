"""A token budget: the sender puts only a share ``alpha`` of a frame's tokens on the air.

Adaptive token selection (Devoto et al., Globecom-W 2024; arXiv 2505.17604)
sends the most useful tokens when bandwidth is short. Here the sender ranks
the frame's positions (by the receiver's context model, see
:mod:`tokencom_sdr.context.token_importance`, or at random as a control),
keeps the top ``ceil(alpha * n)`` and packs only those.

The receiver is not told ``alpha``: every packet header still names the whole
frame's shape, so the positions that no packet carries are erasures, exactly
like the positions of a lost packet, and context recovery fills them. To keep
the signalling cheap the kept positions are grouped like interleaving does:
packet ``j`` of ``P = ceil(k / T)`` carries the kept members of the
progression ``j, j + P, j + 2P, ...``, described by a
:class:`~tokencom_sdr.link.positions.MaskedPositions` block (one bit per
member, ``n`` bits for the whole frame, instead of 32 bits per kept token in
an explicit list). A residue class with no kept member makes no packet.
"""

from __future__ import annotations

import math
from typing import List, Optional

import numpy as np

from .aggregation import Aggregation, FixedGrouping
from .packet import header_size
from .positions import (MAX_TOKENS_PER_PACKET, ArithmeticPositions, MaskedPositions,
                        PositionBlock, describe_positions)

__all__ = ["BUDGET_ORDERS", "IMAGE_RANKINGS", "check_budget", "parse_budget", "budget_size",
           "budget_positions", "BudgetedAggregation"]

#: How the sender ranks positions: by the context model, or at random (a control).
BUDGET_ORDERS = ("importance", "random")

#: How ``importance`` ranks image tokens, the default first
#: (:func:`tokencom_sdr.context.token_importance.image_budget_importance`).
IMAGE_RANKINGS = ("checkerboard", "greedy")


def check_budget(alpha) -> float:
    """``alpha`` as a float in ``(0, 1]``, or a one-line ``ValueError``."""
    if isinstance(alpha, bool):
        raise ValueError(f"--budget must be a number in (0, 1], got {alpha!r}")
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"--budget must be a number in (0, 1], got {alpha!r}") from None
    if not (0.0 < value <= 1.0):  # also refuses NaN
        raise ValueError(f"--budget must be in (0, 1] (the share of tokens sent), got {alpha!r}")
    return value


def parse_budget(text: str) -> float:
    """argparse ``type`` for ``--budget``: a one-line error for anything outside ``(0, 1]``."""
    import argparse
    try:
        return check_budget(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def budget_size(n_tokens: int, alpha: float) -> int:
    """Tokens sent out of ``n_tokens`` under budget ``alpha``: ``ceil(alpha * n)``, at least 1."""
    alpha = check_budget(alpha)
    if n_tokens <= 0:
        return 0
    # The small tolerance keeps e.g. 0.3 * 10 from rounding up to 4.
    return max(1, min(n_tokens, math.ceil(alpha * n_tokens - 1e-9)))


def budget_positions(n_tokens: int, alpha: float, order: str = "importance",
                     importance: Optional[np.ndarray] = None,
                     rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """The positions the sender keeps.

    Parameters
    ----------
    n_tokens : int
        Tokens in the frame.
    alpha : float
        Share to send, ``(0, 1]``.
    order : str
        ``importance`` (the highest ``importance`` first; ties go to the
        earlier position) or ``random``.
    importance : np.ndarray, shape ``(n_tokens,)``, float, optional
        Required for ``importance``.
    rng : np.random.Generator, optional
        For ``random`` (default: seeded with 0).

    Returns
    -------
    np.ndarray, shape ``(budget_size(n_tokens, alpha),)``, dtype ``int64``
        Kept positions, ascending.
    """
    k = budget_size(n_tokens, alpha)
    if order == "importance":
        if importance is None:
            raise ValueError("an importance budget needs the tokens' importance")
        importance = np.asarray(importance, dtype=np.float64).reshape(-1)
        if importance.size != n_tokens:
            raise ValueError(f"importance has {importance.size} entries for {n_tokens} tokens")
        ranked = np.argsort(-importance, kind="stable")
    elif order == "random":
        ranked = (rng or np.random.default_rng(0)).permutation(n_tokens)
    else:
        raise ValueError(f"--budget-order must be one of {', '.join(BUDGET_ORDERS)}, "
                         f"got {order!r}")
    return np.sort(ranked[:k]).astype(np.int64)


class BudgetedAggregation(FixedGrouping):
    """Packets for the kept positions of one frame; the others are not sent.

    Parameters
    ----------
    kept : array_like of int, shape ``(k,)``
        Positions to send, distinct, each below ``n_tokens``.
    n_tokens : int
        Tokens in the frame.
    tokens_per_packet : int
        ``T``: ``P = ceil(k / T)`` packets are made (fewer when a residue
        class holds no kept position). A packet may carry somewhat more or
        fewer than ``T`` tokens, as many as its class holds.

    A :class:`~tokencom_sdr.link.aggregation.FixedGrouping` whose groups
    leave the unsent positions out.
    """

    name = "budget"
    covers_frame = False

    def __init__(self, kept, n_tokens: int, tokens_per_packet: int):
        # FixedGrouping's own check wants every position placed; this one
        # places only the kept ones.
        Aggregation.__init__(self, tokens_per_packet)
        kept = np.unique(np.asarray(kept, dtype=np.int64).reshape(-1))
        self.n_tokens = int(n_tokens)
        if kept.size == 0 and self.n_tokens:
            raise ValueError("a budget must keep at least one position")
        if kept.size and (kept[0] < 0 or kept[-1] >= self.n_tokens):
            raise ValueError(f"kept positions must lie in 0..{self.n_tokens - 1}")
        self.kept = kept
        self.stride = max(1, -(-kept.size // self.tokens_per_packet))
        classes = kept % self.stride
        self.groups = [kept[classes == j] for j in range(self.stride)]
        self.groups = [g for g in self.groups if g.size]
        if any(g.size > MAX_TOKENS_PER_PACKET for g in self.groups):
            raise ValueError("a budget packet would carry more than "
                             f"{MAX_TOKENS_PER_PACKET} tokens; use more tokens per packet")

    def describe(self, n_tokens: int) -> List[PositionBlock]:
        """Each packet's positions as a masked progression, or as a plain
        progression or list where that is shorter on the wire."""
        blocks = []
        for group in self.assign(n_tokens):
            start = int(group[0] % self.stride)
            span = int((n_tokens - 1 - start) // self.stride + 1)
            compact = describe_positions(group)
            if isinstance(compact, ArithmeticPositions) or span > MAX_TOKENS_PER_PACKET:
                blocks.append(compact)
                continue
            mask = np.zeros(span, dtype=bool)
            mask[(group - start) // self.stride] = True
            masked = MaskedPositions(start, self.stride, mask)
            blocks.append(min((masked, compact), key=lambda b: header_size(1, b)))
        return blocks

    def position_bits(self) -> int:
        """Bits of position signalling beyond what plain interleaving sends:
        each packet's header over a fixed-size progression header (the
        bitmaps, or explicit lists where those are shorter). With the kept
        tokens' bits, this is what the budget costs on the link."""
        plain = header_size(1, ArithmeticPositions(0, 1, 1))
        return 8 * sum(header_size(1, block) - plain for block in self.describe(self.n_tokens))

    def bits_sent(self, bits_per_token: int) -> int:
        """What the budget puts on the link: the kept tokens' bits and :meth:`position_bits`."""
        return int(self.kept.size) * int(bits_per_token) + self.position_bits()

    def __repr__(self) -> str:
        return (f"BudgetedAggregation({self.kept.size} of {self.n_tokens} tokens, "
                f"tokens_per_packet={self.tokens_per_packet})")

