"""From a token frame to packets and back, with erasures where packets are lost.

Transmitter: :func:`packetize` splits a :class:`~tokencom_sdr.tokens.frame.TokenFrame`
into encoded packets with an :class:`~tokencom_sdr.link.aggregation.Aggregation`.

Receiver: :func:`depacketize` takes whatever arrived (bytes straight from the
PHY, or already parsed :class:`~tokencom_sdr.link.packet.TokenPacket` objects)
and rebuilds the frame. Positions that no accepted packet carried are marked
erased (id 0): exactly the positions of the packets that were lost or
rejected, since the packets of a frame partition its positions. Nothing that
arrives can make it raise a packet error or put an untrusted id in the frame:

* bytes that do not parse (CRC failure, bad field, ...) are rejected as
  ``"malformed"`` with the parser's exception as the reason;
* packets of another message id are ignored and counted as foreign;
* packets whose geometry (modality, shape, bits per token, packet count)
  disagrees with the frame's are rejected as ``"conflict"``;
* identical copies of one sequence number are counted as duplicates and used
  once; copies that differ are all rejected as ``"conflict"``;
* packets that claim a position another packet also claims are all rejected
  as ``"conflict"``;
* packets describing a frame larger than ``max_frame_tokens`` are rejected as
  ``"oversized"`` (a header with a valid CRC could otherwise ask for a huge
  allocation).

The frame's geometry comes from the packets themselves (every header repeats
it). When no usable packet arrived at all, it can only come from the caller:
pass ``expected`` (a :class:`FrameGeometry`, or a template ``TokenFrame``),
otherwise :class:`~tokencom_sdr.link.errors.ReassemblyError` is raised. When
``expected`` is given it is authoritative: packets that disagree with it are
conflicts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..tokens.frame import Modality, TokenFrame
from .aggregation import Aggregation
from .errors import PacketError, ReassemblyError
from .packet import (
    MAX_BITS_PER_TOKEN,
    MAX_MESSAGE_ID,
    MAX_PACKETS_PER_MESSAGE,
    TokenPacket,
    encode_packet,
    parse_packet,
)

#: Default cap on the frame size a received packet may announce.
DEFAULT_MAX_FRAME_TOKENS = 1 << 24

#: Values of :attr:`RejectedPacket.kind`.
MALFORMED = "malformed"
CONFLICT = "conflict"
OVERSIZED = "oversized"


@dataclass(frozen=True)
class FrameGeometry:
    """What the receiver must know to size a frame when no packet arrived.

    Parameters
    ----------
    modality : Modality
    shape : tuple of int
        ``(n,)`` for text, ``(rows, cols)`` for an image.
    bits_per_token : int
        ``1..32``.
    num_packets : int or None
        Packets the frame was sent in, if known; lets the receiver report
        which sequence numbers were lost even when none arrived.
    tokenizer : int
        Wire id of the tokenizer (:mod:`tokencom_sdr.tokens.registry`).
    """

    modality: Modality
    shape: Tuple[int, ...]
    bits_per_token: int
    num_packets: Optional[int] = None
    tokenizer: int = 0

    def __post_init__(self):
        object.__setattr__(self, "modality", Modality(self.modality))
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if any(d < 0 for d in self.shape):
            raise ValueError(f"shape dims must be >= 0, got {self.shape}")
        if not 1 <= self.bits_per_token <= MAX_BITS_PER_TOKEN:
            raise ValueError(
                f"bits_per_token must be 1..{MAX_BITS_PER_TOKEN}, got {self.bits_per_token}")
        if self.num_packets is not None and not 0 <= self.num_packets <= MAX_PACKETS_PER_MESSAGE:
            raise ValueError(
                f"num_packets must be 0..{MAX_PACKETS_PER_MESSAGE} or None, "
                f"got {self.num_packets}")

    @property
    def num_tokens(self) -> int:
        """Tokens in the frame, ``prod(shape)``."""
        return int(np.prod(self.shape, dtype=np.int64))

    @classmethod
    def from_frame(cls, frame: TokenFrame,
                   aggregation: Optional[Aggregation] = None) -> "FrameGeometry":
        """Geometry of a template frame; with ``aggregation``, also its packet count."""
        num_packets = None if aggregation is None else aggregation.num_packets(len(frame))
        return cls(frame.modality, frame.shape, frame.bits_per_token, num_packets,
                   frame.tokenizer)


@dataclass(frozen=True)
class RejectedPacket:
    """One input that was not used, and why.

    Attributes
    ----------
    index : int
        Position of the packet in the input iterable.
    kind : str
        ``"malformed"`` (did not parse), ``"conflict"`` (valid but inconsistent
        with the frame or other packets) or ``"oversized"``.
    reason : str
        Human-readable cause.
    error : PacketError or None
        The parser's exception, for malformed packets.
    seq : int or None
        The packet's sequence number, when it parsed.
    """

    index: int
    kind: str
    reason: str
    error: Optional[PacketError] = None
    seq: Optional[int] = None


@dataclass(frozen=True)
class ReassemblyStats:
    """What happened to the packets of one message.

    Attributes
    ----------
    packets_expected : int or None
        Packet count of the message (from the headers or ``expected``); None
        if unknown.
    received_seqs : tuple of int
        Sequence numbers whose packet was accepted, ascending.
    lost_seqs : tuple of int or None
        Sequence numbers with no accepted packet (lost on the channel, or
        rejected), ascending; None if the packet count is unknown.
    rejected : tuple of RejectedPacket
        Inputs not used, in input order.
    foreign_packets : int
        Valid packets of other message ids, ignored.
    duplicate_packets : int
        Extra identical copies of an accepted packet, ignored.
    tokens_erased : int
        Positions of the rebuilt frame marked erased.
    """

    packets_expected: Optional[int]
    received_seqs: Tuple[int, ...]
    lost_seqs: Optional[Tuple[int, ...]]
    rejected: Tuple[RejectedPacket, ...]
    foreign_packets: int
    duplicate_packets: int
    tokens_erased: int

    @property
    def packets_received(self) -> int:
        """Distinct sequence numbers accepted."""
        return len(self.received_seqs)

    @property
    def packets_lost(self) -> Optional[int]:
        """Sequence numbers with no accepted packet; None if the count is unknown."""
        return None if self.lost_seqs is None else len(self.lost_seqs)

    @property
    def num_malformed(self) -> int:
        """Inputs that did not parse."""
        return sum(r.kind == MALFORMED for r in self.rejected)

    @property
    def num_conflicts(self) -> int:
        """Valid packets rejected as inconsistent."""
        return sum(r.kind == CONFLICT for r in self.rejected)


@dataclass(frozen=True)
class ReassemblyResult:
    """Output of :func:`depacketize`.

    Attributes
    ----------
    frame : TokenFrame
        The rebuilt frame; ``frame.erased`` marks the positions no accepted
        packet carried, whose ids are 0.
    message_id : int or None
        Message the frame was rebuilt for (None if no packet identified it).
    stats : ReassemblyStats
    """

    frame: TokenFrame
    message_id: Optional[int]
    stats: ReassemblyStats


PacketLike = Union[bytes, bytearray, memoryview, np.ndarray, TokenPacket]


def build_packets(frame: TokenFrame, message_id: int,
                  aggregation: Aggregation) -> List[TokenPacket]:
    """Split a frame into packets (not yet encoded).

    Parameters
    ----------
    frame : TokenFrame
        Frame to send; no position may be erased. Its shape must suit its
        modality (``(n,)`` text, ``(rows, cols)`` image).
    message_id : int
        ``0..65535``; the receiver uses it to keep messages apart.
    aggregation : Aggregation
        Decides which positions share a packet.

    Returns
    -------
    list of TokenPacket
        Packet ``p`` has ``seq == p``. Empty if the frame has no tokens (the
        receiver then needs ``expected`` to size it).
    """
    if not isinstance(frame, TokenFrame):
        raise TypeError(f"expected a TokenFrame, got {type(frame).__name__}")
    if not 0 <= message_id <= MAX_MESSAGE_ID:
        raise ValueError(f"message_id must be 0..{MAX_MESSAGE_ID}, got {message_id}")
    if frame.erased.any():
        # An erased position holds no real token; sending its placeholder id
        # would make the receiver trust it.
        raise ValueError(
            f"cannot send a frame with {frame.num_erased} erased position(s)")
    aggregation = aggregation.for_frame(frame)
    blocks = aggregation.describe(len(frame))
    if len(blocks) > MAX_PACKETS_PER_MESSAGE:
        raise ValueError(
            f"{len(blocks)} packets exceed the {MAX_PACKETS_PER_MESSAGE} a message can "
            f"hold; use more tokens per packet")
    groups = [block.to_array() for block in blocks]
    _check_partition(groups, len(frame), aggregation)
    return [TokenPacket(message_id=message_id, seq=seq, num_packets=len(blocks),
                        modality=frame.modality, frame_shape=frame.shape,
                        bits_per_token=frame.bits_per_token, positions=block,
                        token_ids=frame.ids[group], tokenizer=frame.tokenizer)
            for seq, (block, group) in enumerate(zip(blocks, groups))]


def packetize(frame: TokenFrame, message_id: int, aggregation: Aggregation) -> List[bytes]:
    """Split a frame into encoded packets, ready for the PHY.

    Parameters are those of :func:`build_packets`.

    Returns
    -------
    list of bytes
        Encoded packet ``p`` has ``seq == p``.
    """
    return [encode_packet(pkt) for pkt in build_packets(frame, message_id, aggregation)]


def _check_partition(groups: Sequence[np.ndarray], n_tokens: int,
                     aggregation: Aggregation) -> None:
    """Raise ``ValueError`` unless ``groups`` cover ``0..n-1`` exactly once
    (at most once, for an aggregation that leaves positions out on purpose)."""
    if not aggregation.covers_frame:
        everything = np.concatenate(groups) if groups else np.zeros(0, np.int64)
        if everything.size and (everything.min() < 0 or everything.max() >= n_tokens
                                or np.bincount(everything).max() != 1):
            raise ValueError(f"{aggregation!r} places a position twice or outside the "
                             f"{n_tokens}-token frame")
        return
    if not groups:
        if n_tokens:
            raise ValueError(f"{aggregation!r} made no packets for {n_tokens} tokens")
        return
    everything = np.concatenate(groups)
    if (everything.size != n_tokens or everything.min() < 0 or everything.max() >= n_tokens
            or np.bincount(everything, minlength=n_tokens).max() != 1):
        raise ValueError(
            f"{aggregation!r} does not place each of the {n_tokens} positions in "
            f"exactly one packet")


def depacketize(packets: Iterable[PacketLike], message_id: Optional[int] = None,
                expected: Optional[Union[FrameGeometry, TokenFrame]] = None, *,
                max_frame_tokens: int = DEFAULT_MAX_FRAME_TOKENS) -> ReassemblyResult:
    """Rebuild a frame from the packets that arrived, erasing what is missing.

    Parameters
    ----------
    packets : iterable of bytes-like or TokenPacket
        What arrived, in any order, possibly with corrupt, duplicate or
        foreign packets among them.
    message_id : int or None
        Message to rebuild. None: the id carried by the most valid packets
        (ties go to the one that arrived first).
    expected : FrameGeometry or TokenFrame or None
        Geometry of the frame. Required when no usable packet may arrive;
        when given, packets that disagree with it are rejected. A template
        ``TokenFrame`` gives modality, shape and bits but no packet count.
    max_frame_tokens : int
        Largest frame a packet may announce before it is rejected as
        ``"oversized"``.

    Returns
    -------
    ReassemblyResult
        ``frame.ids`` has shape ``(prod(shape),)`` and dtype ``int64``, 0
        where ``frame.erased`` is True.

    Raises
    ------
    ReassemblyError
        No usable packet arrived and ``expected`` was not given. Its
        ``stats`` attribute still accounts for the rejected inputs.
    TypeError
        An input is neither bytes-like nor a TokenPacket.
    """
    if message_id is not None and not 0 <= message_id <= MAX_MESSAGE_ID:
        raise ValueError(f"message_id must be 0..{MAX_MESSAGE_ID} or None, got {message_id}")
    if isinstance(expected, TokenFrame):
        expected = FrameGeometry.from_frame(expected)
    elif expected is not None and not isinstance(expected, FrameGeometry):
        raise TypeError(
            f"expected must be a FrameGeometry or TokenFrame, got {type(expected).__name__}")

    rejected: List[RejectedPacket] = []
    valid = _parse_all(packets, max_frame_tokens, rejected)

    if message_id is None and valid:
        message_id = _most_common([pkt.message_id for _, pkt in valid])
    ours = [(i, pkt) for i, pkt in valid if pkt.message_id == message_id]
    foreign = len(valid) - len(ours)

    geometry = _choose_geometry(ours, expected)
    if geometry is None:
        stats = ReassemblyStats(None, (), None, _by_index(rejected), foreign, 0, 0)
        raise ReassemblyError(
            "no usable packet arrived" + ("" if message_id is None else
                                          f" for message {message_id}")
            + "; pass expected=FrameGeometry(...) to size the frame", stats)

    consistent = []
    for index, pkt in ours:
        mismatch = _geometry_mismatch(pkt, geometry)
        if mismatch:
            rejected.append(RejectedPacket(index, CONFLICT, mismatch, seq=pkt.seq))
        else:
            consistent.append((index, pkt))

    unique, duplicates = _drop_duplicates(consistent, rejected)
    accepted = _drop_overlaps(unique, geometry.num_tokens, rejected)

    ids = np.zeros(geometry.num_tokens, dtype=np.int64)
    erased = np.ones(geometry.num_tokens, dtype=bool)
    for _, pkt in accepted:
        positions = pkt.position_array()
        ids[positions] = pkt.token_ids
        erased[positions] = False
    frame = TokenFrame(ids=ids, modality=geometry.modality, shape=geometry.shape,
                       bits_per_token=geometry.bits_per_token, erased=erased,
                       tokenizer=geometry.tokenizer)

    received = tuple(sorted(pkt.seq for _, pkt in accepted))
    lost = None
    if geometry.num_packets is not None:
        lost = tuple(sorted(set(range(geometry.num_packets)) - set(received)))
    stats = ReassemblyStats(packets_expected=geometry.num_packets, received_seqs=received,
                            lost_seqs=lost, rejected=_by_index(rejected),
                            foreign_packets=foreign, duplicate_packets=duplicates,
                            tokens_erased=int(erased.sum()))
    return ReassemblyResult(frame=frame, message_id=message_id, stats=stats)


def _parse_all(packets: Iterable[PacketLike], max_frame_tokens: int,
               rejected: List[RejectedPacket]) -> List[Tuple[int, TokenPacket]]:
    """Parse every input; record the ones that fail in ``rejected``."""
    valid = []
    for index, item in enumerate(packets):
        try:
            if isinstance(item, TokenPacket):
                item.validate()  # its arrays may have been changed since construction
                pkt = item
            elif isinstance(item, (bytes, bytearray, memoryview, np.ndarray)):
                pkt = parse_packet(item)
            else:
                raise TypeError(
                    f"packet {index} is a {type(item).__name__}, not bytes or a TokenPacket")
        except PacketError as error:
            rejected.append(RejectedPacket(index, MALFORMED, str(error), error=error))
            continue
        if pkt.frame_size > max_frame_tokens:
            rejected.append(RejectedPacket(
                index, OVERSIZED, f"announces a frame of {pkt.frame_size} tokens, more "
                f"than max_frame_tokens={max_frame_tokens}", seq=pkt.seq))
            continue
        valid.append((index, pkt))
    return valid


def _geometry_key(pkt: TokenPacket) -> tuple:
    """The fields of ``FrameGeometry``, in its order."""
    return (pkt.modality, pkt.frame_shape, pkt.bits_per_token, pkt.num_packets, pkt.tokenizer)


def _choose_geometry(ours: List[Tuple[int, TokenPacket]],
                     expected: Optional[FrameGeometry]) -> Optional[FrameGeometry]:
    """The frame geometry: ``expected`` if given (its packet count completed
    from the packets that agree with it), else the one most packets carry."""
    if expected is not None:
        if expected.num_packets is not None:
            return expected
        agreeing = [pkt.num_packets for _, pkt in ours
                    if _geometry_key(pkt)[:3] == (expected.modality, expected.shape,
                                                  expected.bits_per_token)
                    and pkt.tokenizer == expected.tokenizer]
        if not agreeing:
            return expected
        return FrameGeometry(expected.modality, expected.shape, expected.bits_per_token,
                             _most_common(agreeing), expected.tokenizer)
    if not ours:
        return None
    return FrameGeometry(*_most_common([_geometry_key(pkt) for _, pkt in ours]))


def _geometry_mismatch(pkt: TokenPacket, geometry: FrameGeometry) -> str:
    """Why ``pkt`` does not belong to a frame of ``geometry`` ('' if it does)."""
    differences = []
    if pkt.modality != geometry.modality:
        differences.append(f"modality {pkt.modality.name} vs {geometry.modality.name}")
    if pkt.frame_shape != geometry.shape:
        differences.append(f"shape {pkt.frame_shape} vs {geometry.shape}")
    if pkt.bits_per_token != geometry.bits_per_token:
        differences.append(f"bits_per_token {pkt.bits_per_token} vs {geometry.bits_per_token}")
    if geometry.num_packets is not None and pkt.num_packets != geometry.num_packets:
        differences.append(f"packet count {pkt.num_packets} vs {geometry.num_packets}")
    if pkt.tokenizer != geometry.tokenizer:
        differences.append(f"tokenizer {pkt.tokenizer} vs {geometry.tokenizer}")
    if not differences:
        return ""
    return (f"seq {pkt.seq} disagrees with the frame of message {pkt.message_id}: "
            + ", ".join(differences))


def _drop_duplicates(packets: List[Tuple[int, TokenPacket]], rejected: List[RejectedPacket]
                     ) -> Tuple[List[Tuple[int, TokenPacket]], int]:
    """Keep one packet per seq. Identical copies are harmless repeats; copies
    that differ cannot be told apart, so none of them is trusted."""
    by_seq: Dict[int, List[Tuple[int, TokenPacket]]] = {}
    for index, pkt in packets:
        by_seq.setdefault(pkt.seq, []).append((index, pkt))
    unique, duplicates = [], 0
    for seq, copies in by_seq.items():
        first = copies[0][1]
        if all(pkt == first for _, pkt in copies[1:]):
            unique.append(copies[0])
            duplicates += len(copies) - 1
        else:
            for index, _ in copies:
                rejected.append(RejectedPacket(
                    index, CONFLICT, f"{len(copies)} packets with seq {seq} carry different "
                    f"contents", seq=seq))
    return unique, duplicates


def _drop_overlaps(packets: List[Tuple[int, TokenPacket]], num_tokens: int,
                   rejected: List[RejectedPacket]) -> List[Tuple[int, TokenPacket]]:
    """Reject every packet that claims a position another packet also claims:
    with no way to tell which is right, neither is trusted."""
    if not packets:
        return packets
    claims = np.bincount(np.concatenate([pkt.position_array() for _, pkt in packets]),
                         minlength=num_tokens)
    accepted = []
    for index, pkt in packets:
        if (claims[pkt.position_array()] > 1).any():
            rejected.append(RejectedPacket(
                index, CONFLICT, f"seq {pkt.seq} claims positions another packet of the "
                f"message also claims", seq=pkt.seq))
        else:
            accepted.append((index, pkt))
    return accepted


def _most_common(values: list):
    """The most frequent value; ties go to the one seen first."""
    counts = Counter(values)
    best = max(counts.values())
    return next(value for value in values if counts[value] == best)


def _by_index(rejected: List[RejectedPacket]) -> Tuple[RejectedPacket, ...]:
    return tuple(sorted(rejected, key=lambda r: r.index))
