"""Predictable-token skipping with the committed text context model: exact
round trips on held-out messages, the fallback when the fill fails its hash,
and malformed messages refused."""

import math

import numpy as np
import pytest
import torch

from tokencom_sdr.compression.bit_fields import CompressedMessageError
from tokencom_sdr.compression.context_prior import ContextPrior
from tokencom_sdr.compression.message_hash import MessageHashError, message_hash
from tokencom_sdr.compression.skipping import (choose_skips, decode_skipping, encode_skipping,
                                               skip_map_probabilities)
from tokencom_sdr.context.text_model import load_text_context_model
from tokencom_sdr.context.text_recovery import TextRecovery
from tokencom_sdr.data.heldout_messages import heldout_messages

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def messages(tokenizer):
    """Two short held-out messages as token ids (20-36 tokens each)."""
    texts = heldout_messages(2, tokenizer, min_tokens=20, max_tokens=36)
    return [np.asarray(tokenizer.encode(t), dtype=np.int64) for t in texts]


@pytest.fixture(scope="module")
def other_prior():
    """A receiver whose model differs from the sender's: the committed model
    with noise on its output bias, so that some of its argmaxes change."""
    model = load_text_context_model()
    with torch.no_grad():
        model.output_bias += 3.0 * torch.randn(model.output_bias.shape,
                                               generator=torch.Generator().manual_seed(0))
    return ContextPrior(TextRecovery(model))


@pytest.fixture(scope="module")
def encoded(prior, messages):
    """``{(message index, tau): SkipMessage}``, encoded once for the module."""
    return {(i, tau): encode_skipping(ids, prior, tau)
            for i, ids in enumerate(messages) for tau in (0.0, 0.9)}


@pytest.mark.timeout(120)
def test_round_trip_is_exact_and_costs_what_it_says(prior, messages, encoded):
    adjacent_skips = 0
    for i, ids in enumerate(messages):
        for tau in (0.0, 0.9):
            message = encoded[i, tau]
            n, s = ids.size, int(message.skipped.sum())
            result = decode_skipping(message.data, prior)
            np.testing.assert_array_equal(result.ids, ids)
            np.testing.assert_array_equal(result.skipped, message.skipped)
            assert not result.fallback_used and result.fill_correct
            # count + hash + direction + skip count + sent ids + skip map, in whole bytes
            payload = (16 + 16 + 1 + math.ceil(math.log2(n + 1)) + 12 * (n - s)
                       + message.skip_map_bits)
            assert message.bits == 8 * math.ceil(payload / 8)
            # The skip map costs about log2 C(n, s) bits, not n.
            assert message.skip_map_bits <= math.log2(math.comb(n, s)) + 3
            adjacent_skips += int(np.sum(message.skipped[1:] & message.skipped[:-1]))
        assert encoded[i, 0.0].skipped.sum() >= encoded[i, 0.9].skipped.sum() > 0
    # The fill must cope with skipped neighbours, and these messages have them.
    assert adjacent_skips > 0


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_skips_are_exactly_the_confident_right_predictions(prior, messages, direction):
    """Re-derive the decisions from their definition: the view at decision k
    shows every token not decided yet (forward: right of k) and the sent
    tokens among those decided before it."""
    ids = messages[0]
    skipped = choose_skips(ids, prior, 0.5, direction)
    with prior.deterministic():
        for k in range(ids.size):
            visible = np.ones(ids.size, dtype=bool)
            decided = slice(0, k) if direction == "forward" else slice(k + 1, None)
            visible[decided] = ~skipped[decided]
            probs = prior.distribution(ids, visible, k)
            assert skipped[k] == (probs.argmax() == ids[k] and probs.max() >= 0.5)


@pytest.mark.timeout(120)
def test_backward_and_best_directions_round_trip(prior, messages, encoded):
    ids = messages[1]
    backward = encode_skipping(ids, prior, 0.0, direction="backward")
    assert backward.direction == "backward"
    result = decode_skipping(backward.data, prior)
    assert result.fill_correct
    np.testing.assert_array_equal(result.ids, ids)
    best = encode_skipping(ids, prior, 0.0, direction="best")
    assert best.bits == min(backward.bits, encoded[1, 0.0].bits)
    np.testing.assert_array_equal(decode_skipping(best.data, prior).ids, ids)
    with pytest.raises(ValueError, match="direction"):
        encode_skipping(ids, prior, 0.0, direction="sideways")


@pytest.mark.timeout(120)
def test_failed_fill_falls_back_to_retransmission_and_ends_exact(other_prior, messages,
                                                                  encoded):
    ids = messages[1]
    message = encoded[1, 0.0]
    asked = []

    def retransmit(positions):
        asked.append(positions)
        return ids[positions]

    result = decode_skipping(message.data, other_prior, retransmit=retransmit)
    assert result.fallback_used and not result.fill_correct
    np.testing.assert_array_equal(result.ids, ids)
    np.testing.assert_array_equal(asked[0], np.flatnonzero(message.skipped))
    assert result.fallback_bits == 12 * int(message.skipped.sum()) == message.fallback_bits
    # Without a way to retransmit, the wrong fill is refused, never delivered.
    with pytest.raises(MessageHashError, match="fails its 16-bit hash"):
        decode_skipping(message.data, other_prior)


def test_corrupted_hash_is_refused_even_after_retransmission(prior, messages, encoded):
    ids = messages[0]
    message = encoded[0, 0.9]
    data = bytearray(message.data)
    data[2] ^= 0x80  # the first bit of the hash field
    calls = []
    with pytest.raises(MessageHashError, match="corrupt"):
        decode_skipping(bytes(data), prior,
                        retransmit=lambda positions: calls.append(1) or ids[positions])
    assert calls == [1]


def test_malformed_messages_are_clear_errors(prior, messages, encoded):
    data = encoded[0, 0.9].data
    with pytest.raises(CompressedMessageError, match="too short"):
        decode_skipping(data[:10], prior)
    with pytest.raises(CompressedMessageError, match="too short"):
        decode_skipping(b"", prior)
    with pytest.raises(CompressedMessageError, match="claims 65535 tokens"):
        decode_skipping(b"\xff\xff" + data[2:], prior)
    with pytest.raises(CompressedMessageError, match="more than the 10"):
        decode_skipping(data, prior, max_tokens=10)
    with pytest.raises(ValueError, match="tau"):
        encode_skipping(messages[0], prior, 1.5)
    with pytest.raises(ValueError, match="token ids"):
        encode_skipping(np.array([5000]), prior, 0.5)


def test_empty_message_round_trips(prior):
    message = encode_skipping(np.zeros(0, dtype=np.int64), prior, 0.5)
    assert decode_skipping(message.data, prior).ids.size == 0
    assert message_hash(np.zeros(0)) == message_hash([])


def test_skip_map_model_is_enumerative():
    skipped = np.array([1, 0, 0, 1, 1, 0], dtype=bool)
    rows = skip_map_probabilities(skipped)
    np.testing.assert_allclose(rows[:, 1], [3 / 6, 2 / 5, 2 / 4, 2 / 3, 1 / 2, 1e-9])
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
