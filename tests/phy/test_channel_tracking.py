"""Channel tracking's parts (tokencom_sdr.phy.channel_tracking): the Wiener
smoother across the carriers built from a burst's own delay profile, and the
rounds that track the channel forward again with the decoder's extrinsic
LLRs, through the real GNU Radio chain on gr-channels' ETU model at 300 Hz."""

import numpy as np
import pytest

from tokencom_sdr.channel import FadingSpec, LoopbackChannel
from tokencom_sdr.experiments.per_sweep import random_packets
from tokencom_sdr.phy import channel_tracking
from tokencom_sdr.phy.channel_tracking import delay_profile, frequency_smoothers
from tokencom_sdr.phy.modem import run_phy_loopback
from tokencom_sdr.phy.ofdm_equalizer import active_indices, smoothing_projection
from tokencom_sdr.phy.ofdm_params import OfdmParams

PARAMS = OfdmParams()


def etu_channels(n_channels: int, rng) -> np.ndarray:
    """ETU-like channels on the active carriers, ``(n_channels, n_active)``:
    the 3GPP paths (fractional delays, their powers, Rayleigh gains) behind
    a strongest path at 8 samples, where the receiver's timing puts it."""
    delays, magnitudes = FadingSpec("etu").delays_and_magnitudes()
    carriers = active_indices(PARAMS) - PARAMS.fft_len // 2
    gains = (rng.standard_normal((n_channels, delays.size))
             + 1j * rng.standard_normal((n_channels, delays.size))) * magnitudes / np.sqrt(2)
    steering = np.exp(-2j * np.pi * np.outer(6.0 + delays, carriers) / PARAMS.fft_len)
    return gains @ steering


def test_wiener_smoother_removes_more_noise_than_the_least_squares_projection():
    """Channels observed through three known symbols at 15 dB: smoothed with
    the Wiener smoother of their own delay profile they come out at least
    1.5 dB closer to the truth than through the projection on all 27 delays;
    without noise the smoother leaves a channel as it is."""
    rng = np.random.default_rng(4)
    truth = etu_channels(40, rng)
    noise_power = np.full(truth.shape[0], np.mean(np.abs(truth) ** 2) / 10 ** 1.5)
    noise = (rng.standard_normal((40, 3) + truth.shape[1:])
             + 1j * rng.standard_normal((40, 3) + truth.shape[1:])) * np.sqrt(noise_power[:, None, None] / 2)
    observed = truth[:, None, :] + noise
    least_squares = observed[:, 0] @ smoothing_projection(PARAMS).T
    wiener = np.einsum("bk,bkl->bl", observed[:, 0],
                       frequency_smoothers(delay_profile(observed, noise_power, PARAMS), noise_power, PARAMS))
    ls_error = np.mean(np.abs(least_squares - truth) ** 2)
    wiener_error = np.mean(np.abs(wiener - truth) ** 2)
    assert 10 * np.log10(ls_error / wiener_error) > 1.5

    clean = frequency_smoothers(delay_profile(truth[:, None, :], np.zeros(40), PARAMS), np.full(40, 1e-9), PARAMS)
    assert np.allclose(np.einsum("bk,bkl->bl", truth, clean), truth, atol=1e-3 * np.abs(truth).max())


def test_delay_profile_sits_where_the_paths_are():
    """The profile's power is in the delays of the paths (6 to 16 samples
    here, give or take the matched filter's sidelobes: about 5 % of the
    power leaks outside), and noise alone is taken out of it down to the floor."""
    rng = np.random.default_rng(5)
    truth = etu_channels(1, rng)
    profile = delay_profile(np.repeat(truth[:, None, :], 3, axis=1), np.zeros(1), PARAMS)[0]
    delays = np.arange(-4, 23)
    inside = (delays >= 5) & (delays <= 17)
    assert profile[inside].sum() > 0.9 * profile.sum()
    noise_only = (rng.standard_normal((1, 200, 52)) + 1j * rng.standard_normal((1, 200, 52))) / np.sqrt(2)
    floor = delay_profile(noise_only, np.ones(1), PARAMS)[0]
    assert floor.max() < 0.01 * np.mean(np.abs(truth) ** 2)


@pytest.mark.timeout(120)
def test_extrinsic_rounds_keep_the_tracker_locked(monkeypatch):
    """qpsk-1/2 on ETU at 300 Hz and 14 dB, 100 packets: a third of the
    bursts fail their first decoding; tracked forward again with what the
    decoder learnt of each bit, every burst decodes, while rounds that
    track with the channel alone leave several failed."""
    sent = random_packets(100, 100, 1)
    sent_set = set(sent)

    def failures() -> int:
        channel = LoopbackChannel(14.0, 0.005, 0.0, None, seed=1, fading=FadingSpec("etu", 300.0, 2e6, seed=1))
        result = run_phy_loopback(sent, "qpsk-1/2", channel)
        return len(sent) - sum(1 for b in result.received if b.fec_ok and b.data in sent_set)

    with_extrinsic = failures()
    monkeypatch.setattr(channel_tracking, "EXTRINSIC_WEIGHT", 0.0)
    channel_alone = failures()
    assert with_extrinsic <= 1
    assert channel_alone >= with_extrinsic + 4
