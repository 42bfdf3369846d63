"""The receiver library (link/receiver): one message assembler, layouts read
off the packets, soft reassembly and recovery from the packets alone, and
the one PHY -> link type with its PMT encoding."""

import numpy as np
import pmt
import pytest

from tokencom_sdr.channel.soft_bit_channel import SoftBitChannel
from tokencom_sdr.link import (ExplicitPositions, FrameGeometry, InterleavedAggregation,
                               TokenPacket, build_packets, encode_packet,
                               make_aggregation, packetize, parse_packet)
from tokencom_sdr.link.layout import MessageLayout, infer_layout
from tokencom_sdr.link.packet import MESSAGE_ID_OFFSET
from tokencom_sdr.link.receiver import (COMPLETE, FAILED_ONLY, STOPPED, SUPERSEDED, TIMEOUT,
                                        MessageAssembler,
                                        StreamReceiver, TokenReceiver, receiver_estimates,
                                        score_text)
from tokencom_sdr.link.receiver.layout_estimate import estimate_layout
from tokencom_sdr.phy.received_burst import ReceivedBurst
from tokencom_sdr.tokens.frame import Modality, TokenFrame
from tokencom_sdr.tokens.registry import CUSTOM_TOKENIZER
from tokencom_sdr.tokens.text_bpe import ERASED_MARKER

TEXT = ("The night shift logged three faults on the pump at station four; the spare seal "
        "arrived on Monday and the crew replaced it before the morning inspection.")

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("one_torch_thread")]


def text_packets(tokenizer, text=TEXT, message_id=5, aggregation="interleaved", per_packet=6):
    frame = tokenizer.encode_frame(text)
    return frame, packetize(frame, message_id, make_aggregation(aggregation, per_packet))


def corrupt(packet: bytes, byte: int) -> ReceivedBurst:
    data = bytearray(packet)
    data[byte] ^= 0x04
    return ReceivedBurst(bytes(data))


# ------------------------------------------------------------------ ReceivedBurst
def test_received_burst_pmt_round_trip():
    llr = np.linspace(-3, 3, 8 * 5).astype(np.float32)
    burst = ReceivedBurst(b"\x01\x02\x03\x04\x05", "qpsk-1/2", False, 4.5, -0.01, 17, 1234,
                          llr, np.arange(100, dtype=np.float32))
    back = ReceivedBurst.from_pdu(burst.to_pdu())
    assert back.data == burst.data and back.meta() == burst.meta()
    np.testing.assert_array_equal(back.bit_llr, llr)
    np.testing.assert_array_equal(back.code_llr, burst.code_llr)
    bare = ReceivedBurst.from_pdu(pmt.init_u8vector(3, [7, 8, 9]))
    assert bare.data == b"\x07\x08\x09" and bare.meta() == {}


def test_received_burst_pdu_with_ill_typed_metadata_keeps_only_what_is_right():
    meta = pmt.make_dict()
    for key, value in (("mcs", pmt.from_long(3)), ("fec_ok", pmt.intern("yes")),
                       ("snr_db", pmt.from_double(float("nan"))), ("cfo", pmt.from_double(0.25)),
                       ("bit_llr", pmt.init_f32vector(3, [1.0, 2.0, 3.0])),  # wrong length
                       ("start_sample", pmt.from_double(1.5)), ("other", pmt.PMT_T)):
        meta = pmt.dict_add(meta, pmt.intern(key), value)
    burst = ReceivedBurst.from_pdu(pmt.cons(meta, pmt.init_u8vector(2, [1, 2])))
    assert burst.meta() == {"cfo": 0.25}
    assert burst.bit_llr is None
    for bad in (pmt.intern("text"), pmt.cons(pmt.make_dict(), pmt.init_f32vector(1, [1.0]))):
        with pytest.raises(ValueError, match="byte PDU"):
            ReceivedBurst.from_pdu(bad)


# ------------------------------------------------------------------ layouts
@pytest.mark.parametrize("aggregation,per_packet", [("interleaved", 6), ("sequential", 7),
                                                    ("interleaved", 1000)])
def test_layout_is_read_off_any_packet(tokenizer, aggregation, per_packet):
    frame, packets = text_packets(tokenizer, aggregation=aggregation, per_packet=per_packet)
    for packet in packets:
        layout = infer_layout([parse_packet(packet)])
        assert layout.geometry == FrameGeometry.from_frame(
            frame, make_aggregation(aggregation, per_packet))
        expected = [encode_packet(p) for p in build_packets(frame, 5, layout.aggregation)]
        assert [len(p) for p in expected] == [len(p) for p in packets]
        assert [parse_packet(p).positions for p in expected] == \
            [parse_packet(p).positions for p in packets]


def test_content_aware_positions_give_a_layout_without_aggregation():
    packet = TokenPacket(message_id=1, seq=0, num_packets=2, modality=Modality.TEXT,
                         frame_shape=(6,), bits_per_token=8,
                         positions=ExplicitPositions([0, 4, 5]), token_ids=[1, 2, 3])
    layout = infer_layout([packet])
    assert layout.aggregation is None and layout.geometry.num_packets == 2


def test_failed_packets_alone_give_the_layout(tokenizer):
    """Every packet fails its CRC (BPSK at 1 dB); their headers combined
    still name the message, the geometry and the aggregation."""
    frame, packets = text_packets(tokenizer, message_id=4242)
    bursts = SoftBitChannel(1.0, seed=3).transmit_all(packets)
    assert not any(_parses(b.data) for b in bursts)
    layout, message_id = estimate_layout(bursts)
    assert message_id == 4242
    assert layout == MessageLayout(FrameGeometry.from_frame(frame, InterleavedAggregation(6)),
                                   InterleavedAggregation(6))
    noise = [ReceivedBurst(np.random.default_rng(i).bytes(len(packets[0]))) for i in range(5)]
    assert TokenReceiver("none").receive(noise) is None


def _parses(data):
    try:
        parse_packet(data)
        return True
    except Exception:
        return False


# ------------------------------------------------------------------ receiver
def test_receiver_needs_nothing_from_the_sender(tokenizer):
    frame, packets = text_packets(tokenizer, message_id=77)
    arrived = [p for seq, p in enumerate(packets) if seq not in (1, 4)]
    raw = TokenReceiver("none").receive(arrived)
    assert raw.message_id == 77 and raw.packets_expected == len(packets)
    assert raw.packets_received == len(packets) - 2 and raw.tokenizer == "bpe-4096"
    erased = raw.frame.erased
    assert erased.sum() == len(range(1, len(frame), len(packets))) + \
        len(range(4, len(frame), len(packets)))
    assert raw.text.count(ERASED_MARKER) == erased.sum() and raw.text == raw.text_raw
    filled = TokenReceiver("fill").receive(arrived)
    assert ERASED_MARKER not in filled.text and not filled.frame.erased.any()
    # Tokens of CRC-good packets are never changed by recovery.
    assert np.array_equal(filled.frame.ids[~erased], frame.ids[~erased])
    scores = score_text(filled, TEXT, tokenizer)
    raw_scores = score_text(raw, TEXT, tokenizer)
    assert scores["token_error_rate"] < raw_scores["token_error_rate"] == pytest.approx(
        erased.mean())
    assert raw_scores["exact"] is False and scores["exact_raw"] is False
    estimate = receiver_estimates(filled)
    assert estimate["token_error_rate_raw"] == pytest.approx(erased.mean())
    assert 0 < estimate["token_error_rate"] < estimate["token_error_rate_raw"]


def test_nothing_received_is_no_message_and_scores_as_lost(tokenizer):
    assert TokenReceiver().receive([]) is None
    assert TokenReceiver().receive([b"\x00" * 40, b"TK garbage"]) is None
    scores = score_text(None, TEXT, tokenizer)
    assert scores["token_error_rate"] == scores["token_error_rate_raw"] == 1.0
    assert not scores["exact"]


def test_soft_values_of_failed_packets_reach_the_context_layer(tokenizer):
    """Packets over a BPSK channel with exact LLRs: CRC-failed ones are
    matched to their sequence numbers by their expected headers and their
    LLRs make soft recovery better than the radio alone."""
    frame, packets = text_packets(tokenizer, per_packet=4)
    bursts = SoftBitChannel(6.0, seed=11).transmit_all(packets)
    good = sum(_parses(b.data) for b in bursts)
    assert 0 < good < len(packets)
    none = TokenReceiver("none").receive(bursts)
    soft = TokenReceiver("soft").receive(bursts)
    assert soft.failed_packets_used == len(packets) - good
    before = score_text(none, TEXT, tokenizer)["token_error_rate"]
    after = score_text(soft, TEXT, tokenizer)["token_error_rate"]
    assert after < 0.5 * before


def test_header_names_the_image_tokenizer():
    """The receiver draws with the tokenizer the packets name; one it does
    not have is reported, not guessed."""
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    image = np.random.default_rng(0).integers(0, 255, size=(32, 48, 3), dtype=np.uint8)
    for name in ("standard", "low-rate"):
        tok = ImageTokenizer.default(name)
        frame = tok.encode_frame(image)
        message = TokenReceiver(image_recovery="none").receive(
            packetize(frame, 3, make_aggregation("interleaved", 16)))
        assert message.tokenizer == name and message.problem is None
        assert message.image.shape == (32, 48, 3)
        np.testing.assert_array_equal(message.image, tok.decode_frame(frame))
    custom = TokenFrame(ids=np.arange(12), modality=Modality.IMAGE, shape=(3, 4),
                        bits_per_token=9, tokenizer=CUSTOM_TOKENIZER)
    message = TokenReceiver().receive(packetize(custom, 1, make_aggregation("interleaved", 4)))
    assert message.image is None and message.tokenizer is None and "tokenizer 255" in message.problem


# ------------------------------------------------------------------ assembler
def bursts_of(packets):
    return [ReceivedBurst(p) for p in packets]


def test_assembler_delivers_complete_superseded_timeout_stopped(tokenizer):
    _, a = text_packets(tokenizer, message_id=10, per_packet=16)
    _, b = text_packets(tokenizer, "second message here", message_id=11, per_packet=2)
    _, c = text_packets(tokenizer, "third", message_id=12, per_packet=1)
    assembler = MessageAssembler(timeout_s=1.0)
    out = []
    for burst in bursts_of(a):
        out += assembler.add(burst, 0.0)
    assert [(m.message_id, m.reason, len(m.bursts)) for m in out] == [(10, COMPLETE, len(a))]
    assert assembler.add(ReceivedBurst(a[0]), 0.1) == []  # late: dropped
    assert assembler.counters["packets_late"] == 1
    assert assembler.add(ReceivedBurst(b[0]), 1.0) == []
    [superseded] = assembler.add(ReceivedBurst(c[0]), 1.2)
    assert (superseded.message_id, superseded.reason) == (11, SUPERSEDED)
    assert assembler.expire(2.1) == [] and assembler.next_deadline() == pytest.approx(2.2)
    [timed_out] = assembler.expire(2.2)
    assert (timed_out.message_id, timed_out.reason) == (12, TIMEOUT)
    assert assembler.add(ReceivedBurst(c[1]), 3.0) == []  # late packet of 12
    _, d = text_packets(tokenizer, "fourth message", message_id=13, per_packet=1)
    assembler.add(ReceivedBurst(d[0]), 4.0)
    [stopped] = assembler.flush()
    assert (stopped.message_id, stopped.reason) == (13, STOPPED)


def test_failed_bursts_go_to_the_message_whose_id_they_are_closest_to(tokenizer):
    _, a = text_packets(tokenizer, message_id=0x0100, per_packet=8)
    _, b = text_packets(tokenizer, message_id=0x0200, per_packet=8)
    assembler = MessageAssembler(timeout_s=5.0)
    assembler.add(ReceivedBurst(a[0]), 0.0)
    # A's packet 1 with a payload error, then B's first packet with one error
    # in its id field (still closer to B than to A), then B's first good one.
    assembler.add(corrupt(a[1], len(a[1]) - 6), 0.1)
    bad_b = corrupt(b[0], MESSAGE_ID_OFFSET + 1)
    assembler.add(bad_b, 0.2)
    # Noise-like: its id field is far from every message in play.
    stray = ReceivedBurst(bytes(MESSAGE_ID_OFFSET) + b"\x5a\xa5" + bytes(40))
    assembler.add(stray, 0.25)
    [first] = assembler.add(ReceivedBurst(b[1]), 0.3)
    assert first.message_id == 0x0100 and len(first.bursts) == 2  # a[0] and damaged a[1]
    assembler.add(ReceivedBurst(b[2]), 0.4)
    leftover, second = assembler.flush()
    assert second.message_id == 0x0200 and bad_b in second.bursts
    assert stray not in first.bursts + second.bursts
    # Older than B and not B's: a message none of whose packets passed, if any.
    assert (leftover.message_id, leftover.reason, leftover.bursts) == (None, FAILED_ONLY, [stray])


def test_a_failed_burst_s_id_is_weighed_by_its_llrs(tokenizer):
    """A CRC-failed burst whose id field reads 0x0300 is one bit from A
    (0x0100) and one bit from B (0x0200). Counted in bits it is a tie, which
    A, delivered first, would win; but the bit that separates it from A is
    confident and the one that separates it from B is not, so it is B's."""
    _, a = text_packets(tokenizer, message_id=0x0100, per_packet=8)
    _, b = text_packets(tokenizer, message_id=0x0200, per_packet=8)
    data = bytearray(b[0])
    data[MESSAGE_ID_OFFSET] = 0x03
    llr = np.where(np.unpackbits(np.frombuffer(bytes(data), np.uint8)) == 1, -8.0, 8.0)
    llr[8 * MESSAGE_ID_OFFSET + 7] *= 0.05  # the 0x0100 bit: B's only disagreement, doubtful
    damaged_b = ReceivedBurst(bytes(data), bit_llr=llr.astype(np.float32))
    assembler = MessageAssembler(timeout_s=5.0)
    assembler.add(ReceivedBurst(a[0]), 0.0)
    assembler.add(damaged_b, 0.1)
    [first] = assembler.add(ReceivedBurst(b[1]), 0.2)  # B supersedes A
    assert first.message_id == 0x0100 and damaged_b not in first.bursts
    [second] = assembler.flush()
    assert second.message_id == 0x0200 and damaged_b in second.bursts


def test_a_message_with_no_crc_good_packet_is_still_received_in_a_stream(tokenizer):
    """Between two clean messages, every packet of the middle one fails its
    CRC (BPSK at 3 dB): the stream delivers it from the failed packets'
    headers combined, in its place, with recovered text."""
    texts = ["first message, all clean", TEXT, "third message, all clean"]
    bursts = []
    for i, text in enumerate(texts):
        _, packets = text_packets(tokenizer, text, message_id=20 + i)
        if i == 1:
            bursts += SoftBitChannel(3.0, seed=5).transmit_all(packets)
        else:
            bursts += [ReceivedBurst(p) for p in packets]
    assert not any(_parses(b.data) for b in bursts[1:-1] if len(b.data) > 60)
    stream = StreamReceiver(TokenReceiver("soft"))
    messages = []
    for i, burst in enumerate(bursts):
        messages += stream.push(burst, float(i))
    messages += stream.flush()
    assert [m.message_id for m in messages] == [20, 21, 22]
    middle = messages[1]
    assert middle.reason == FAILED_ONLY and middle.packets_received == 0
    assert middle.failed_packets_used >= middle.packets_expected - 2
    assert score_text(middle, TEXT, tokenizer)["token_error_rate"] < 0.5


def test_stream_receiver_delivers_only_its_modalities(tokenizer):
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    tok = ImageTokenizer.default("standard")
    image = np.full((16, 16, 3), 100, dtype=np.uint8)
    image_packets = packetize(tok.encode_frame(image), 2, make_aggregation("interleaved", 8))
    _, text = text_packets(tokenizer, message_id=3, per_packet=32)
    stream = StreamReceiver(TokenReceiver("none"), modalities=[Modality.TEXT])
    messages = []
    for i, packet in enumerate(image_packets + text):
        messages += stream.push(ReceivedBurst(packet), float(i))
    messages += stream.flush()
    assert [m.message_id for m in messages] == [3]
    assert messages[0].text == TEXT and stream.counters["messages_skipped"] == 1


def test_a_few_failed_stragglers_are_not_taken_for_a_message(tokenizer):
    """Two CRC-failed packets of a 24-packet message, with no CRC-good one:
    their headers may well name the message, but too few of its packets are
    there to trust the layout, so no message is made up; with most of its
    packets the same receiver does recover it."""
    _, packets = text_packets(tokenizer, message_id=9, per_packet=2)
    assert len(packets) >= 20
    bursts = SoftBitChannel(3.0, seed=8).transmit_all(packets)
    assert not any(_parses(b.data) for b in bursts)
    receiver = TokenReceiver("none")
    assert receiver.receive(bursts[3:5]) is None
    most = receiver.receive(bursts[: 2 * len(bursts) // 3])
    assert most is not None and most.message_id == 9 and most.packets_expected == len(packets)
