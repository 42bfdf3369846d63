"""Link layer: packet wire format, aggregation, packetize/depacketize.

The wire format is rebuilt here independently of ``packet.py`` (``raw_body``
and ``seal``) from the table in its docstring, so that the tests pin the bytes
on the air and can forge packets with a valid CRC but bad fields.
"""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuzzing import fuzz

from tokencom_sdr.link import (
    Aggregation,
    ArithmeticPositions,
    BadMagicError,
    CRCMismatchError,
    ExplicitPositions,
    MaskedPositions,
    FrameGeometry,
    HeaderFieldError,
    InterleavedAggregation,
    MIN_PACKET_SIZE,
    NonzeroPaddingError,
    PacketError,
    PacketTooShortError,
    PayloadLengthError,
    ReassemblyError,
    SequentialAggregation,
    TokenPacket,
    TrailingBytesError,
    UnsupportedVersionError,
    build_packets,
    depacketize,
    describe_positions,
    encode_packet,
    header_size,
    make_aggregation,
    packetize,
    parse_packet,
)
from tokencom_sdr.tokens.frame import Modality, TokenFrame

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
STRATEGIES = ["sequential", "interleaved"]
TOKENS_PER_PACKET = [1, 2, 3, 4, 7, 8, 16, 64]


# --------------------------------------------------------------------------
# An independent writer of the wire format, for golden bytes and forgeries.
# --------------------------------------------------------------------------

def seal(body: bytes) -> bytes:
    """Append a correct CRC-32 trailer."""
    return body + struct.pack(">I", zlib.crc32(body))


def ap_block(start, stride, count):
    return bytes([0]) + struct.pack(">IIH", start, stride, count)


def explicit_block(positions):
    return bytes([1]) + struct.pack(">H", len(positions)) + b"".join(
        struct.pack(">I", p) for p in positions)


def raw_body(*, magic=b"TK", version=2, modality=0, tokenizer=0, message_id=1, seq=0, count=1,
             bits=8, dims=(8,), ndim=None, block=None, payload=None):
    """Header and payload of a packet, field by field. Defaults: a text frame
    of 8 tokens of 8 bits, all carried by one packet."""
    ndim = len(dims) if ndim is None else ndim
    body = struct.pack(">2sBBBHHHBB", magic, version, modality, tokenizer, message_id, seq,
                       count, bits, ndim)
    body += b"".join(struct.pack(">I", d) for d in dims)
    body += ap_block(0, 1, 8) if block is None else block
    body += bytes(range(10, 18)) if payload is None else payload
    return body


def bits_to_bytes(ids, bits):
    """MSB-first packing with a Python loop: slow but obviously right."""
    stream = "".join(format(int(i), f"0{bits}b") for i in ids)
    stream += "0" * (-len(stream) % 8)
    return bytes(int(stream[i:i + 8], 2) for i in range(0, len(stream), 8))


# --------------------------------------------------------------------------
# Hypothesis strategies
# --------------------------------------------------------------------------

@st.composite
def token_frames(draw, max_text=300, max_side=20, bits=st.integers(1, 16)):
    bits_per_token = draw(bits)
    modality = draw(st.sampled_from(Modality))
    if modality == Modality.TEXT:
        shape = (draw(st.integers(1, max_text)),)
    else:
        shape = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    n = int(np.prod(shape))
    ids = draw(arrays(np.int64, n, elements=st.integers(0, 2 ** bits_per_token - 1)))
    return TokenFrame(ids=ids, modality=modality, shape=shape, bits_per_token=bits_per_token)


@st.composite
def token_packets(draw, bits=st.integers(1, 32)):
    """Any valid packet, including huge frames and every position mode."""
    modality = draw(st.sampled_from(Modality))
    if modality == Modality.TEXT:
        shape = (draw(st.one_of(st.integers(1, 500), st.integers(1, 2 ** 32 - 1))),)
    else:
        shape = (draw(st.integers(1, 2 ** 16)), draw(st.integers(1, 2 ** 16)))
    frame_size = int(np.prod(shape, dtype=object))
    bits_per_token = draw(bits)
    num_packets = draw(st.integers(1, 0xFFFF))
    max_count = min(frame_size, 64)
    mode = draw(st.sampled_from(("arithmetic", "explicit", "masked")))
    if mode == "arithmetic":
        count = draw(st.integers(1, max_count))
        if count == 1:
            stride = draw(st.integers(1, 2 ** 32 - 1))
        else:
            stride = draw(st.integers(1, (frame_size - 1) // (count - 1)))
        start = draw(st.integers(0, frame_size - 1 - stride * (count - 1)))
        positions = ArithmeticPositions(start, stride, count)
    elif mode == "masked":
        span = draw(st.integers(1, max_count))
        if span == 1:
            stride = draw(st.integers(1, 2 ** 32 - 1))
        else:
            stride = draw(st.integers(1, (frame_size - 1) // (span - 1)))
        start = draw(st.integers(0, frame_size - 1 - stride * (span - 1)))
        mask = draw(arrays(bool, span))
        mask[draw(st.integers(0, span - 1))] = True
        positions = MaskedPositions(start, stride, mask)
    else:
        indices = draw(st.lists(st.integers(0, min(frame_size, 2 ** 32) - 1),
                                min_size=1, max_size=max_count, unique=True))
        positions = ExplicitPositions(np.array(indices, dtype=np.int64))
    ids = draw(arrays(np.int64, positions.count,
                      elements=st.integers(0, 2 ** bits_per_token - 1)))
    return TokenPacket(message_id=draw(st.integers(0, 0xFFFF)),
                       seq=draw(st.integers(0, num_packets - 1)), num_packets=num_packets,
                       modality=modality, frame_shape=shape, bits_per_token=bits_per_token,
                       positions=positions, token_ids=ids, tokenizer=draw(st.integers(0, 255)))


def text_frame(n=40, bits=10, seed=0):
    ids = np.random.default_rng(seed).integers(0, 2 ** bits, size=n)
    return TokenFrame(ids=ids, modality=Modality.TEXT, shape=(n,), bits_per_token=bits)


# --------------------------------------------------------------------------
# Wire format
# --------------------------------------------------------------------------

@pytest.mark.timeout(30)
def test_encoding_matches_the_documented_wire_format():
    ids = np.array([1, 1023, 0, 512, 7, 100, 5, 999])
    pkt = TokenPacket(message_id=0x1234, seq=2, num_packets=5, modality=Modality.TEXT,
                      frame_shape=(40,), bits_per_token=10,
                      positions=ArithmeticPositions(2, 5, 8), token_ids=ids)
    expected = seal(raw_body(message_id=0x1234, seq=2, count=5, bits=10, dims=(40,),
                             block=ap_block(2, 5, 8), payload=bits_to_bytes(ids, 10)))
    assert encode_packet(pkt) == expected
    assert parse_packet(expected) == pkt


@pytest.mark.timeout(30)
def test_explicit_positions_match_the_documented_wire_format():
    ids = np.array([3, 0, 2])
    pkt = TokenPacket(message_id=9, seq=0, num_packets=1, modality=Modality.IMAGE,
                      frame_shape=(4, 6), bits_per_token=2,
                      positions=ExplicitPositions([17, 3, 9]), token_ids=ids, tokenizer=1)
    expected = seal(raw_body(modality=1, tokenizer=1, message_id=9, bits=2, dims=(4, 6),
                             block=explicit_block([17, 3, 9]), payload=bits_to_bytes(ids, 2)))
    assert encode_packet(pkt) == expected


@pytest.mark.timeout(30)
def test_header_sizes():
    # Text, 8 tokens, arithmetic positions: 13 fixed + 4 dim + 1 mode + 10 block.
    assert header_size(1, ArithmeticPositions(0, 1, 8)) == 28
    assert header_size(2, ArithmeticPositions(0, 1, 8)) == 32
    assert header_size(1, ExplicitPositions(np.arange(8))) == 13 + 4 + 1 + 2 + 4 * 8
    pkt = build_packets(text_frame(8, bits=16), 0, SequentialAggregation(8))[0]
    assert pkt.header_nbytes == 28
    assert len(encode_packet(pkt)) == pkt.nbytes == 28 + 16 + 4


@pytest.mark.timeout(30)
@FAST
@given(pkt=token_packets())
def test_packet_round_trip(pkt):
    data = encode_packet(pkt)
    assert len(data) == pkt.nbytes
    parsed = parse_packet(data)
    assert parsed == pkt
    assert parsed.token_ids.dtype == np.int64
    assert encode_packet(parsed) == data


@pytest.mark.timeout(30)
@FAST
@given(bits=st.integers(1, 32), data=st.data())
def test_payload_bit_packing_is_msb_first(bits, data):
    ids = data.draw(st.lists(st.integers(0, 2 ** bits - 1), min_size=1, max_size=40))
    pkt = TokenPacket(message_id=0, seq=0, num_packets=1, modality=Modality.TEXT,
                      frame_shape=(len(ids),), bits_per_token=bits,
                      positions=ArithmeticPositions(0, 1, len(ids)), token_ids=ids)
    data_bytes = encode_packet(pkt)
    payload = data_bytes[pkt.header_nbytes:-4]
    assert payload == bits_to_bytes(ids, bits)
    assert parse_packet(data_bytes).token_ids.tolist() == ids


@pytest.mark.timeout(30)
def test_parse_accepts_bytes_like_inputs():
    data = packetize(text_frame(), 3, SequentialAggregation(8))[0]
    reference = parse_packet(data)
    for view in (bytearray(data), memoryview(data), np.frombuffer(data, dtype=np.uint8)):
        assert parse_packet(view) == reference
    with pytest.raises(TypeError):
        parse_packet("not bytes")


# --------------------------------------------------------------------------
# Malformed packets: each cause raises its own exception
# --------------------------------------------------------------------------

def sample_packets():
    """An arithmetic-position text packet and an explicit-position image packet."""
    text = packetize(text_frame(40, bits=10), 7, InterleavedAggregation(8))[3]
    image = encode_packet(TokenPacket(
        message_id=1, seq=1, num_packets=3, modality=Modality.IMAGE, frame_shape=(5, 7),
        bits_per_token=5, positions=ExplicitPositions([30, 2, 11, 4]),
        token_ids=[31, 0, 17, 9]))
    return [text, image]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("data", sample_packets(), ids=["arithmetic", "explicit"])
def test_truncation_at_every_length(data):
    for length in range(len(data)):
        expected = PacketTooShortError if length < MIN_PACKET_SIZE else CRCMismatchError
        with pytest.raises(expected):
            parse_packet(data[:length])
    with pytest.raises(PacketTooShortError,
                       match=f"^2 bytes; the smallest valid packet has {MIN_PACKET_SIZE}$"):
        parse_packet(data[:2])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("data", sample_packets(), ids=["arithmetic", "explicit"])
def test_truncation_with_a_recomputed_crc(data):
    """Cut the body anywhere and reseal it: a cut header is too short, a cut
    payload has the wrong length."""
    header_nbytes = parse_packet(data).header_nbytes
    body = data[:-4]
    for length in range(len(body)):
        forged = seal(body[:length])
        if len(forged) < MIN_PACKET_SIZE or length < header_nbytes:
            expected = PacketTooShortError
        else:
            expected = PayloadLengthError
        with pytest.raises(PacketError) as info:
            parse_packet(forged)
        assert info.type is expected, (length, info.value)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("data", sample_packets(), ids=["arithmetic", "explicit"])
def test_every_single_bit_flip_is_a_crc_mismatch(data):
    for bit in range(8 * len(data)):
        corrupted = bytearray(data)
        corrupted[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(CRCMismatchError):
            parse_packet(bytes(corrupted))


@pytest.mark.timeout(30)
@FAST
@given(pkt=token_packets(bits=st.integers(1, 16)), data=st.data())
def test_random_corruption_is_a_crc_mismatch(pkt, data):
    encoded = bytearray(encode_packet(pkt))
    flips = data.draw(st.lists(st.integers(0, 8 * len(encoded) - 1), min_size=1,
                               max_size=3, unique=True))
    for bit in flips:
        encoded[bit // 8] ^= 0x80 >> (bit % 8)
    with pytest.raises(CRCMismatchError):
        parse_packet(bytes(encoded))


@pytest.mark.timeout(30)
def test_baseline_forgery_is_valid():
    """The forgeries below differ from this valid packet in one field only."""
    pkt = parse_packet(seal(raw_body()))
    assert pkt.token_ids.tolist() == list(range(10, 18))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("magic", [b"TX", b"\x00\x00", b"KT"])
def test_bad_magic(magic):
    with pytest.raises(BadMagicError, match="magic"):
        parse_packet(seal(raw_body(magic=magic)))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("version", [0, 1, 3, 255])
def test_unsupported_version(version):
    with pytest.raises(UnsupportedVersionError, match="version"):
        parse_packet(seal(raw_body(version=version)))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("tokenizer", [-1, 256, True, 1.0])
def test_tokenizer_id_must_be_a_byte(tokenizer):
    with pytest.raises(HeaderFieldError, match="tokenizer"):
        TokenPacket(message_id=1, seq=0, num_packets=1, modality=Modality.TEXT, frame_shape=(8,),
                    bits_per_token=8, positions=ArithmeticPositions(0, 1, 8),
                    token_ids=np.arange(8), tokenizer=tokenizer)


@pytest.mark.timeout(30)
def test_tokenizer_id_travels_from_frame_to_frame():
    """The header's tokenizer byte is what lets a receiver detokenize unaided:
    it must survive packetize -> depacketize, and packets that disagree on it
    cannot be one message."""
    frame = TokenFrame(ids=np.arange(12), modality=Modality.IMAGE, shape=(3, 4),
                       bits_per_token=10, tokenizer=1)
    packets = packetize(frame, 5, InterleavedAggregation(4))
    assert all(parse_packet(p).tokenizer == 1 for p in packets)
    assert depacketize(packets).frame.tokenizer == 1
    other = packetize(TokenFrame(ids=np.arange(12), modality=Modality.IMAGE, shape=(3, 4),
                                 bits_per_token=10, tokenizer=0), 5, InterleavedAggregation(4))
    result = depacketize(packets[:2] + other[2:])
    assert result.stats.num_conflicts == 1
    assert "tokenizer" in [r for r in result.stats.rejected if r.kind == "conflict"][0].reason


HUGE = 2 ** 32 - 1
BAD_FIELDS = {
    "unknown modality": (dict(modality=2), "modality"),
    "modality 255": (dict(modality=255), "modality"),
    "seq equals count": (dict(seq=1, count=1), "seq"),
    "seq above count": (dict(seq=9, count=4), "seq"),
    "zero packet count": (dict(seq=0, count=0), "num_packets"),
    "zero bits per token": (dict(bits=0), "bits_per_token"),
    "33 bits per token": (dict(bits=33), "bits_per_token"),
    "text with two dims": (dict(dims=(2, 4)), "frame_shape"),
    "image with one dim": (dict(modality=1, dims=(8,)), "frame_shape"),
    "no dims": (dict(dims=()), "frame_shape"),
    # ndim is checked before the dims are read: 200 dims would run past the
    # data and be misreported as a short packet.
    "ndim far beyond the data": (dict(ndim=200), "frame_shape"),
    "zero-length dim": (dict(dims=(0,)), "frame_shape"),
    "frame too large for uint32 positions": (dict(modality=1, dims=(HUGE, 2)), "frame_shape"),
    "start outside frame": (dict(block=ap_block(8, 1, 1), payload=b"\x01"), "positions"),
    "progression runs past frame": (dict(block=ap_block(1, 1, 8)), "positions"),
    "stride zero": (dict(block=ap_block(0, 0, 8)), "positions"),
    "zero tokens, arithmetic": (dict(block=ap_block(0, 1, 0), payload=b""), "positions"),
    # (A payload is left in so that the forgery is not simply too short.)
    "zero tokens, explicit": (dict(block=explicit_block([])), "positions"),
    "explicit duplicate": (dict(block=explicit_block([0, 1, 2, 3, 4, 5, 6, 6])), "positions"),
    "explicit outside frame": (dict(block=explicit_block([0, 1, 2, 3, 4, 5, 6, 8])),
                               "positions"),
    "explicit at uint32 max": (dict(block=explicit_block([HUGE] + list(range(7)))),
                               "positions"),
    "unknown positions mode": (dict(block=bytes([3]) + struct.pack(">IIH", 0, 1, 8)),
                               "positions"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("overrides, field", list(BAD_FIELDS.values()), ids=list(BAD_FIELDS))
def test_valid_crc_with_bad_field(overrides, field):
    with pytest.raises(PacketError) as info:
        parse_packet(seal(raw_body(**overrides)))
    assert info.type is HeaderFieldError, info.value
    assert info.value.field == field
    assert str(info.value).startswith(field)


@pytest.mark.timeout(30)
def test_rejections_say_what_the_header_holds():
    good = seal(raw_body())
    bad_crc = good[:-1] + bytes([good[-1] ^ 0x01])
    computed = zlib.crc32(good[:-4])
    with pytest.raises(CRCMismatchError,
                       match=f"^CRC-32 trailer is {computed ^ 0x01:#010x}, contents give {computed:#010x}$"):
        parse_packet(bad_crc)
    with pytest.raises(HeaderFieldError, match=r"^modality: unknown modality 2; known: \[0, 1\]$"):
        parse_packet(seal(raw_body(modality=2)))
    with pytest.raises(HeaderFieldError, match=r"^frame_shape: TEXT frames have 1 dim\(s\), header says 2$"):
        parse_packet(seal(raw_body(ndim=2)))
    with pytest.raises(HeaderFieldError, match=r"^positions: unknown positions mode 3; known: "
                                                r"0 \(arithmetic\), 1 \(explicit\), 2 \(masked\)$"):
        parse_packet(seal(raw_body(block=bytes([3]) + struct.pack(">IIH", 0, 1, 8))))
    with pytest.raises(TypeError, match="^expected bytes-like packet data, got int$"):
        parse_packet(12345)


@pytest.mark.timeout(30)
def test_widest_ids_are_32_bits():
    ids = np.array([0, 1, 2 ** 31, 2 ** 32 - 1], dtype=np.int64)
    pkt = TokenPacket(message_id=3, seq=0, num_packets=1, modality=Modality.TEXT, frame_shape=(4,),
                      bits_per_token=32, positions=ArithmeticPositions(0, 1, 4), token_ids=ids)
    wire = encode_packet(pkt)
    assert wire == seal(raw_body(message_id=3, bits=32, dims=(4,), block=ap_block(0, 1, 4),
                                 payload=b"".join(struct.pack(">I", int(i)) for i in ids)))
    assert parse_packet(wire).token_ids.tolist() == ids.tolist()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("overrides, words", [
    (dict(seq=0, count=0), r"num_packets: must be 1\.\.65535, got 0"),
    (dict(seq=9, count=4), "seq: must be below the packet count 4, got 9"),
    (dict(bits=33), r"bits_per_token: must be 1\.\.32, got 33"),
    (dict(block=ap_block(1, 1, 8)), r"positions: position 8 is outside the frame of 8 tokens \(shape \(8,\)\)"),
])
def test_bad_field_messages_say_what_was_wrong(overrides, words):
    with pytest.raises(HeaderFieldError, match=words):
        parse_packet(seal(raw_body(**overrides)))


@pytest.mark.timeout(30)
def test_header_running_past_the_data():
    # An explicit list of 1000 positions announced in a short packet.
    forged = seal(raw_body(block=bytes([1]) + struct.pack(">H", 1000) + bytes(8)))
    with pytest.raises(PacketTooShortError, match="explicit positions"):
        parse_packet(forged)
    # A fixed-size field cut short: the arithmetic block needs 10 bytes, gets 7.
    cut = seal(raw_body(block=bytes([0]) + bytes(7), payload=b""))
    with pytest.raises(PacketTooShortError,
                       match="header ends inside the arithmetic positions field"):
        parse_packet(cut)


@pytest.mark.timeout(30)
def test_payload_too_short_and_trailing_bytes():
    with pytest.raises(PacketError) as info:
        parse_packet(seal(raw_body(payload=bytes(7))))
    assert info.type is PayloadLengthError
    assert "need 8 payload bytes" in str(info.value)
    with pytest.raises(TrailingBytesError, match="1 byte"):
        parse_packet(seal(raw_body(payload=bytes(9))))
    # Appending without resealing is simply corruption.
    with pytest.raises(CRCMismatchError):
        parse_packet(seal(raw_body()) + b"\x00")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("bits, count", [(5, 3), (1, 1), (3, 5), (13, 7)])
def test_nonzero_padding_bits(bits, count):
    padding = -(count * bits) % 8
    assert padding > 0
    payload = bytearray(bits_to_bytes([0] * count, bits))
    assert parse_packet(seal(raw_body(bits=bits, dims=(count,), block=ap_block(0, 1, count),
                                      payload=bytes(payload)))).num_tokens == count
    for pad_bit in range(padding):
        payload_with_pad = bytearray(payload)
        payload_with_pad[-1] |= 1 << pad_bit
        forged = seal(raw_body(bits=bits, dims=(count,), block=ap_block(0, 1, count),
                               payload=bytes(payload_with_pad)))
        with pytest.raises(NonzeroPaddingError, match=f"the {padding} padding bit"):
            parse_packet(forged)


@pytest.mark.timeout(30)
def test_invalid_packets_cannot_be_built_or_encoded():
    fields = dict(message_id=1, seq=0, num_packets=1, modality=Modality.TEXT,
                  frame_shape=(8,), bits_per_token=4, positions=ArithmeticPositions(0, 1, 8),
                  token_ids=np.arange(8))
    TokenPacket(**fields)
    for change, error in [(dict(token_ids=np.arange(8) + 9), HeaderFieldError),
                          (dict(token_ids=np.arange(8) - 1), HeaderFieldError),
                          (dict(token_ids=np.arange(7)), PayloadLengthError),
                          (dict(message_id=0x10000), HeaderFieldError),
                          (dict(modality=7), HeaderFieldError),
                          (dict(frame_shape=(7,)), HeaderFieldError),
                          (dict(positions=np.arange(8)), HeaderFieldError)]:
        with pytest.raises(error):
            TokenPacket(**{**fields, **change})
    # The error names the field, and says what was wrong with it.
    for change, field, words in [(dict(modality=7), "modality", "unknown modality 7"),
                                 (dict(message_id=0x10000), "message_id", "must be 0..65535, got 65536"),
                                 (dict(token_ids=np.arange(8) + 0.5), "token_ids",
                                  "token ids must be integers, got float64"),
                                 (dict(token_ids=np.arange(8) + 9), "token_ids",
                                  r"ids must lie in \[0, 2\*\*4\), got range \[9, 16\]"),
                                 (dict(positions=np.arange(8)), "positions",
                                  "expected ArithmeticPositions or ExplicitPositions, got ndarray"),
                                 (dict(tokenizer=256), "tokenizer", "must be an int 0..255, got 256"),
                                 (dict(frame_shape=(2, 4)), "frame_shape",
                                  r"TEXT frames have 1 dim\(s\), got shape \(2, 4\)")]:
        with pytest.raises(HeaderFieldError, match=words) as info:
            TokenPacket(**{**fields, **change})
        assert info.value.field == field
    with pytest.raises(PayloadLengthError, match="7 token ids for 8 positions"):
        TokenPacket(**{**fields, "token_ids": np.arange(7)})
    pkt = TokenPacket(**fields)
    pkt.token_ids[0] = 16  # arrays stay mutable; encoding re-validates
    with pytest.raises(HeaderFieldError, match="token_ids"):
        encode_packet(pkt)


@pytest.mark.timeout(30)
def test_position_blocks_reject_invalid_fields():
    for args in [(0, 0, 3), (-1, 1, 3), (2 ** 32, 1, 1), (0, 1, 0), (0, 1, 0x10000)]:
        with pytest.raises(HeaderFieldError):
            ArithmeticPositions(*args)
    for indices in [[], [1, 1], [-1], [2 ** 32], np.zeros((2, 2), dtype=int), [0.5]]:
        with pytest.raises(HeaderFieldError):
            ExplicitPositions(indices)


# --------------------------------------------------------------------------
# Fuzzing: anything that parses is a real packet
# --------------------------------------------------------------------------

def assert_parses_only_if_valid(data: bytes):
    try:
        pkt = parse_packet(data)
    except PacketError:
        return
    assert encode_packet(pkt) == data
    assert pkt.token_ids.size == pkt.positions.count
    assert pkt.token_ids.min() >= 0 and pkt.token_ids.max() < 2 ** pkt.bits_per_token
    positions = pkt.position_array()
    assert positions.max() < pkt.frame_size and np.unique(positions).size == positions.size


@fuzz(300, ms_per_example=5)
@given(data=st.binary(max_size=200))
def test_random_bytes_never_parse_into_garbage(data):
    assert_parses_only_if_valid(data)


@fuzz(300, ms_per_example=5)
@given(body=st.binary(max_size=120))
def test_random_sealed_bodies_never_parse_into_garbage(body):
    """With the right magic, version and CRC, only the field checks stand
    between random bytes and a returned packet."""
    assert_parses_only_if_valid(seal(b"TK\x01" + body))


@fuzz(300, ms_per_example=5)
@given(pkt=token_packets(bits=st.integers(1, 16)), data=st.data())
def test_resealed_mutations_of_valid_packets_never_parse_into_garbage(pkt, data):
    body = bytearray(encode_packet(pkt)[:-4])
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(body) - 1), st.integers(0, 255)),
                               min_size=1, max_size=4))
    for offset, value in edits:
        body[offset] = value
    assert_parses_only_if_valid(seal(bytes(body)))


@fuzz(300, ms_per_example=5)
@given(pkt=token_packets(bits=st.integers(1, 16)), data=st.data())
def test_corrupted_packets_are_never_accepted(pkt, data):
    """A wrong accept is a corrupted packet that parses: bytes changed on the
    air (not resealed) must always fail the CRC-32 or a field check."""
    wire = bytearray(encode_packet(pkt))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(wire) - 1), st.integers(1, 255)),
                               min_size=1, max_size=8, unique_by=lambda edit: edit[0]))
    for offset, flip in edits:
        wire[offset] ^= flip
    with pytest.raises(PacketError):
        parse_packet(bytes(wire))


# --------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------

@pytest.mark.timeout(30)
@FAST
@given(n=st.integers(0, 1000), tokens_per_packet=st.integers(1, 100),
       name=st.sampled_from(STRATEGIES))
def test_assignment_is_a_partition(n, tokens_per_packet, name):
    aggregation = make_aggregation(name, tokens_per_packet)
    groups = aggregation.assign(n)
    assert len(groups) == aggregation.num_packets(n) == -(-n // tokens_per_packet)
    assert all(g.dtype == np.int64 and 1 <= g.size <= tokens_per_packet for g in groups)
    everything = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
    assert np.array_equal(np.sort(everything), np.arange(n))
    blocks = aggregation.describe(n)
    # Both strategies fit the compact header.
    assert all(isinstance(b, ArithmeticPositions) for b in blocks)
    assert all(np.array_equal(b.to_array(), g) for b, g in zip(blocks, groups))


@pytest.mark.timeout(30)
@FAST
@given(n=st.integers(1, 1000), tokens_per_packet=st.integers(1, 100))
def test_strategy_definitions(n, tokens_per_packet):
    sequential = SequentialAggregation(tokens_per_packet).assign(n)
    for k, group in enumerate(sequential):
        assert np.array_equal(group, np.arange(k * tokens_per_packet,
                                               min((k + 1) * tokens_per_packet, n)))
    interleaved = InterleavedAggregation(tokens_per_packet).assign(n)
    num_packets = len(interleaved)
    for k, group in enumerate(interleaved):
        assert np.array_equal(group % num_packets, np.full(group.size, k))


@pytest.mark.timeout(30)
@FAST
@given(n=st.integers(2, 600), tokens_per_packet=st.integers(2, 32), data=st.data())
def test_interleaving_spreads_a_burst_of_lost_packets(n, tokens_per_packet, data):
    """Losing B < P consecutive packets erases runs of at most B neighbouring
    tokens (and at most B of any P consecutive positions); sequentially, the
    same burst erases one contiguous block."""
    num_packets = -(-n // tokens_per_packet)
    assume(num_packets >= 2)
    burst = data.draw(st.integers(1, num_packets - 1))
    first = data.draw(st.integers(0, num_packets - burst))
    lost = range(first, first + burst)

    def erased_mask(aggregation):
        mask = np.zeros(n, dtype=bool)
        for seq in lost:
            mask[aggregation.assign(n)[seq]] = True
        return mask

    interleaved = erased_mask(InterleavedAggregation(tokens_per_packet))
    assert longest_run(interleaved) == burst
    windows = np.lib.stride_tricks.sliding_window_view(interleaved, num_packets)
    assert windows.sum(axis=1).max() <= burst

    sequential = erased_mask(SequentialAggregation(tokens_per_packet))
    assert longest_run(sequential) == sequential.sum() >= longest_run(interleaved)


def longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for erased in mask:
        run = run + 1 if erased else 0
        best = max(best, run)
    return best


@pytest.mark.timeout(30)
def test_make_aggregation():
    assert isinstance(make_aggregation("sequential", 4), SequentialAggregation)
    assert isinstance(make_aggregation(" Interleaved ", 4), InterleavedAggregation)
    assert make_aggregation("interleaved", 4).tokens_per_packet == 4
    with pytest.raises(ValueError, match="known"):
        make_aggregation("sempa", 4)
    for bad in (0, 0x10000):
        with pytest.raises(ValueError, match="tokens_per_packet"):
            make_aggregation("sequential", bad)
    with pytest.raises(TypeError):
        make_aggregation("sequential", 2.5)


@pytest.mark.timeout(30)
def test_describe_positions():
    assert describe_positions([5]) == ArithmeticPositions(5, 1, 1)
    assert describe_positions([3, 7, 11]) == ArithmeticPositions(3, 4, 3)
    assert isinstance(describe_positions([3, 1, 2]), ExplicitPositions)
    assert isinstance(describe_positions([0, 1, 3]), ExplicitPositions)
    assert isinstance(describe_positions([4, 2, 0]), ExplicitPositions)  # strides are positive


# --------------------------------------------------------------------------
# Packetize / depacketize
# --------------------------------------------------------------------------

@pytest.mark.timeout(30)
@FAST
@given(frame=token_frames(), name=st.sampled_from(STRATEGIES),
       tokens_per_packet=st.sampled_from(TOKENS_PER_PACKET),
       message_id=st.integers(0, 0xFFFF), order_seed=st.integers(0, 2 ** 32 - 1))
def test_packetize_depacketize_round_trip(frame, name, tokens_per_packet, message_id,
                                          order_seed):
    aggregation = make_aggregation(name, tokens_per_packet)
    packets = packetize(frame, message_id, aggregation)
    assert len(packets) == aggregation.num_packets(len(frame))
    # Arrival order must not matter.
    order = np.random.default_rng(order_seed).permutation(len(packets))
    result = depacketize([packets[i] for i in order])
    assert result.message_id == message_id
    rebuilt = result.frame
    assert np.array_equal(rebuilt.ids, frame.ids) and not rebuilt.erased.any()
    assert (rebuilt.modality, rebuilt.shape, rebuilt.bits_per_token) == (
        frame.modality, frame.shape, frame.bits_per_token)
    stats = result.stats
    assert stats.packets_expected == stats.packets_received == len(packets)
    assert stats.lost_seqs == () and stats.rejected == () and stats.tokens_erased == 0


@pytest.mark.timeout(30)
@FAST
@given(frame=token_frames(), name=st.sampled_from(STRATEGIES),
       tokens_per_packet=st.sampled_from(TOKENS_PER_PACKET), data=st.data())
def test_lost_packets_erase_exactly_their_positions(frame, name, tokens_per_packet, data):
    aggregation = make_aggregation(name, tokens_per_packet)
    packets = packetize(frame, 42, aggregation)
    lost = data.draw(st.sets(st.integers(0, len(packets) - 1), max_size=len(packets) - 1))
    arrived = [p for seq, p in enumerate(packets) if seq not in lost]

    result = depacketize(arrived, message_id=42)

    expected_erased = np.zeros(len(frame), dtype=bool)
    groups = aggregation.assign(len(frame))
    for seq in lost:
        expected_erased[groups[seq]] = True
    assert np.array_equal(result.frame.erased, expected_erased)
    assert np.array_equal(result.frame.ids[~expected_erased], frame.ids[~expected_erased])
    assert not result.frame.ids[expected_erased].any()
    assert result.stats.lost_seqs == tuple(sorted(lost))
    assert result.stats.packets_lost == len(lost)
    assert result.stats.tokens_erased == expected_erased.sum()


@pytest.mark.timeout(30)
@FAST
@given(frame=token_frames(max_text=100), name=st.sampled_from(STRATEGIES),
       tokens_per_packet=st.sampled_from(TOKENS_PER_PACKET),
       junk=st.lists(st.binary(max_size=80), max_size=5), data=st.data())
def test_malformed_inputs_are_counted_and_never_used(frame, name, tokens_per_packet, junk,
                                                     data):
    aggregation = make_aggregation(name, tokens_per_packet)
    packets = packetize(frame, 3, aggregation)
    corrupted = bytearray(packets[0])
    corrupted[data.draw(st.integers(0, len(corrupted) - 1))] ^= 0x01
    inputs = packets[1:] + [bytes(corrupted)] + junk
    # The geometry is given in case packet 0 was the only one.
    result = depacketize(inputs, expected=FrameGeometry.from_frame(frame, aggregation))
    assert result.stats.num_malformed == 1 + len(junk)
    assert [r.index for r in result.stats.rejected] == list(range(len(packets) - 1, len(inputs)))
    assert all(isinstance(r.error, PacketError) for r in result.stats.rejected)
    assert result.stats.lost_seqs == (0,)
    group = aggregation.assign(len(frame))[0]
    assert result.frame.erased.sum() == group.size and result.frame.erased[group].all()
    kept = ~result.frame.erased
    assert np.array_equal(result.frame.ids[kept], frame.ids[kept])


@pytest.mark.timeout(30)
def test_inputs_may_be_parsed_packets_or_any_bytes_like():
    frame = text_frame(40)
    packets = packetize(frame, 5, SequentialAggregation(8))
    mixed = [parse_packet(packets[0]), bytearray(packets[1]), memoryview(packets[2]),
             np.frombuffer(packets[3], dtype=np.uint8), packets[4]]
    result = depacketize(mixed)
    assert np.array_equal(result.frame.ids, frame.ids) and result.stats.packets_lost == 0
    with pytest.raises(TypeError):
        depacketize(packets + ["not a packet"])


@pytest.mark.timeout(30)
def test_foreign_messages_are_ignored():
    frame = text_frame(40, seed=1)
    other = text_frame(40, seed=2)
    ours = packetize(frame, 10, InterleavedAggregation(8))
    theirs = packetize(other, 11, InterleavedAggregation(8))
    mixed = [theirs[0], ours[0], ours[1], theirs[1], ours[2], ours[3], ours[4]]
    # Without a message id, the one most packets carry wins.
    result = depacketize(mixed)
    assert result.message_id == 10 and result.stats.foreign_packets == 2
    assert np.array_equal(result.frame.ids, frame.ids)
    # With one, the others are foreign even if they are the majority.
    result = depacketize(mixed, message_id=11)
    assert result.stats.foreign_packets == 5 and result.stats.lost_seqs == (2, 3, 4)
    assert np.array_equal(result.frame.ids[~result.frame.erased],
                          other.ids[~result.frame.erased])


@pytest.mark.timeout(30)
def test_duplicates_used_once_and_conflicting_copies_rejected():
    frame = text_frame(40)
    packets = packetize(frame, 1, SequentialAggregation(8))
    result = depacketize(packets + [packets[2], packets[2]])
    assert result.stats.duplicate_packets == 2 and result.stats.rejected == ()
    assert np.array_equal(result.frame.ids, frame.ids)

    forged = parse_packet(packets[2])
    forged.token_ids = (forged.token_ids + 1) % 2 ** 10
    result = depacketize(packets + [forged])
    assert result.stats.lost_seqs == (2,) and result.stats.num_conflicts == 2
    assert np.array_equal(np.flatnonzero(result.frame.erased), np.arange(16, 24))


@pytest.mark.timeout(30)
def test_packet_count_mismatch_is_a_conflict():
    frame = text_frame(40)
    packets = packetize(frame, 1, SequentialAggregation(8))          # 5 packets
    stray = packetize(frame, 1, SequentialAggregation(10))[3]        # 1 of 4 packets
    result = depacketize(packets[:4] + [stray])
    assert result.stats.packets_expected == 5
    assert [(r.index, r.kind) for r in result.stats.rejected] == [(4, "conflict")]
    assert "packet count 4 vs 5" in result.stats.rejected[0].reason
    assert result.stats.lost_seqs == (4,)
    assert np.array_equal(np.flatnonzero(result.frame.erased), np.arange(32, 40))


@pytest.mark.timeout(30)
def test_packets_claiming_the_same_positions_are_rejected():
    frame = text_frame(40)
    packets = build_packets(frame, 1, SequentialAggregation(8))
    impostor = TokenPacket(message_id=1, seq=4, num_packets=5, modality=Modality.TEXT,
                           frame_shape=(40,), bits_per_token=10,
                           positions=packets[3].positions, token_ids=packets[3].token_ids)
    result = depacketize(packets[:4] + [impostor])
    assert result.stats.lost_seqs == (3, 4) and result.stats.num_conflicts == 2
    assert np.array_equal(np.flatnonzero(result.frame.erased), np.arange(24, 40))


@pytest.mark.timeout(30)
def test_no_packet_needs_expected_geometry():
    geometry = FrameGeometry(Modality.IMAGE, (4, 4), 10, num_packets=4)
    result = depacketize([b"garbage"], expected=geometry)
    assert result.frame.erased.all() and result.frame.shape == (4, 4)
    assert result.stats.lost_seqs == (0, 1, 2, 3) and result.stats.num_malformed == 1
    # A template frame gives the geometry but not the packet count.
    result = depacketize([], expected=text_frame(12))
    assert result.frame.erased.all() and result.stats.lost_seqs is None
    with pytest.raises(ReassemblyError, match="expected") as info:
        depacketize([b"garbage", b""])
    assert info.value.stats.num_malformed == 2


@pytest.mark.timeout(30)
def test_expected_geometry_is_authoritative():
    frame = text_frame(40)
    packets = packetize(frame, 1, InterleavedAggregation(8))
    template = TokenFrame(np.zeros(40), Modality.TEXT, (40,), bits_per_token=10)
    result = depacketize(packets[1:], expected=template)
    assert result.stats.packets_expected == 5 and result.stats.lost_seqs == (0,)
    wrong = FrameGeometry(Modality.TEXT, (40,), 12, num_packets=5)
    result = depacketize(packets, expected=wrong)
    assert result.stats.num_conflicts == 5 and result.frame.erased.all()
    assert "bits_per_token 10 vs 12" in result.stats.rejected[0].reason
    geometry = FrameGeometry.from_frame(frame, InterleavedAggregation(8))
    assert geometry.num_packets == 5 and geometry.num_tokens == 40


@pytest.mark.timeout(30)
def test_oversized_frames_are_rejected():
    huge = TokenPacket(message_id=1, seq=0, num_packets=1, modality=Modality.IMAGE,
                       frame_shape=(65536, 65536), bits_per_token=8,
                       positions=ArithmeticPositions(0, 1, 4), token_ids=[1, 2, 3, 4])
    with pytest.raises(ReassemblyError) as info:
        depacketize([encode_packet(huge)])
    assert info.value.stats.rejected[0].kind == "oversized"


@pytest.mark.timeout(30)
def test_content_aware_groups_use_explicit_positions():
    """A strategy with arbitrary groups (as semantic packet aggregation will
    produce) round-trips through explicit position lists."""

    class Shuffled(Aggregation):
        name = "shuffled"

        def assign(self, n_tokens):
            order = np.random.default_rng(0).permutation(n_tokens)
            return np.array_split(order, self.num_packets(n_tokens))

    frame = text_frame(50)
    aggregation = Shuffled(8)
    packets = build_packets(frame, 2, aggregation)
    assert any(isinstance(p.positions, ExplicitPositions) for p in packets)
    encoded = [encode_packet(p) for p in packets]
    result = depacketize(encoded[1:])
    assert np.array_equal(np.flatnonzero(result.frame.erased),
                          np.sort(aggregation.assign(50)[0]))
    assert np.array_equal(result.frame.ids[~result.frame.erased],
                          frame.ids[~result.frame.erased])


@pytest.mark.timeout(30)
def test_packetize_rejects_what_it_cannot_send():
    frame = text_frame(40)
    frame.erased[3] = True
    with pytest.raises(ValueError, match="erased"):
        packetize(frame, 1, SequentialAggregation(8))
    with pytest.raises(ValueError, match="message_id"):
        packetize(text_frame(40), 0x10000, SequentialAggregation(8))
    flat_image = TokenFrame(np.zeros(16), Modality.IMAGE, (16,), bits_per_token=4)
    with pytest.raises(HeaderFieldError, match="frame_shape"):
        packetize(flat_image, 1, SequentialAggregation(8))
    with pytest.raises(ValueError, match="65535"):
        packetize(text_frame(0x10000, bits=1), 1, SequentialAggregation(1))

    class Overlapping(Aggregation):
        def assign(self, n_tokens):
            return [np.arange(n_tokens), np.arange(n_tokens)]

    with pytest.raises(ValueError, match="exactly one packet"):
        packetize(text_frame(8), 1, Overlapping(8))


@pytest.mark.timeout(30)
def test_empty_frame_sends_nothing():
    empty = TokenFrame(np.zeros(0), Modality.TEXT, (0,), bits_per_token=8)
    assert packetize(empty, 1, InterleavedAggregation(4)) == []
    result = depacketize([], expected=FrameGeometry.from_frame(empty, InterleavedAggregation(4)))
    assert len(result.frame) == 0 and result.stats.lost_seqs == ()
