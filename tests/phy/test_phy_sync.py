"""Per-burst synchronisation in numpy: frequency offsets, symbol timing, channel."""

import numpy as np
import pytest

from tokencom_sdr.phy.ofdm_equalizer import (WINDOW_ADVANCE, cut_symbols, fine_frequency_offset,
                                             integer_carrier_offset, preamble_channel, timing_error,
                                             to_frequency_domain)
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.phy.modem import modulate

pytestmark = pytest.mark.timeout(60)
PARAMS = OfdmParams()
PAD = 24


@pytest.fixture(scope="module")
def burst():
    iq = modulate([bytes(range(60))], "qpsk-1/2")
    return np.concatenate([np.zeros(PAD, np.complex64), iq])


def _synchronise(samples, start):
    symbols = cut_symbols(samples, start, 2, PARAMS)
    fine = fine_frequency_offset(symbols[0])
    fft = to_frequency_domain(symbols, 0, fine, PARAMS)
    sync_word_2 = PARAMS.sync_words()[1]
    offset = integer_carrier_offset(fft[1], sync_word_2, PARAMS)
    return fine, offset, preamble_channel(fft[1], sync_word_2, offset, PARAMS)


@pytest.mark.parametrize("cfo", [0.0, 0.004, -0.011, 2 / 64 + 0.003, -4 / 64 - 0.002])
def test_frequency_offset_is_found_as_fine_plus_whole_carriers(burst, cfo):
    rotated = burst * np.exp(2j * np.pi * cfo * np.arange(burst.size)).astype(np.complex64)
    fine, offset, _ = _synchronise(rotated, PAD)
    assert fine + offset / PARAMS.fft_len == pytest.approx(cfo, abs=2e-4)
    assert offset % 2 == 0  # the half-symbol phase is ambiguous by two carriers


@pytest.mark.parametrize("error", [-12, -5, 0, 3, 11])
def test_timing_error_is_measured_from_the_impulse_response(burst, error):
    # Cutting `error` samples early must be reported as `error`.
    _, _, channel = _synchronise(burst, PAD - error)
    assert timing_error(channel, PARAMS) == error


def test_window_starts_inside_the_cyclic_prefix(burst):
    symbols = cut_symbols(burst, PAD, 1, PARAMS)
    useful_start = PAD + PARAMS.cp_len
    assert np.allclose(symbols[0], burst[useful_start - WINDOW_ADVANCE:useful_start - WINDOW_ADVANCE + 64])
