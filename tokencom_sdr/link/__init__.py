"""Link layer: token frames to CRC-protected packets and back.

* :mod:`.packet`: :class:`TokenPacket` and its wire format
  (:func:`encode_packet`, :func:`parse_packet`).
* :mod:`.positions`: how a header names the frame positions a packet carries.
* :mod:`.aggregation`: which tokens share a packet (sequential, interleaved).
* :mod:`.budget`: a token budget, only the top share of a frame's tokens sent.
* :mod:`.packetizer`: :func:`packetize` a frame; :func:`depacketize` what
  arrived into a frame with erasures and statistics.
* :mod:`.errors`: one exception per way a packet can be malformed.
* :mod:`.layout`: a message's geometry and aggregation, read off its headers.
* :mod:`.receiver`: the receiver library (messages, soft reassembly,
  re-decoding, context recovery); import it as ``tokencom_sdr.link.receiver``.
"""

from .aggregation import (
    AGGREGATIONS,
    Aggregation,
    InterleavedAggregation,
    SequentialAggregation,
    make_aggregation,
)
from .errors import (
    BadMagicError,
    CRCMismatchError,
    HeaderFieldError,
    NonzeroPaddingError,
    PacketError,
    PacketTooShortError,
    PayloadLengthError,
    ReassemblyError,
    TrailingBytesError,
    UnsupportedVersionError,
)
from .packet import (
    MAGIC,
    MIN_PACKET_SIZE,
    VERSION,
    TokenPacket,
    encode_packet,
    header_size,
    parse_packet,
)
from .packetizer import (
    FrameGeometry,
    ReassemblyResult,
    ReassemblyStats,
    RejectedPacket,
    build_packets,
    depacketize,
    packetize,
)
from .layout import MessageLayout, expected_packets, infer_layout
from .positions import ArithmeticPositions, ExplicitPositions, MaskedPositions, describe_positions
from .budget import (BUDGET_ORDERS, IMAGE_RANKINGS, BudgetedAggregation, budget_positions,
                     budget_size, check_budget)

__all__ = [
    "AGGREGATIONS", "Aggregation", "InterleavedAggregation", "SequentialAggregation",
    "make_aggregation",
    "BadMagicError", "CRCMismatchError", "HeaderFieldError", "NonzeroPaddingError",
    "PacketError", "PacketTooShortError", "PayloadLengthError", "ReassemblyError",
    "TrailingBytesError", "UnsupportedVersionError",
    "MAGIC", "MIN_PACKET_SIZE", "VERSION", "TokenPacket", "encode_packet", "header_size",
    "parse_packet",
    "FrameGeometry", "ReassemblyResult", "ReassemblyStats", "RejectedPacket",
    "build_packets", "depacketize", "packetize",
    "ArithmeticPositions", "ExplicitPositions", "MaskedPositions", "describe_positions",
    "BUDGET_ORDERS", "IMAGE_RANKINGS", "BudgetedAggregation", "budget_positions", "budget_size",
    "check_budget",
    "MessageLayout", "infer_layout", "expected_packets",
]
