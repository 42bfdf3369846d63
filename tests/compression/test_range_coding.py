"""The trimmed range code (constriction underneath): it decodes back, costs
within a few bits of the information, and bad data is an error, not symbols."""

import numpy as np
import pytest

from tokencom_sdr.compression.bit_fields import CompressedMessageError
from tokencom_sdr.compression.range_coding import RangeDecoder, encode_trimmed


def random_source(rng, count, alphabet):
    probabilities = rng.dirichlet(np.full(alphabet, 0.3), size=count)
    symbols = np.array([rng.choice(alphabet, p=p) for p in probabilities])
    return symbols, probabilities


@pytest.mark.timeout(60)
def test_trimmed_code_decodes_and_costs_its_information():
    rng = np.random.default_rng(7)
    excess = []
    for _ in range(120):
        symbols, probabilities = random_source(rng, int(rng.integers(1, 60)),
                                               int(rng.integers(2, 200)))
        code = encode_trimmed(symbols, probabilities)
        np.testing.assert_array_equal(RangeDecoder(code).decode_all(probabilities), symbols)
        information = -np.log2(probabilities[np.arange(symbols.size), symbols]).sum()
        excess.append(code.size - information)
    # constriction's own output ends with up to 64 spare bits; trimmed, the
    # code stays within a couple of bits of the information (quantisation
    # of the probabilities to 24 bits can even make it a little shorter).
    assert max(excess) <= 3.0
    assert np.mean(excess) <= 1.5


def test_one_symbol_at_a_time_decodes_like_the_batch():
    rng = np.random.default_rng(3)
    symbols, probabilities = random_source(rng, 40, 17)
    decoder = RangeDecoder(encode_trimmed(symbols, probabilities))
    assert [decoder.decode(row) for row in probabilities] == symbols.tolist()


def test_empty_message_has_an_empty_code():
    assert encode_trimmed(np.zeros(0, dtype=int), np.zeros((0, 4))).size == 0


def test_certain_symbols_cost_almost_nothing():
    probabilities = np.tile([1 - 1e-9, 1e-9], (200, 1))
    assert encode_trimmed(np.zeros(200, dtype=int), probabilities).size <= 2


def test_invalid_code_is_an_error_not_symbols():
    # A one-symbol model puts all mass on symbol 0 (plus constriction's
    # leakage); all-ones bits are no valid code under a model whose second
    # symbol has a sliver of probability.
    probabilities = np.tile([1 - 1e-9, 1e-9], (8, 1))
    with pytest.raises(CompressedMessageError, match="invalid"):
        RangeDecoder(np.ones(64, dtype=np.uint8)).decode_all(probabilities)
