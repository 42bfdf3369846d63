"""The message assembler's edges, one behaviour per test (issue 19: each
kills mutants of ``link/receiver/assembler.py`` that the stream tests in
``test_receiver.py`` let through): the claim limits on a CRC-failed burst's
message id, the timeout and waiting-buffer boundaries, and the counters.
Packets are built from plain ids, so no tokenizer or model is loaded.
"""

import numpy as np
import pytest

from tokencom_sdr.link import make_aggregation, packetize
from tokencom_sdr.link.packet import MESSAGE_ID_OFFSET
from tokencom_sdr.link.receiver import assembler as assembler_module
from tokencom_sdr.link.receiver.assembler import (COMPLETE, FAILED_ONLY, MAX_ID_BIT_ERRORS, STOPPED,
                                                 SUPERSEDED, MessageAssembler)
from tokencom_sdr.phy.received_burst import ReceivedBurst
from tokencom_sdr.tokens.frame import Modality, TokenFrame

pytestmark = pytest.mark.timeout(30)


def packets_of(message_id: int, num_packets: int = 3, tokens_per_packet: int = 4):
    """Encoded packets of a text message of ``num_packets * tokens_per_packet`` tokens."""
    ids = np.arange(num_packets * tokens_per_packet) % 4096
    frame = TokenFrame(ids, Modality.TEXT, (ids.size,), 12)
    return packetize(frame, message_id, make_aggregation("interleaved", tokens_per_packet))


def failed(packet: bytes, id_bits_flipped: int = 0) -> ReceivedBurst:
    """The packet with its CRC broken (last byte) and the lowest
    ``id_bits_flipped`` bits of its message-id field flipped."""
    data = bytearray(packet)
    data[-1] ^= 0xFF
    field = int.from_bytes(data[MESSAGE_ID_OFFSET:MESSAGE_ID_OFFSET + 2], "big")
    field ^= (1 << id_bits_flipped) - 1
    data[MESSAGE_ID_OFFSET:MESSAGE_ID_OFFSET + 2] = field.to_bytes(2, "big")
    return ReceivedBurst(bytes(data))


def deliver_with(burst: ReceivedBurst, message_id: int = 0x0F0F):
    """Deliver a message that had ``burst`` waiting beside it; return the message."""
    assembler = MessageAssembler(timeout_s=5.0)
    good = packets_of(message_id)
    assembler.add(ReceivedBurst(good[0]), 0.0)
    assembler.add(burst, 0.1)
    [message] = [m for m in assembler.flush() if m.message_id == message_id]
    return message


@pytest.mark.parametrize("flipped", range(MAX_ID_BIT_ERRORS + 3))
def test_a_failed_burst_is_claimed_up_to_the_bit_error_limit(flipped):
    """MAX_ID_BIT_ERRORS (4) wrong id bits: still the message's; 5: not."""
    burst = failed(packets_of(0x0F0F)[1], flipped)
    assert (burst in deliver_with(burst).bursts) == (flipped <= MAX_ID_BIT_ERRORS)


def test_a_failed_burst_equally_close_to_two_messages_goes_to_the_one_delivered():
    """Id 0x0003 is one bit from 0x0001 and one bit from 0x0002: a tie,
    which the message delivered first (0x0001, superseded by 0x0002) takes."""
    assembler = MessageAssembler(timeout_s=5.0)
    assembler.add(ReceivedBurst(packets_of(0x0001)[0]), 0.0)
    tie = failed(packets_of(0x0003)[1])
    assembler.add(tie, 0.1)
    [first] = assembler.add(ReceivedBurst(packets_of(0x0002)[0]), 0.2)
    assert first.message_id == 0x0001 and tie in first.bursts


def test_the_id_field_of_a_burst_just_long_enough_is_read():
    """A 7-byte burst ends with the message-id field: it can be claimed;
    one byte shorter, it has no id and is not."""
    packet = packets_of(0x0F0F)[1]
    whole_field = ReceivedBurst(packet[:MESSAGE_ID_OFFSET + 2])
    cut_field = ReceivedBurst(packet[:MESSAGE_ID_OFFSET + 1])
    assert whole_field in deliver_with(whole_field).bursts
    assert cut_field not in deliver_with(cut_field).bursts


def test_a_new_message_that_completes_at_once_follows_the_one_it_supersedes():
    assembler = MessageAssembler()
    assembler.add(ReceivedBurst(packets_of(1)[0]), 0.0)
    [single] = packets_of(2, num_packets=1)
    out = assembler.add(ReceivedBurst(single), 0.1)
    assert [(m.message_id, m.reason) for m in out] == [(1, SUPERSEDED), (2, COMPLETE)]
    assert out[0].modality == Modality.TEXT and out[0].num_packets == 3


def test_timeout_is_exact_and_must_be_positive():
    assert MessageAssembler().timeout_s == 1.0
    with pytest.raises(ValueError, match="timeout_s must be > 0, got 0"):
        MessageAssembler(timeout_s=0)
    assembler = MessageAssembler(timeout_s=0.5)
    assembler.add(ReceivedBurst(packets_of(1)[0]), 10.0)
    assert assembler.expire(10.4999) == []
    assert [m.message_id for m in assembler.expire(10.5)] == [1]


def test_a_failed_burst_arriving_with_a_message_s_first_packet_waits_for_its_own():
    """Not claimed, and no older than the message: it may belong to the next
    message, so it waits instead of going out as a failed-only group."""
    assembler = MessageAssembler(timeout_s=5.0)
    assembler.add(ReceivedBurst(packets_of(0x0F0F)[0]), 1.0)
    stranger = failed(packets_of(0x7070)[1])
    assembler.add(stranger, 1.0)
    [message] = assembler.add(ReceivedBurst(packets_of(0x7070)[0]), 2.0)
    assert message.message_id == 0x0F0F and stranger not in message.bursts
    [own] = assembler.flush()
    assert own.message_id == 0x7070 and stranger in own.bursts


def test_failed_bursts_alone_are_flushed_as_one_failed_only_group():
    assembler = MessageAssembler()
    bursts = [failed(p, 16) for p in packets_of(0x0F0F)]  # every id bit wrong
    for t, burst in enumerate(bursts):
        assembler.add(burst, 2.0 + t)
    [group] = assembler.flush()
    assert (group.message_id, group.num_packets, group.modality, group.reason) == \
        (None, 0, None, FAILED_ONLY)
    assert group.bursts == bursts and (group.first_time, group.last_time) == (2.0, 4.0)


def test_counters_count_each_event_once():
    assembler = MessageAssembler(timeout_s=5.0)
    a, b = packets_of(1), packets_of(2)
    assembler.add(ReceivedBurst(a[0]), 0.0)
    assembler.add(failed(a[1]), 0.1)                    # claimed by message 1
    assembler.add(failed(b[1], 16), 0.2)                # claimed by nobody
    assembler.add(ReceivedBurst(b[0]), 0.3)             # supersedes 1
    assembler.add(ReceivedBurst(a[2]), 0.4)             # late packet of 1
    assembler.flush()
    assert assembler.counters == {"bursts": 5, "bursts_failed": 2, "packets_late": 1,
                                  "messages": 2, "failed_unclaimed": 0, "failed_only_groups": 1}


def test_the_waiting_buffer_drops_its_oldest_burst_beyond_its_size(monkeypatch):
    monkeypatch.setattr(assembler_module, "_MAX_WAITING", 3)
    assembler = MessageAssembler()
    bursts = [failed(packets_of(0x0F0F)[0], 16) for _ in range(4)]
    for t, burst in enumerate(bursts):
        assembler.add(burst, float(t))
    assert assembler.counters["failed_unclaimed"] == 1
    [group] = assembler.flush()
    assert len(group.bursts) == 3 and group.bursts[0] is bursts[1]


def test_a_message_id_is_forgotten_after_64_newer_messages():
    """Late packets are recognised for the last 64 messages; an id reused
    after that starts a new message instead of being dropped as late."""
    assembler = MessageAssembler()
    for message_id in range(65):
        [single] = packets_of(message_id, num_packets=1)
        assembler.add(ReceivedBurst(single), float(message_id))
    assert not assembler.delivered_recently(0) and assembler.delivered_recently(1)
    [again] = packets_of(0, num_packets=1)
    assert [m.message_id for m in assembler.add(ReceivedBurst(again), 100.0)] == [0]


def test_counters_add_up_over_repeated_events(monkeypatch):
    """Each counter reaching 2: two late packets, two bursts pushed out of a
    3-burst waiting buffer, two failed-only groups (one per flush)."""
    monkeypatch.setattr(assembler_module, "_MAX_WAITING", 3)
    assembler = MessageAssembler(timeout_s=5.0)
    a, b = packets_of(1), packets_of(2)
    assembler.add(ReceivedBurst(a[0]), 0.0)
    assembler.add(ReceivedBurst(b[0]), 0.1)             # supersedes 1
    assembler.add(ReceivedBurst(a[1]), 0.2)             # late packet of 1
    assembler.add(ReceivedBurst(a[2]), 0.3)             # and another
    stranger = failed(packets_of(0x0F0F)[0], 16)        # claimed by nobody
    for t in range(5):
        assembler.add(stranger, 1.0 + t)
    assert [m.reason for m in assembler.flush()] == [STOPPED, FAILED_ONLY]
    assembler.add(stranger, 7.0)
    assert [m.reason for m in assembler.flush()] == [FAILED_ONLY]
    assert assembler.counters == {"bursts": 10, "bursts_failed": 6, "packets_late": 2,
                                  "messages": 2, "failed_unclaimed": 2, "failed_only_groups": 2}
