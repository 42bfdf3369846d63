"""Token budget at the link layer: masked position blocks on the wire, and
packets that carry only the kept positions, the rest arriving as erasures."""

import struct
import zlib

import numpy as np
import pytest

from tokencom_sdr.link import (BudgetedAggregation, FrameGeometry, HeaderFieldError, PacketTooShortError,
                               MaskedPositions, budget_positions, budget_size, check_budget,
                               depacketize, encode_packet, header_size, make_aggregation,
                               packetize, parse_packet)
from tokencom_sdr.link.packet import payload_size
from tokencom_sdr.link.budget import parse_budget
from tokencom_sdr.tokens.frame import Modality, TokenFrame


def text_frame(n=100, seed=0):
    ids = np.random.default_rng(seed).integers(0, 4096, n)
    return TokenFrame(ids, Modality.TEXT, (n,), 12)


def masked_body(start, stride, span, mask_bytes, *, n=16, payload=b"\x00\x00"):
    """A text packet of 8-bit tokens over an ``n``-token frame with a masked block."""
    body = struct.pack(">2sBBBHHHBB", b"TK", 2, 0, 0, 1, 0, 1, 8, 1) + struct.pack(">I", n)
    body += bytes([2]) + struct.pack(">IIH", start, stride, span) + mask_bytes + payload
    return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.timeout(30)
def test_masked_block_round_trips_and_costs_one_bit_a_member():
    mask = np.zeros(20, bool)
    mask[[0, 3, 19]] = True
    block = MaskedPositions(5, 4, mask)
    assert block.to_array().tolist() == [5, 17, 81]
    assert block.count == 3 and block.last == 81
    # magic..ndim 13, one dim 4, mode 1, start/stride/span 10, 20 bits -> 3 bytes
    assert header_size(1, block) == 13 + 4 + 1 + 10 + 3
    # A whole number of mask bytes takes no byte more: 16 bits are 2 bytes,
    # and the header the size says is the one on the wire.
    kept = [p for p in range(16) if p not in (2, 7, 11)]
    sixteen = MaskedPositions(0, 1, np.isin(np.arange(16), kept))
    assert header_size(1, sixteen) == 13 + 4 + 1 + 10 + 2
    [wire16] = packetize(text_frame(16), 9, BudgetedAggregation(kept, 16, 16))
    assert parse_packet(wire16).positions.span == 16
    assert len(wire16) == header_size(1, sixteen) + payload_size(13, 12) + 4
    frame = text_frame(100)
    agg = BudgetedAggregation([5, 17, 81], 100, 8)
    [wire] = packetize(frame, 9, agg)
    packet = parse_packet(wire)
    assert packet.position_array().tolist() == [5, 17, 81]
    assert packet.token_ids.tolist() == frame.ids[[5, 17, 81]].tolist()
    assert encode_packet(packet) == wire


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mask_bytes, n, what", [
    (bytes([0b10000001]), 16, "padding bit"),     # span 4: bit 7 is padding
    (bytes([0b00000000]), 16, "1..65535"),        # nothing carried
    (bytes([0b00010000]), 3, "outside the frame"),  # member 3 -> position 3 of a 3-token frame
])
def test_bad_masked_blocks_are_header_errors(mask_bytes, n, what):
    data = masked_body(0, 1, 4, mask_bytes, n=n, payload=b"\x07")
    with pytest.raises(HeaderFieldError, match=what) as info:
        parse_packet(data)
    assert info.value.field == "positions"


@pytest.mark.timeout(30)
def test_masked_block_errors_name_the_field_and_the_bits():
    with pytest.raises(HeaderFieldError) as info:
        parse_packet(masked_body(0, 1, 4, bytes([0b10000001]), payload=b"\x07"))
    assert info.value.field == "positions"
    assert str(info.value) == "positions: the 4 padding bit(s) after the mask of 4 positions must be zero"
    # Cut (and resealed) inside the start/stride/span field, then inside
    # the mask: a short header, named where it ends.
    body = masked_body(0, 1, 20, bytes([0xFF, 0xFF, 0xF0]), n=32, payload=bytes(20))[:-4]
    for cut, where in ((25, "the masked positions field"), (29, "the mask of 20 positions")):
        forged = body[:cut] + struct.pack(">I", zlib.crc32(body[:cut]))
        with pytest.raises(PacketTooShortError, match=f"^header ends inside {where}: "):
            parse_packet(forged)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75])
def test_budget_packets_carry_exactly_the_kept_positions(alpha):
    frame = text_frame(101, seed=1)
    importance = np.random.default_rng(2).random(101)
    kept = budget_positions(101, alpha, "importance", importance)
    assert kept.size == budget_size(101, alpha)
    # the kept ones are the most important
    assert importance[kept].min() >= np.delete(importance, kept).max()
    packets = packetize(frame, 3, BudgetedAggregation(kept, 101, 8))
    received = depacketize(packets).frame
    assert np.flatnonzero(~received.erased).tolist() == kept.tolist()
    assert np.array_equal(received.ids[kept], frame.ids[kept])
    assert not received.ids[received.erased].any()
    # Headers name every position, so losing a packet erases just its tokens.
    partial = depacketize(packets[1:], 3, expected=FrameGeometry.from_frame(frame)).frame
    first = parse_packet(packets[0]).position_array()
    assert set(np.flatnonzero(partial.erased)) == set(range(101)) - set(kept) | set(first)
    # Fewer bytes on the air than sending everything.
    full = packetize(frame, 3, make_aggregation("interleaved", 8))
    assert sum(map(len, packets)) < sum(map(len, full))


@pytest.mark.timeout(30)
def test_full_budget_is_plain_interleaving():
    frame = text_frame(90)
    agg = BudgetedAggregation(np.arange(90), 90, 8)
    assert packetize(frame, 2, agg) == packetize(frame, 2, make_aggregation("interleaved", 8))
    assert agg.position_bits() == 0


@pytest.mark.timeout(30)
def test_position_bits_are_the_bitmaps_on_the_wire():
    # What a budget adds to plain interleaving's headers: each packet's
    # bitmap, one bit per member of its progression, padded to bytes.
    kept = np.sort(np.random.default_rng(4).permutation(400)[:300])
    agg = BudgetedAggregation(kept, 400, 16)
    blocks = agg.describe(400)
    assert all(isinstance(block, MaskedPositions) for block in blocks)
    assert agg.position_bits() == 8 * sum(-(-block.span // 8) for block in blocks)
    assert 400 <= agg.position_bits() < 400 + 8 * len(blocks)
    # On the wire: a plain progression's header and CRC per packet, the
    # bitmaps, and the kept tokens (each packet's payload padded to bytes).
    frame = text_frame(400)
    sent = packetize(frame, 3, agg)
    plain = len(packetize(frame, 3, make_aggregation("interleaved", 400))[0]) \
        - payload_size(400, 12)
    payload = sum(payload_size(block.count, 12) for block in blocks)
    assert 8 * sum(map(len, sent)) == 8 * (len(sent) * plain + payload) + agg.position_bits()


@pytest.mark.timeout(30)
def test_random_order_is_seeded_and_not_the_importance_order():
    importance = np.arange(64, dtype=float)
    top = budget_positions(64, 0.5, "importance", importance)
    assert top.tolist() == list(range(32, 64))
    one = budget_positions(64, 0.5, "random", rng=np.random.default_rng(5))
    again = budget_positions(64, 0.5, "random", rng=np.random.default_rng(5))
    assert np.array_equal(one, again) and not np.array_equal(one, top)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("value", ["0", "-0.1", "1.5", "nan", "abc", "", True])
def test_bad_budgets_are_one_line_errors(value):
    with pytest.raises(ValueError, match=r"--budget must") as info:
        check_budget(value)
    assert "\n" not in str(info.value)


@pytest.mark.timeout(30)
def test_budget_sizes():
    assert check_budget("0.5") == 0.5 and check_budget(1) == 1.0
    assert parse_budget("0.25") == 0.25
    assert [budget_size(10, a) for a in (0.01, 0.3, 0.5, 1.0)] == [1, 3, 5, 10]
    with pytest.raises(ValueError, match="importance"):
        budget_positions(10, 0.5, "importance")
    with pytest.raises(ValueError, match="budget-order"):
        budget_positions(10, 0.5, "loudest")
