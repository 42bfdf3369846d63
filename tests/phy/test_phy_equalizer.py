"""The batched equaliser against the single-burst one (two implementations
of one estimator, kept apart for speed: they must agree)."""

import numpy as np
import pytest

from tokencom_sdr.phy.ofdm_equalizer import equalize_burst, equalize_bursts, to_frequency_domain
from tokencom_sdr.phy.ofdm_params import OfdmParams

pytestmark = pytest.mark.timeout(60)
PARAMS = OfdmParams()


def _random_bursts(rng, n_bursts, n_sym):
    shape = (n_bursts, n_sym, PARAMS.fft_len)
    fft_symbols = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    channel = (rng.normal(size=(n_bursts, PARAMS.fft_len))
               + 1j * rng.normal(size=(n_bursts, PARAMS.fft_len))).astype(np.complex64)
    anchor = (rng.normal(size=(n_bursts, 3)) + 1j * rng.normal(size=(n_bursts, 3))).astype(np.complex64)
    return fft_symbols, channel, anchor


@pytest.mark.parametrize("offsets", [[0, 0, 0, 0], [0, 2, -4, 0]])
@pytest.mark.parametrize("known", [False, True])
def test_batched_equaliser_agrees_with_the_single_burst_one(offsets, known):
    rng = np.random.default_rng(11)
    n_sym = 5
    fft_symbols, channel, anchor = _random_bursts(rng, len(offsets), n_sym)
    known_data = (np.sign(rng.normal(size=(len(offsets), n_sym * len(PARAMS.data_carriers))))
                  .astype(np.complex64) if known else None)
    batch = equalize_bursts(fft_symbols, channel, np.array(offsets), 2, PARAMS,
                            known_data=known_data, anchor=anchor)
    for j, offset in enumerate(offsets):
        single = equalize_burst(fft_symbols[j], channel[j], offset, 2, PARAMS,
                                known_data=None if known_data is None else known_data[j], anchor=anchor[j])
        one = batch.burst(j)
        for field in ("symbols", "noise_var", "rotation", "correlation"):
            np.testing.assert_allclose(getattr(one, field), getattr(single, field), rtol=2e-4, atol=1e-5)
        for field in ("noise_power", "snr_db", "phase_slope"):
            assert getattr(one, field) == pytest.approx(getattr(single, field), rel=1e-4, abs=1e-6)


def test_frequency_domain_of_a_batch_is_that_of_each_burst():
    rng = np.random.default_rng(12)
    x = (rng.normal(size=(3, 4, PARAMS.fft_len)) + 1j * rng.normal(size=(3, 4, PARAMS.fft_len))).astype(np.complex64)
    cfo = np.array([0.0, 0.003, -0.011])
    batch = to_frequency_domain(x, 4, cfo, PARAMS)
    for j in range(3):
        np.testing.assert_allclose(batch[j], to_frequency_domain(x[j], 4, float(cfo[j]), PARAMS),
                                   rtol=1e-5, atol=1e-4)
