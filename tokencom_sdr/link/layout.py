"""A message's layout, read off the packets that arrived: what a receiver
knows of every packet, lost ones included, without being told by the sender.

Every packet header repeats the frame geometry (modality, tokenizer, shape,
bits per token, packet count) and names its own positions. When those
positions are what a known aggregation strategy
(:data:`~tokencom_sdr.link.aggregation.AGGREGATIONS`) puts in that packet,
the receiver also knows the headers, lengths and positions of the packets it
did not receive, which is what soft reassembly and re-decoding of CRC-failed
packets need. Content-aware strategies (explicit position lists) cannot be
inferred: :func:`infer_layout` then returns a layout without aggregation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..tokens.frame import TokenFrame
from .aggregation import AGGREGATIONS, Aggregation
from .packet import TokenPacket, encode_packet
from .packetizer import FrameGeometry, build_packets

__all__ = ["MessageLayout", "infer_layout", "expected_packets"]


@dataclass(frozen=True)
class MessageLayout:
    """Geometry and aggregation of one message.

    Attributes
    ----------
    geometry : FrameGeometry
        With ``num_packets`` set.
    aggregation : Aggregation or None
        The strategy that reproduces every received packet's positions;
        None when no known strategy does (then only received packets say
        where their tokens go).
    """

    geometry: FrameGeometry
    aggregation: Optional[Aggregation]


def _candidates(num_tokens: int, num_packets: int, packets: Sequence[TokenPacket]):
    """Aggregations that could have made ``num_packets`` packets of ``num_tokens``."""
    sizes = {-(-num_tokens // num_packets)} | {pkt.num_tokens for pkt in packets}
    for name in sorted(AGGREGATIONS):
        for size in sorted(sizes):
            if 1 <= size and -(-num_tokens // size) == num_packets:
                yield AGGREGATIONS[name](size)


def infer_layout(packets: Sequence[TokenPacket]) -> Optional[MessageLayout]:
    """The layout of a message from some of its (CRC-good) packets.

    Parameters
    ----------
    packets : sequence of TokenPacket
        Valid packets of one message, agreeing on the geometry (e.g. the
        accepted packets of :func:`~tokencom_sdr.link.depacketize`).

    Returns
    -------
    MessageLayout or None
        None when ``packets`` is empty.
    """
    if not packets:
        return None
    first = packets[0]
    geometry = FrameGeometry(first.modality, first.frame_shape, first.bits_per_token,
                             first.num_packets, first.tokenizer)
    n = geometry.num_tokens
    for aggregation in _candidates(n, geometry.num_packets, packets):
        blocks = aggregation.describe(n)
        if len(blocks) == geometry.num_packets and all(
                pkt.seq < len(blocks) and blocks[pkt.seq] == pkt.positions for pkt in packets):
            return MessageLayout(geometry, aggregation)
    return MessageLayout(geometry, None)


def expected_packets(layout: MessageLayout, message_id: int
                     ) -> List[Tuple[bytes, int, np.ndarray]]:
    """What the receiver knows in advance about every packet of a message.

    Parameters
    ----------
    layout : MessageLayout
        With an aggregation.
    message_id : int

    Returns
    -------
    list of (bytes, int, np.ndarray), one per sequence number
        The encoded bytes of the packet with every token id 0 (its header
        and length are the real ones: they do not depend on the token
        values), its header length in bytes, and the frame positions it
        carries in payload order (``(k,)`` int64).
    """
    if layout.aggregation is None:
        raise ValueError("the packets' positions follow no known aggregation; the headers "
                         "of missing packets cannot be known")
    geometry = layout.geometry
    dummy = TokenFrame(np.zeros(geometry.num_tokens, dtype=np.int64), geometry.modality,
                       geometry.shape, geometry.bits_per_token, tokenizer=geometry.tokenizer)
    return [(encode_packet(pkt), pkt.header_nbytes, pkt.position_array())
            for pkt in build_packets(dummy, message_id, layout.aggregation)]
