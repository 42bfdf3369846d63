"""The per-message hash: fixed, of the stated width, and sensitive to every id."""

import numpy as np
import pytest

from tokencom_sdr.compression.message_hash import DEFAULT_HASH_BITS, message_hash


def test_hash_is_fixed_and_fits_its_width():
    ids = np.arange(100) * 37 % 4096
    assert DEFAULT_HASH_BITS == 16
    value = message_hash(ids)
    assert value == message_hash(ids.tolist()) == message_hash(ids.astype(np.int32))
    assert 0 <= value < 1 << 16
    for bits in (1, 8, 24, 64):
        assert 0 <= message_hash(ids, bits) < 1 << bits
    # A shorter hash is the prefix of a longer one (one BLAKE2b digest, truncated).
    assert message_hash(ids, 8) == message_hash(ids, 16) >> 8


def test_every_single_change_moves_the_hash():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 4096, 80)
    base = message_hash(ids, 32)
    for position in range(ids.size):
        changed = ids.copy()
        changed[position] = (changed[position] + 1) % 4096
        assert message_hash(changed, 32) != base
    assert message_hash(ids[:-1], 32) != base  # a dropped token too


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="hash bits"):
        message_hash(np.zeros(3, dtype=int), 0)
    with pytest.raises(ValueError, match="0..65535"):
        message_hash(np.array([70000]))
