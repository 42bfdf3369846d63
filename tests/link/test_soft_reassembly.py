"""Soft reassembly of CRC-failed packets, checked value by value (issue 19:
the stream tests in ``test_receiver.py`` exercise it only through recovery,
so mutmut found its hard-decision path and its matching limits untested).
"""

import numpy as np
import pytest

from tokencom_sdr.link import FrameGeometry, InterleavedAggregation, packetize
from tokencom_sdr.link.aggregation import FixedGrouping
from tokencom_sdr.link.layout import MessageLayout, expected_packets
from tokencom_sdr.link.receiver.soft_reassembly import (MAX_HEADER_BIT_ERROR_SHARE,
                                                        soft_depacketize)
from tokencom_sdr.phy.received_burst import ReceivedBurst
from tokencom_sdr.tokens.frame import Modality, TokenFrame
from tokencom_sdr.tokens.soft import LLR_CLIP

pytestmark = pytest.mark.timeout(30)
MESSAGE_ID = 0x2A2A
TOKENS_PER_PACKET = 5


@pytest.fixture()
def message():
    """A 20-token text frame of 12-bit ids in 4 interleaved packets, and its layout."""
    ids = np.array([(37 * i + 11) % 4096 for i in range(20)])
    frame = TokenFrame(ids, Modality.TEXT, (20,), 12)
    aggregation = InterleavedAggregation(TOKENS_PER_PACKET)
    layout = MessageLayout(FrameGeometry.from_frame(frame, aggregation), aggregation)
    return frame, packetize(frame, MESSAGE_ID, aggregation), layout


def flip(packet: bytes, bit_positions) -> bytes:
    bits = np.unpackbits(np.frombuffer(packet, np.uint8))
    bits[list(bit_positions)] ^= 1
    return np.packbits(bits).tobytes()


def test_hard_decisions_get_the_llr_of_the_bit_error_rate_the_headers_show(message):
    """Packets 0 and 1 arrive intact, packet 2 as hard bits with 3 header
    and 2 payload bit errors, packet 3 not at all. The headers are pilots:
    p = (3 + 0.5) / (all compared header bits + 1), every bit of packet 2's
    tokens gets +-log((1 - p) / p) with the sign of the bit received."""
    frame, packets, layout = message
    templates = expected_packets(layout, MESSAGE_ID)
    header_bits = [8 * header_bytes for _, header_bytes, _ in templates]
    damaged = flip(packets[2], [3, 40, 100, header_bits[2] + 1, header_bits[2] + 30])
    result = soft_depacketize([packets[0], damaged, packets[1]], MESSAGE_ID, layout)

    assert result.failed_packets_used == 1 and result.matches == [(1, 2)]
    p = (3 + 0.5) / (header_bits[0] + header_bits[1] + header_bits[2] + 1.0)
    assert result.header_bit_error_rate == pytest.approx(p)
    llrs = result.received.soft.llrs
    positions = templates[2][2]
    received_bits = np.unpackbits(np.frombuffer(damaged, np.uint8))
    token_bits = received_bits[header_bits[2]:header_bits[2] + 12 * positions.size]
    expected = (1.0 - 2.0 * token_bits.reshape(positions.size, 12)) * np.log((1 - p) / p)
    np.testing.assert_allclose(llrs[positions], expected, rtol=1e-6)
    # Delivered tokens are certain, the lost packet's carry nothing.
    for seq in (0, 1):
        sent = np.unpackbits(frame.ids[templates[seq][2]].astype(">u2").view(np.uint8))
        sent = sent.reshape(-1, 16)[:, 4:]
        np.testing.assert_array_equal(llrs[templates[seq][2]], (1.0 - 2.0 * sent) * LLR_CLIP)
    assert not llrs[templates[3][2]].any()
    assert result.received.frame.erased[templates[2][2]].all()  # soft, not delivered


def test_phy_llrs_are_used_as_they_are_and_estimate_no_bit_error_rate(message):
    _, packets, layout = message
    templates = expected_packets(layout, MESSAGE_ID)
    damaged = flip(packets[3], [len(packets[3]) * 8 - 1])  # the CRC's last bit
    llr = np.linspace(-5, 5, 8 * len(damaged)).astype(np.float32)
    burst = ReceivedBurst(damaged, bit_llr=llr)
    result = soft_depacketize([packets[0], burst], MESSAGE_ID, layout)
    assert result.header_bit_error_rate is None and result.matches == [(1, 3)]
    start, positions = 8 * templates[3][1], templates[3][2]
    np.testing.assert_array_equal(result.received.soft.llrs[positions],
                                  llr[start:start + 12 * positions.size].reshape(-1, 12))


def test_a_failed_packet_is_matched_up_to_15_percent_of_header_bits_wrong(message):
    """Packet 1 with errors in its first 40 header bits (magic to tokenizer,
    the same in every packet's header, so packet 1's header stays the
    closest): 33 of its 224 header bits wrong still match it, 34 (over
    15 %) match nothing."""
    _, packets, layout = message
    header_bits = 8 * expected_packets(layout, MESSAGE_ID)[1][1]
    limit = int(MAX_HEADER_BIT_ERROR_SHARE * header_bits)
    assert (header_bits, limit) == (224, 33)
    just_close = flip(packets[1], range(limit))
    too_far = flip(packets[1], range(limit + 1))
    assert soft_depacketize([packets[0], just_close], MESSAGE_ID, layout).matches == [(1, 1)]
    assert soft_depacketize([packets[0], too_far], MESSAGE_ID, layout).matches == []


def test_without_an_aggregation_failed_packets_are_not_placed(message):
    frame, packets, layout = message
    no_aggregation = MessageLayout(layout.geometry, None)
    result = soft_depacketize([packets[0], flip(packets[1], [100])], MESSAGE_ID, no_aggregation)
    assert result.failed_packets_used == 0 and result.header_bit_error_rate is None
    assert result.reassembly.stats.received_seqs == (0,)
    templates = expected_packets(layout, MESSAGE_ID)
    assert np.abs(result.received.soft.llrs[templates[0][2]]).min() == LLR_CLIP
    assert not result.received.soft.llrs[templates[1][2]].any()


def test_the_15_percent_limit_is_inclusive_where_it_is_a_whole_number_of_bits():
    """Explicit position blocks of 5 tokens make a 40-byte header: 15 % of
    its 320 bits is exactly 48. A packet with 48 wrong bits, all in the
    fields every header of the message shares (magic to message id), is
    still matched; 49 are not (the limit is ``errors > 15 %``, not ``>=``)."""
    groups = [[0, 1, 3, 7, 12], [2, 4, 5, 9, 19], [6, 8, 10, 15, 17], [11, 13, 14, 16, 18]]
    frame = TokenFrame(np.array([(37 * i + 11) % 4096 for i in range(20)]), Modality.TEXT, (20,), 12)
    aggregation = FixedGrouping(groups, TOKENS_PER_PACKET)
    layout = MessageLayout(FrameGeometry.from_frame(frame, aggregation), aggregation)
    packets = packetize(frame, MESSAGE_ID, aggregation)
    header_bits = 8 * expected_packets(layout, MESSAGE_ID)[1][1]
    assert (header_bits, MAX_HEADER_BIT_ERROR_SHARE * header_bits) == (320, 48.0)
    at_the_limit = flip(packets[1], range(48))
    over_it = flip(packets[1], range(49))
    assert soft_depacketize([packets[0], at_the_limit], MESSAGE_ID, layout).matches == [(1, 1)]
    assert soft_depacketize([packets[0], over_it], MESSAGE_ID, layout).matches == []


def test_only_the_message_asked_for_is_rebuilt(message):
    """Packet 0 of this message among packets 1 and 2 of another message
    with the same layout (a majority that is not ours): only packet 0's
    tokens are delivered, the other message's are not taken for ours."""
    frame, packets, layout = message
    other_frame = TokenFrame((frame.ids + 1) % 4096, Modality.TEXT, (20,), 12)
    other = packetize(other_frame, MESSAGE_ID + 1, layout.aggregation)
    result = soft_depacketize([packets[0], other[1], other[2]], MESSAGE_ID, layout)
    assert result.reassembly.stats.received_seqs == (0,) and result.matches == []
    templates = expected_packets(layout, MESSAGE_ID)
    delivered = ~result.received.frame.erased
    np.testing.assert_array_equal(np.flatnonzero(delivered), np.sort(templates[0][2]))
    np.testing.assert_array_equal(result.received.frame.ids[delivered], frame.ids[delivered])


def test_a_one_token_message_s_failed_packet_is_placed():
    """The smallest message, one token in one packet, arriving with one
    payload bit wrong: its token gets the packet's soft bits."""
    frame = TokenFrame(np.array([1234]), Modality.TEXT, (1,), 12)
    aggregation = InterleavedAggregation(TOKENS_PER_PACKET)
    layout = MessageLayout(FrameGeometry.from_frame(frame, aggregation), aggregation)
    [packet] = packetize(frame, MESSAGE_ID, aggregation)
    header_bits = 8 * expected_packets(layout, MESSAGE_ID)[0][1]
    result = soft_depacketize([flip(packet, [header_bits])], MESSAGE_ID, layout)
    assert result.matches == [(0, 0)] and result.received.frame.erased.all()
    hard = (result.received.soft.llrs[0] < 0).astype(np.uint8)
    sent = np.unpackbits(np.array([1234], ">u2").view(np.uint8))[4:]
    np.testing.assert_array_equal(hard, sent ^ np.eye(12, dtype=np.uint8)[0])


def test_a_header_too_far_from_one_open_packet_is_still_matched_to_the_next(message):
    """Packets 1 and 2 missing; packet 2 arrives with 33 wrong bits in the
    fields every header shares. Its distance to packet 1's header (33 plus
    the bits where the two headers differ) is over 15 %, to its own exactly
    33: it is matched to packet 2, the search going on past packet 1."""
    _, packets, layout = message
    damaged = flip(packets[2], range(33))
    result = soft_depacketize([packets[0], damaged, packets[3]], MESSAGE_ID, layout)
    assert result.matches == [(1, 2)]


def test_with_llrs_the_most_likely_header_wins_over_the_nearest(message):
    """Packets 1 and 2 missing; packet 1 arrives with most of the header bits
    where its header differs from packet 2's flipped, each with an LLR near
    0, and confident LLRs elsewhere. By bit count it is nearer packet 2; by
    LLR weight (maximum likelihood), packet 1, which is where it goes."""
    _, packets, layout = message
    templates = expected_packets(layout, MESSAGE_ID)
    header_bytes = templates[1][1]

    def header_bits(packet):
        return np.unpackbits(np.frombuffer(packet[:header_bytes], np.uint8))

    differ = np.flatnonzero(header_bits(templates[1][0]) != header_bits(templates[2][0]))
    flipped = differ[:len(differ) // 2 + 1]
    received = flip(packets[1], flipped)
    llr = 10.0 * (1.0 - 2.0 * np.unpackbits(np.frombuffer(received, np.uint8)))
    llr[flipped] *= 0.01
    burst = ReceivedBurst(received, bit_llr=llr.astype(np.float32))
    assert len(flipped) > len(differ) - len(flipped)  # nearer packet 2 in bits
    result = soft_depacketize([packets[0], burst, packets[3]], MESSAGE_ID, layout)
    assert result.matches == [(1, 1)]


def test_two_damaged_copies_of_one_packet_fill_its_place_once(message):
    """Packet 1 arrives twice, CRC-failed both times (1 and 2 header bits
    wrong): the closer copy takes packet 1's place, the other none."""
    _, packets, layout = message
    copies = [flip(packets[1], [100]), flip(packets[1], [101, 102])]
    result = soft_depacketize([packets[0], *copies, packets[2], packets[3]], MESSAGE_ID, layout)
    assert result.matches == [(1, 1)] and result.failed_packets_used == 1
