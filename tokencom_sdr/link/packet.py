"""The token packet and its wire format.

A packet carries some tokens of one frame (message), says which frame
positions they occupy, and repeats the frame geometry so that any single packet
that arrives is enough to size the receiver's frame.

Wire format, version 2. All integers are unsigned and big-endian.

======================  ============  ==============================================
field                   size (bytes)  meaning
======================  ============  ==============================================
magic                   2             ``0x54 0x4B`` (ASCII ``"TK"``)
version                 1             ``2``
modality                1             :class:`Modality`: 0 text, 1 image
tokenizer               1             which tokenizer of the modality made the ids
                                      (:mod:`tokencom_sdr.tokens.registry`: text 0
                                      BPE-4096; image 0 standard, 1 low-rate;
                                      255 one the receiver must be told)
message id              2             which frame the packet belongs to
sequence number         2             ``0 <= seq < packet count``
packet count            2             packets in the frame, ``>= 1``
bits per token          1             width ``b`` of one id, ``1..32``
ndim                    1             1 for text, 2 for image
dims                    4 × ndim      frame shape: ``(n,)`` or ``(rows, cols)``;
                                      each ``>= 1``, product ``<= 2**32``
positions mode          1             0 arithmetic progression, 1 explicit list
 mode 0: start          4             first position
 mode 0: stride         4             step, ``>= 1``
 mode 0: count          2             ``k`` tokens, ``1..65535``
 mode 1: count          2             ``k`` tokens, ``1..65535``
 mode 1: positions      4 × k         distinct positions, in payload order
 mode 2: start          4             first position of the progression
 mode 2: stride         4             its step, ``>= 1``
 mode 2: span           2             members of the progression, ``1..65535``
 mode 2: mask           ceil(span/8)  one bit per member (MSB-first), set where a
                                      token is carried, ``k >= 1`` set; then zero
                                      bits up to the byte boundary
payload                 ceil(k·b/8)   ids MSB-first, ``b`` bits each, then zero bits
                                      up to the byte boundary
CRC-32                  4             ``zlib.crc32`` of every byte before it
======================  ============  ==============================================

Every position must be below the frame size ``prod(dims)``. A text packet with
an arithmetic position block has a 28-byte header and a 4-byte CRC, so a packet
of 8 tokens of 16 bits is 28 + 16 + 4 = 48 bytes. (Version 1 had no tokenizer
byte; the receiver had to be told which image tokenizer the sender used.)

:func:`parse_packet` checks, in this order: enough bytes for the smallest
valid packet, the CRC (so that channel corruption is always reported as
:class:`CRCMismatchError`), magic, version, then each field as it is read, the
payload length and the padding bits. It raises the specific
:class:`~tokencom_sdr.link.errors.PacketError` subclass and never returns a
packet whose fields are out of range or inconsistent. Anything it returns
re-encodes, through :func:`encode_packet`, to the exact bytes it was given.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..tokens.frame import Modality
from .errors import (
    BadMagicError,
    CRCMismatchError,
    HeaderFieldError,
    NonzeroPaddingError,
    PacketTooShortError,
    PayloadLengthError,
    TrailingBytesError,
    UnsupportedVersionError,
)
from .positions import (
    MAX_POSITION,
    MODE_ARITHMETIC,
    MODE_EXPLICIT,
    ArithmeticPositions,
    ExplicitPositions,
    MaskedPositions,
    MODE_MASKED,
    PositionBlock,
)

MAGIC = b"TK"
VERSION = 2

#: Most packets one message can be split into: seq and count are uint16.
MAX_PACKETS_PER_MESSAGE = 0xFFFF
MAX_MESSAGE_ID = 0xFFFF
MAX_BITS_PER_TOKEN = 32
MAX_TOKENIZER_ID = 0xFF
#: Largest frame a header can describe: every position must fit in uint32.
MAX_FRAME_TOKENS = MAX_POSITION + 1
MAX_DIM = 0xFFFF_FFFF

#: Number of dimensions of the frame shape for each modality.
NDIM_BY_MODALITY = {Modality.TEXT: 1, Modality.IMAGE: 2}

# Fixed part: magic, version, modality, tokenizer, message id, seq, count, bits, ndim.
_FIXED = struct.Struct(">2sBBBHHHBB")
_DIM = struct.Struct(">I")
_MODE = struct.Struct(">B")
_ARITHMETIC = struct.Struct(">IIH")
_EXPLICIT_COUNT = struct.Struct(">H")
_MASKED = struct.Struct(">IIH")
_CRC = struct.Struct(">I")

FIXED_HEADER_SIZE = _FIXED.size
#: Where the message id sits in an encoded packet (bytes), and its width in bits:
#: a receiver can weigh a CRC-failed packet's claim to a message by it.
MESSAGE_ID_OFFSET = 5
MESSAGE_ID_BITS = 16
CRC_SIZE = _CRC.size
#: The smallest valid packet: one dim, an explicit block of one position,
#: a one-bit token (one payload byte) and the CRC. Shorter data is rejected
#: before its CRC is even looked at.
MIN_PACKET_SIZE = (FIXED_HEADER_SIZE + _DIM.size + _MODE.size
                   + _EXPLICIT_COUNT.size + _DIM.size + 1 + CRC_SIZE)


def header_size(ndim: int, positions: PositionBlock) -> int:
    """Bytes of header before the payload (the CRC trailer is not included).

    Parameters
    ----------
    ndim : int
        Number of frame dimensions (1 text, 2 image).
    positions : ArithmeticPositions or ExplicitPositions
        The packet's position block.

    Returns
    -------
    int
    """
    if isinstance(positions, ArithmeticPositions):
        block = _ARITHMETIC.size
    elif isinstance(positions, MaskedPositions):
        block = _MASKED.size + (positions.span + 7) // 8
    else:
        block = _EXPLICIT_COUNT.size + 4 * positions.count
    return FIXED_HEADER_SIZE + _DIM.size * ndim + _MODE.size + block


def payload_size(num_tokens: int, bits_per_token: int) -> int:
    """Bytes of payload for ``num_tokens`` ids of ``bits_per_token`` bits."""
    return (num_tokens * bits_per_token + 7) // 8


@dataclass(eq=False)
class TokenPacket:
    """Some tokens of one frame, with where they go.

    Fields are validated on construction and again by :func:`encode_packet`
    (the arrays are mutable), raising
    :class:`~tokencom_sdr.link.errors.HeaderFieldError` or
    :class:`~tokencom_sdr.link.errors.PayloadLengthError`.

    Parameters
    ----------
    message_id : int
        Identifies the frame, ``0..65535``.
    seq : int
        Index of this packet in the frame, ``0 <= seq < num_packets``.
    num_packets : int
        Packets the frame was split into, ``1..65535``.
    modality : Modality
        Modality of the frame.
    frame_shape : tuple of int
        Shape of the whole frame: ``(n,)`` for text, ``(rows, cols)`` for an
        image. Each dim ``>= 1``, product ``<= 2**32``.
    bits_per_token : int
        Width of one id on the air, ``1..32``.
    positions : ArithmeticPositions or ExplicitPositions
        Frame positions (raster order) of the carried tokens; all below
        ``prod(frame_shape)``.
    token_ids : array_like of int, shape ``(k,)``
        Ids of the carried tokens in the order of ``positions``;
        ``k == positions.count``; each ``0 <= id < 2**bits_per_token``.
        Stored as ``int64``.
    tokenizer : int
        Wire id of the tokenizer that made the ids, ``0..255``
        (:mod:`tokencom_sdr.tokens.registry`).
    """

    message_id: int
    seq: int
    num_packets: int
    modality: Modality
    frame_shape: Tuple[int, ...]
    bits_per_token: int
    positions: PositionBlock
    token_ids: np.ndarray
    tokenizer: int = 0

    def __post_init__(self):
        try:
            self.modality = Modality(int(self.modality))
        except ValueError:
            raise HeaderFieldError(
                "modality", f"unknown modality {self.modality!r}; known: "
                f"{[int(m) for m in Modality]}") from None
        self.frame_shape = tuple(int(d) for d in self.frame_shape)
        ids = np.asarray(self.token_ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise HeaderFieldError("token_ids", f"token ids must be integers, got {ids.dtype}")
        self.token_ids = ids.astype(np.int64).reshape(-1)
        self.validate()

    @property
    def num_tokens(self) -> int:
        """Number of tokens carried, ``k``."""
        return int(self.token_ids.size)

    @property
    def frame_size(self) -> int:
        """Number of tokens in the whole frame, ``prod(frame_shape)``."""
        return _prod(self.frame_shape)

    def position_array(self) -> np.ndarray:
        """Frame positions of the carried tokens.

        Returns
        -------
        np.ndarray, shape ``(k,)``, dtype ``int64``
        """
        return self.positions.to_array()

    @property
    def header_nbytes(self) -> int:
        """Bytes of header before the payload."""
        return header_size(len(self.frame_shape), self.positions)

    @property
    def nbytes(self) -> int:
        """Bytes of the encoded packet: header, payload and CRC."""
        return (self.header_nbytes + payload_size(self.num_tokens, self.bits_per_token)
                + CRC_SIZE)

    def validate(self) -> None:
        """Check every field; raise the specific ``PacketError`` if one is bad."""
        if not isinstance(self.positions, (ArithmeticPositions, ExplicitPositions,
                                           MaskedPositions)):
            raise HeaderFieldError(
                "positions", f"expected ArithmeticPositions or ExplicitPositions, "
                f"got {type(self.positions).__name__}")
        _check_header(self.message_id, self.seq, self.num_packets, self.bits_per_token,
                      self.modality, self.frame_shape, self.positions)
        if isinstance(self.tokenizer, bool) or not isinstance(self.tokenizer, (int, np.integer)) \
                or not 0 <= self.tokenizer <= MAX_TOKENIZER_ID:
            raise HeaderFieldError("tokenizer", f"must be an int 0..{MAX_TOKENIZER_ID}, "
                                                f"got {self.tokenizer!r}")
        if self.token_ids.size != self.positions.count:
            raise PayloadLengthError(
                f"{self.token_ids.size} token ids for {self.positions.count} positions")
        if self.token_ids.size and (self.token_ids.min() < 0
                                    or self.token_ids.max() >= 1 << self.bits_per_token):
            raise HeaderFieldError(
                "token_ids", f"ids must lie in [0, 2**{self.bits_per_token}), got range "
                f"[{self.token_ids.min()}, {self.token_ids.max()}]")

    def __eq__(self, other) -> bool:
        if not isinstance(other, TokenPacket):
            return NotImplemented
        return (self.message_id == other.message_id and self.seq == other.seq
                and self.num_packets == other.num_packets and self.modality == other.modality
                and self.frame_shape == other.frame_shape
                and self.bits_per_token == other.bits_per_token
                and self.tokenizer == other.tokenizer
                and self.positions == other.positions
                and np.array_equal(self.token_ids, other.token_ids))


def _check_shape(modality: Modality, shape: Tuple[int, ...]) -> None:
    """Raise ``HeaderFieldError`` unless ``shape`` is a valid frame shape."""
    expected_ndim = NDIM_BY_MODALITY[modality]
    if len(shape) != expected_ndim:
        raise HeaderFieldError(
            "frame_shape", f"{modality.name} frames have {expected_ndim} dim(s), "
            f"got shape {shape}")
    if any(not 1 <= dim <= MAX_DIM for dim in shape):
        raise HeaderFieldError("frame_shape", f"every dim must be 1..{MAX_DIM}, got {shape}")
    size = _prod(shape)
    if size > MAX_FRAME_TOKENS:
        raise HeaderFieldError(
            "frame_shape", f"shape {shape} holds {size} tokens, more than a uint32 "
            f"position can address ({MAX_FRAME_TOKENS})")


def pack_ids(ids: np.ndarray, bits_per_token: int) -> bytes:
    """Pack ids MSB-first at a fixed width, zero-padded to a whole byte.

    Parameters
    ----------
    ids : np.ndarray, shape ``(k,)``, integer, each in ``[0, 2**bits_per_token)``
    bits_per_token : int, ``1..32``

    Returns
    -------
    bytes, length ``ceil(k * bits_per_token / 8)``
    """
    shifts = np.arange(bits_per_token - 1, -1, -1, dtype=np.uint64)
    bits = (np.asarray(ids, dtype=np.uint64)[:, None] >> shifts) & np.uint64(1)
    # packbits fills the last byte's missing low bits with zeros.
    return np.packbits(bits.astype(np.uint8).reshape(-1)).tobytes()


def unpack_ids(payload: bytes, num_tokens: int, bits_per_token: int) -> np.ndarray:
    """Inverse of :func:`pack_ids`.

    Parameters
    ----------
    payload : bytes, length exactly ``ceil(num_tokens * bits_per_token / 8)``
    num_tokens : int
    bits_per_token : int, ``1..32``

    Returns
    -------
    np.ndarray, shape ``(num_tokens,)``, dtype ``int64``

    Raises
    ------
    PayloadLengthError, TrailingBytesError
        The payload is shorter or longer than the tokens need.
    NonzeroPaddingError
        A padding bit after the last token is set.
    """
    needed = payload_size(num_tokens, bits_per_token)
    if len(payload) < needed:
        raise PayloadLengthError(
            f"{num_tokens} tokens of {bits_per_token} bits need {needed} payload bytes, "
            f"got {len(payload)}")
    if len(payload) > needed:
        raise TrailingBytesError(
            f"{len(payload) - needed} byte(s) after the {needed}-byte payload of "
            f"{num_tokens} tokens of {bits_per_token} bits")
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    used = num_tokens * bits_per_token
    if bits[used:].any():
        raise NonzeroPaddingError(
            f"the {bits.size - used} padding bit(s) after the last token must be zero")
    weights = np.uint64(1) << np.arange(bits_per_token - 1, -1, -1, dtype=np.uint64)
    ids = bits[:used].reshape(num_tokens, bits_per_token).astype(np.uint64) @ weights
    return ids.astype(np.int64)


def encode_packet(pkt: TokenPacket) -> bytes:
    """Serialise a packet to its wire format (see the module docstring).

    Parameters
    ----------
    pkt : TokenPacket

    Returns
    -------
    bytes, length ``pkt.nbytes``

    Raises
    ------
    PacketError
        A field of ``pkt`` is invalid (it was changed after construction).
    """
    pkt.validate()
    parts = [
        _FIXED.pack(MAGIC, VERSION, int(pkt.modality), int(pkt.tokenizer), pkt.message_id,
                    pkt.seq, pkt.num_packets, pkt.bits_per_token, len(pkt.frame_shape)),
        b"".join(_DIM.pack(dim) for dim in pkt.frame_shape),
        _MODE.pack(pkt.positions.mode),
    ]
    if isinstance(pkt.positions, ArithmeticPositions):
        parts.append(_ARITHMETIC.pack(pkt.positions.start, pkt.positions.stride,
                                      pkt.positions.count))
    elif isinstance(pkt.positions, MaskedPositions):
        parts.append(_MASKED.pack(pkt.positions.start, pkt.positions.stride,
                                  pkt.positions.span))
        parts.append(np.packbits(pkt.positions.mask).tobytes())
    else:
        parts.append(_EXPLICIT_COUNT.pack(pkt.positions.count))
        parts.append(pkt.positions.indices.astype(">u4").tobytes())
    parts.append(pack_ids(pkt.token_ids, pkt.bits_per_token))
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


class _Reader:
    """Reads consecutive big-endian fields from the header, reporting a
    header that runs past the end of the data as ``PacketTooShortError``."""

    def __init__(self, body: bytes, offset: int = 0):
        self.body = body
        self.offset = offset

    def take(self, fmt: struct.Struct, what: str) -> tuple:
        end = self.offset + fmt.size
        if end > len(self.body):
            raise PacketTooShortError(
                f"header ends inside the {what} field: it needs bytes up to offset {end}, "
                f"the packet has {len(self.body)} before its CRC")
        values = fmt.unpack_from(self.body, self.offset)
        self.offset = end
        return values

    def take_bytes(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.body):
            raise PacketTooShortError(
                f"header ends inside the {what}: it needs bytes up to offset {end}, "
                f"the packet has {len(self.body)} before its CRC")
        chunk = self.body[self.offset:end]
        self.offset = end
        return chunk


def parse_packet(data) -> TokenPacket:
    """Parse and validate one packet.

    Parameters
    ----------
    data : bytes-like (``bytes``, ``bytearray``, ``memoryview``, or a ``uint8``
        numpy array)
        Exactly one encoded packet, nothing before or after it.

    Returns
    -------
    TokenPacket
        A packet whose every field is valid and which re-encodes to ``data``.

    Raises
    ------
    PacketTooShortError, CRCMismatchError, BadMagicError,
    UnsupportedVersionError, HeaderFieldError, PayloadLengthError,
    TrailingBytesError, NonzeroPaddingError
        All subclasses of :class:`~tokencom_sdr.link.errors.PacketError`;
        see the module docstring for the order of the checks.
    """
    data = _as_bytes(data)
    if len(data) < MIN_PACKET_SIZE:
        raise PacketTooShortError(
            f"{len(data)} bytes; the smallest valid packet has {MIN_PACKET_SIZE}")
    body, (received_crc,) = data[:-CRC_SIZE], _CRC.unpack(data[-CRC_SIZE:])
    computed_crc = zlib.crc32(body)
    if computed_crc != received_crc:
        raise CRCMismatchError(
            f"CRC-32 trailer is {received_crc:#010x}, contents give {computed_crc:#010x}")

    reader = _Reader(body)
    magic, version, modality, tokenizer, message_id, seq, num_packets, bits, ndim = reader.take(
        _FIXED, "fixed header")
    if magic != MAGIC:
        raise BadMagicError(f"magic bytes are {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise UnsupportedVersionError(
            f"wire-format version {version}; this parser reads version {VERSION}")
    try:
        modality = Modality(modality)
    except ValueError:
        raise HeaderFieldError(
            "modality", f"unknown modality {modality}; known: {[int(m) for m in Modality]}"
        ) from None
    # Check ndim before reading the dims, so a wild ndim is reported as such
    # rather than as a header that runs past the data.
    if ndim != NDIM_BY_MODALITY[modality]:
        raise HeaderFieldError(
            "frame_shape", f"{modality.name} frames have {NDIM_BY_MODALITY[modality]} "
            f"dim(s), header says {ndim}")
    shape = tuple(reader.take(_DIM, f"dim {axis}")[0] for axis in range(ndim))

    (mode,) = reader.take(_MODE, "positions mode")
    if mode == MODE_ARITHMETIC:
        positions = ArithmeticPositions(*reader.take(_ARITHMETIC, "arithmetic positions"))
    elif mode == MODE_EXPLICIT:
        (count,) = reader.take(_EXPLICIT_COUNT, "explicit position count")
        raw = reader.take_bytes(4 * count, f"list of {count} explicit positions")
        positions = ExplicitPositions(np.frombuffer(raw, dtype=">u4"))
    elif mode == MODE_MASKED:
        start, stride, span = reader.take(_MASKED, "masked positions")
        raw = reader.take_bytes((span + 7) // 8, f"mask of {span} positions")
        mask = np.unpackbits(np.frombuffer(raw, dtype=np.uint8)).astype(bool)
        if mask[span:].any():
            # Set padding bits would not re-encode to the same bytes.
            raise HeaderFieldError("positions", f"the {mask.size - span} padding bit(s) after "
                                                f"the mask of {span} positions must be zero")
        positions = MaskedPositions(start, stride, mask[:span])
    else:
        raise HeaderFieldError(
            "positions", f"unknown positions mode {mode}; known: "
            f"{MODE_ARITHMETIC} (arithmetic), {MODE_EXPLICIT} (explicit), "
            f"{MODE_MASKED} (masked)")

    # Range-check the header before decoding the payload, so that a bad header
    # is reported as such and not as a payload of the wrong size.
    _check_header(message_id, seq, num_packets, bits, modality, shape, positions)
    token_ids = unpack_ids(body[reader.offset:], positions.count, bits)
    return TokenPacket(message_id=message_id, seq=seq, num_packets=num_packets,
                       modality=modality, frame_shape=shape, bits_per_token=bits,
                       positions=positions, token_ids=token_ids, tokenizer=tokenizer)


def _check_header(message_id: int, seq: int, num_packets: int, bits_per_token: int,
                  modality: Modality, shape: Tuple[int, ...], positions: PositionBlock) -> None:
    """Raise ``HeaderFieldError`` unless the header fields are in range and
    consistent with each other. ``modality`` is a :class:`Modality` already:
    both callers convert it first and name an unknown one there."""
    if not 0 <= message_id <= MAX_MESSAGE_ID:
        raise HeaderFieldError("message_id", f"must be 0..{MAX_MESSAGE_ID}, got {message_id}")
    if not 1 <= num_packets <= MAX_PACKETS_PER_MESSAGE:
        raise HeaderFieldError(
            "num_packets", f"must be 1..{MAX_PACKETS_PER_MESSAGE}, got {num_packets}")
    if not 0 <= seq < num_packets:
        raise HeaderFieldError(
            "seq", f"must be below the packet count {num_packets}, got {seq}")
    if not 1 <= bits_per_token <= MAX_BITS_PER_TOKEN:
        raise HeaderFieldError(
            "bits_per_token", f"must be 1..{MAX_BITS_PER_TOKEN}, got {bits_per_token}")
    _check_shape(modality, shape)
    frame_size = _prod(shape)
    if positions.last >= frame_size:
        raise HeaderFieldError(
            "positions", f"position {positions.last} is outside the frame of "
            f"{frame_size} tokens (shape {shape})")


def _prod(shape: Tuple[int, ...]) -> int:
    """Product of the dims as an exact Python int (no int64 overflow)."""
    size = 1
    for dim in shape:
        size *= dim
    return size


def _as_bytes(data) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        return data.reshape(-1).tobytes()
    raise TypeError(f"expected bytes-like packet data, got {type(data).__name__}")
