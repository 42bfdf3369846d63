"""The batched equaliser: it recovers what was sent, and each burst of a
batch comes out exactly as it would alone (a replay decodes as live)."""

import numpy as np
import pytest

from tokencom_sdr.phy.ofdm_equalizer import carrier_indices, equalize_bursts, pilot_rows, to_frequency_domain
from tokencom_sdr.phy.ofdm_params import OfdmParams

pytestmark = pytest.mark.timeout(60)
PARAMS = OfdmParams()


def _received(rng, offsets, n_sym, slope, noise):
    """Random QPSK data and known pilots on random channels, each burst moved
    by its whole-carrier offset and turned by a common phase ramp."""
    data_idx, pilot_idx = carrier_indices(PARAMS)
    n = len(offsets)
    data = (rng.choice([-1.0, 1.0], (n, n_sym, data_idx.size))
            + 1j * rng.choice([-1.0, 1.0], (n, n_sym, data_idx.size))) / np.sqrt(2)
    channel = np.zeros((n, PARAMS.fft_len), np.complex64)
    channel[:, np.concatenate([data_idx, pilot_idx])] = (rng.uniform(0.6, 1.4, (n, data_idx.size + pilot_idx.size))
                                                         * np.exp(2j * np.pi * rng.random((n, data_idx.size
                                                                                           + pilot_idx.size))))
    grid = np.zeros((n, n_sym, PARAMS.fft_len), np.complex128)
    turn = np.exp(1j * (0.4 + slope * np.arange(n_sym)))[None, :, None]
    for j, offset in enumerate(offsets):
        grid[j][:, data_idx + offset] = data[j] * channel[j, data_idx] * turn[0]
        grid[j][:, pilot_idx + offset] = pilot_rows(2, n_sym) * channel[j, pilot_idx] * turn[0]
    grid += noise * (rng.standard_normal(grid.shape) + 1j * rng.standard_normal(grid.shape))
    return grid.astype(np.complex64), channel, data.reshape(n, -1).astype(np.complex64)


@pytest.mark.parametrize("known", [False, True])
def test_the_equaliser_recovers_the_symbols_phase_ramp_and_noise(known):
    rng = np.random.default_rng(11)
    offsets = np.array([0, 2, -4, 0])
    fft_symbols, channel, data = _received(rng, offsets, 6, 0.05, 0.01)
    anchor = np.full((4, 1), np.exp(0.4j - 0.05j), np.complex64) * 50  # the symbol before, firmly
    out = equalize_bursts(fft_symbols, channel, offsets, 2, PARAMS, known_data=data if known else None,
                          anchor=anchor)
    np.testing.assert_allclose(out.symbols, data, atol=0.08)
    np.testing.assert_allclose(out.phase_slope, 0.05, atol=0.005)
    # noise 0.01 per rail: 2e-4 per bin; each estimate within a factor 2
    assert np.all((out.noise_power > 1e-4) & (out.noise_power < 4e-4)), out.noise_power
    assert out.symbols.shape == out.noise_var.shape == (4, 6 * len(PARAMS.data_carriers))


@pytest.mark.parametrize("known", [False, True])
def test_each_burst_of_a_batch_equalises_exactly_as_alone(known):
    rng = np.random.default_rng(12)
    offsets = np.array([0, 2, -4, 0, 2])
    fft_symbols, channel, data = _received(rng, offsets, 5, -0.02, 0.3)
    anchor = (rng.normal(size=(5, 3)) + 1j * rng.normal(size=(5, 3))).astype(np.complex64)
    known_data = data if known else None
    batch = equalize_bursts(fft_symbols, channel, offsets, 2, PARAMS, known_data=known_data, anchor=anchor)
    for j in range(5):
        alone = equalize_bursts(fft_symbols[j:j + 1], channel[j:j + 1], offsets[j:j + 1], 2, PARAMS,
                                known_data=None if known_data is None else known_data[j:j + 1],
                                anchor=anchor[j:j + 1])
        for field in ("symbols", "noise_var", "noise_power", "snr_db", "phase_slope", "rotation", "correlation"):
            np.testing.assert_array_equal(getattr(batch, field)[j], getattr(alone, field)[0], err_msg=field)


def test_frequency_domain_of_a_batch_is_that_of_each_burst():
    rng = np.random.default_rng(12)
    x = (rng.normal(size=(3, 4, PARAMS.fft_len)) + 1j * rng.normal(size=(3, 4, PARAMS.fft_len))).astype(np.complex64)
    cfo = np.array([0.0, 0.003, -0.011])
    batch = to_frequency_domain(x, 4, cfo, PARAMS)
    for j in range(3):
        np.testing.assert_array_equal(batch[j], to_frequency_domain(x[j], 4, float(cfo[j]), PARAMS))
