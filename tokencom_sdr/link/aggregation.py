"""Aggregation: which tokens of a frame travel together in one packet.

A strategy maps a frame of ``n`` tokens to ``P`` packets. Every position goes
to exactly one packet. Packet loss then erases whole groups, so the choice of
groups decides which positions a lost packet takes away:

* :class:`SequentialAggregation`: packet ``k`` carries the run
  ``k*T .. k*T+T-1``. A lost packet erases a contiguous block of the frame.
* :class:`InterleavedAggregation` (Token Communications, Qiao et al.): token
  ``i`` goes to packet ``i mod P`` with ``P = ceil(n / T)``, so packet ``k``
  carries ``k, k+P, k+2P, ...``. A lost packet erases isolated tokens spread
  over the whole frame, and a burst of ``B < P`` consecutive lost packets
  erases runs of at most ``B`` neighbouring tokens, which a context model can
  fill from the intact tokens around them.

Both produce arithmetic progressions, so their headers use the compact
position block. Content-aware strategies (semantic packet aggregation,
:mod:`.semantic_aggregation`) look at the tokens first:
:meth:`Aggregation.for_frame` returns the grouping chosen for one frame as a
:class:`FixedGrouping`, and :meth:`describe` falls back to explicit position
lists where the groups are not progressions. The receiver needs nothing from
the sender: the headers carry the positions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Dict, List, Sequence, Type

import numpy as np

from .positions import MAX_TOKENS_PER_PACKET, PositionBlock, describe_positions


class Aggregation(ABC):
    """Base class of aggregation strategies.

    Parameters
    ----------
    tokens_per_packet : int
        Most tokens one packet carries, ``T``, ``1..65535``.
    """

    #: Name used by :func:`make_aggregation`.
    name: str = ""
    #: Whether every position of the frame goes in some packet (a token
    #: budget, :mod:`.budget`, leaves some out on purpose).
    covers_frame: bool = True

    def __init__(self, tokens_per_packet: int):
        if isinstance(tokens_per_packet, bool) or not isinstance(
                tokens_per_packet, (int, np.integer)):
            raise TypeError(
                f"tokens_per_packet must be an int, got {type(tokens_per_packet).__name__}")
        if not 1 <= tokens_per_packet <= MAX_TOKENS_PER_PACKET:
            raise ValueError(
                f"tokens_per_packet must be 1..{MAX_TOKENS_PER_PACKET} (the header's "
                f"count field is uint16), got {tokens_per_packet}")
        self.tokens_per_packet = int(tokens_per_packet)

    def num_packets(self, n_tokens: int) -> int:
        """Packets needed for ``n_tokens`` tokens: ``ceil(n_tokens / T)``."""
        _check_n_tokens(n_tokens)
        return -(-n_tokens // self.tokens_per_packet)

    @abstractmethod
    def assign(self, n_tokens: int) -> List[np.ndarray]:
        """Positions carried by each packet.

        Parameters
        ----------
        n_tokens : int
            Tokens in the frame, ``n >= 0``.

        Returns
        -------
        list of np.ndarray, each of shape ``(k_p,)`` and dtype ``int64``
            Entry ``p`` lists, in payload order, the frame positions packet
            ``p`` carries. Every position in ``0..n-1`` appears exactly once
            over all packets; each ``1 <= k_p <= T``. Empty for ``n == 0``.
        """

    def for_frame(self, frame) -> "Aggregation":
        """The aggregation to use for one frame.

        Content-unaware strategies return themselves; content-aware ones
        search a grouping for ``frame``'s tokens and return it as a
        :class:`FixedGrouping`.

        Parameters
        ----------
        frame : TokenFrame
            The frame about to be packetized.
        """
        return self

    def describe(self, n_tokens: int) -> List[PositionBlock]:
        """Header position blocks of each packet, as compact as possible.

        Parameters
        ----------
        n_tokens : int
            Tokens in the frame, ``n >= 0``.

        Returns
        -------
        list of ArithmeticPositions or ExplicitPositions
            Entry ``p`` describes ``assign(n_tokens)[p]``.
        """
        return [describe_positions(group) for group in self.assign(n_tokens)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tokens_per_packet={self.tokens_per_packet})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.tokens_per_packet == other.tokens_per_packet

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.tokens_per_packet))


class SequentialAggregation(Aggregation):
    """Packet ``k`` carries positions ``k*T .. min(k*T + T, n) - 1``."""

    name = "sequential"

    def assign(self, n_tokens: int) -> List[np.ndarray]:
        _check_n_tokens(n_tokens)
        starts = range(0, n_tokens, self.tokens_per_packet)
        return [np.arange(start, min(start + self.tokens_per_packet, n_tokens),
                          dtype=np.int64) for start in starts]


class InterleavedAggregation(Aggregation):
    """Token ``i`` goes to packet ``i mod P``, ``P = ceil(n / T)``.

    Packet ``k`` carries ``k, k+P, k+2P, ...``: ``ceil(n / P)`` or one fewer
    tokens, never more than ``T``.
    """

    name = "interleaved"

    def assign(self, n_tokens: int) -> List[np.ndarray]:
        num_packets = self.num_packets(n_tokens)
        return [np.arange(k, n_tokens, num_packets, dtype=np.int64)
                for k in range(num_packets)]


class FixedGrouping(Aggregation):
    """A grouping chosen for one frame: packet ``p`` carries ``groups[p]``.

    Parameters
    ----------
    groups : sequence of array_like of int
        Positions per packet; together they must cover ``0..n-1`` exactly
        once, each group ``1..tokens_per_packet`` long. Each group is sent in
        ascending position order.
    tokens_per_packet : int
        The ``T`` the groups were built for: no group is longer. There may
        be more than ``ceil(n / T)`` groups (unequal protection packs each
        protection class on its own).
    """

    name = "fixed"

    def __init__(self, groups: Sequence, tokens_per_packet: int):
        super().__init__(tokens_per_packet)
        self.groups = [np.sort(np.asarray(g, dtype=np.int64).reshape(-1)) for g in groups]
        self.n_tokens = int(sum(g.size for g in self.groups))
        sizes = [g.size for g in self.groups]
        if any(not 1 <= k <= self.tokens_per_packet for k in sizes):
            raise ValueError(f"every group must hold 1..{self.tokens_per_packet} positions, "
                             f"got sizes {sizes}")
        everything = np.concatenate(self.groups) if self.groups else np.zeros(0, np.int64)
        if everything.size and (everything.min() < 0 or np.bincount(
                everything).max() != 1 or everything.max() != self.n_tokens - 1):
            raise ValueError("the groups must cover positions 0..n-1 exactly once")

    def num_packets(self, n_tokens: int) -> int:
        self._check_tokens(n_tokens)
        return len(self.groups)

    def assign(self, n_tokens: int) -> List[np.ndarray]:
        self._check_tokens(n_tokens)
        return [g.copy() for g in self.groups]

    def _check_tokens(self, n_tokens: int) -> None:
        if n_tokens != self.n_tokens:
            raise ValueError(f"this grouping was chosen for {self.n_tokens} tokens, "
                             f"not {n_tokens}")

    def __eq__(self, other) -> bool:
        return (type(self) is type(other) and self.tokens_per_packet == other.tokens_per_packet
                and len(self.groups) == len(other.groups)
                and all(np.array_equal(a, b) for a, b in zip(self.groups, other.groups)))

    def __hash__(self) -> int:
        return hash((self.name, self.tokens_per_packet, tuple(map(tuple, self.groups))))


#: Strategies known to :func:`make_aggregation`, by name.
AGGREGATIONS: Dict[str, Type[Aggregation]] = {
    cls.name: cls for cls in (SequentialAggregation, InterleavedAggregation)
}


def make_aggregation(name: str, tokens_per_packet: int) -> Aggregation:
    """Build an aggregation strategy by name.

    Parameters
    ----------
    name : str
        ``"sequential"`` or ``"interleaved"`` (case-insensitive).
    tokens_per_packet : int
        Most tokens per packet, ``1..65535``.

    Returns
    -------
    Aggregation
    """
    try:
        cls = AGGREGATIONS[str(name).strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown aggregation {name!r}; known: {sorted(AGGREGATIONS)}") from None
    return cls(tokens_per_packet)


def _check_n_tokens(n_tokens: int) -> None:
    if n_tokens < 0:
        raise ValueError(f"n_tokens must be >= 0, got {n_tokens}")
