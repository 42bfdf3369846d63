"""Entropy coding with the committed text context model: exact round trips
near the model's cross-entropy, and a lost or damaged packet refused, never
decoded into wrong text."""

import numpy as np
import pytest

from tokencom_sdr.compression.bit_fields import CompressedMessageError
from tokencom_sdr.compression.entropy_coding import (IncompleteMessageError, decode_entropy,
                                                     encode_entropy, join_packets,
                                                     split_into_packets)
from tokencom_sdr.compression.message_hash import MessageHashError
from tokencom_sdr.data.heldout_messages import heldout_messages

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def coded(tokenizer, prior):
    """Two short held-out messages, ``[(ids, EntropyCodedMessage)]``."""
    texts = heldout_messages(2, tokenizer, min_tokens=20, max_tokens=36, seed=1)
    out = []
    for text in texts:
        ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
        out.append((ids, encode_entropy(ids, prior)))
    return out


@pytest.mark.timeout(120)
def test_round_trip_is_exact_near_the_cross_entropy(prior, coded):
    for ids, message in coded:
        np.testing.assert_array_equal(decode_entropy(message.data, prior), ids)
        # The code is within a few bits of the model's ideal code length ...
        assert abs(message.code_bits - message.cross_entropy_bits) <= 4
        # ... and far below 12-bit ids; the header is count and hash.
        assert message.bits == 8 * -(-(32 + message.code_bits) // 8)
        assert message.code_bits < 0.8 * 12 * ids.size


@pytest.mark.timeout(120)
def test_missing_packet_is_refused_and_a_gap_never_becomes_text(prior, coded):
    ids, message = coded[0]
    packets = split_into_packets(message.data, 4)
    assert join_packets(packets) == message.data
    lost = list(packets)
    lost[1] = None
    with pytest.raises(IncompleteMessageError, match=r"lost packet\(s\) \[1\]"):
        join_packets(lost)
    # A receiver that decoded anyway, with the lost bytes as zeros, gets
    # garbage after the gap: the hash refuses it rather than deliver it.
    damaged = join_packets([p if i != 1 else bytes(len(p)) for i, p in enumerate(packets)])
    assert damaged != message.data
    with pytest.raises((MessageHashError, CompressedMessageError)):
        decode_entropy(damaged, prior)


def test_truncated_message_is_a_clear_error(prior, coded):
    with pytest.raises(CompressedMessageError, match="too short"):
        decode_entropy(coded[0][1].data[:3], prior)
    # A count beyond the receiver's limit is refused before any model work.
    with pytest.raises(CompressedMessageError, match="claims 65535 tokens"):
        decode_entropy(b"\xff\xff" + coded[0][1].data[2:], prior)
    with pytest.raises(ValueError, match="packet_bytes"):
        split_into_packets(b"abc", 0)
    with pytest.raises(ValueError, match="token ids"):
        encode_entropy(np.array([4096]), prior)
