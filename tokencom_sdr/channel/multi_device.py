"""Several transmitters into one receiver, in numpy: the multi-device channel
of a grant-free uplink (ToDMA, :mod:`tokencom_sdr.todma`).

Each device's waveform reaches the receiver through its own flat gain, its
own small timing offset (a fractional delay, applied exactly as a linear
phase over the waveform's spectrum) and its own carrier frequency offset
(a phase ramp over sample time); the air adds them and the receiver adds
white Gaussian noise::

    r[t] = sum_k h_k x_k(t - d_k) exp(j 2 pi f_k t) + w[t],   w ~ CN(0, noise_var)

The frame starts ``lead`` samples into ``r`` (noise only before it, so a
receiver has to find it) and ``tail`` noise samples follow the longest
waveform. GNU Radio's gr-channels blocks do the same per device in a
flowgraph (``flowgraphs/todma_loopback.grc``); this function is the fast
path for evaluations over many frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DeviceOffsets", "superpose_devices"]


@dataclass(frozen=True)
class DeviceOffsets:
    """How far each device is from the receiver's frame timing and frequency.

    Attributes
    ----------
    delays : np.ndarray, shape ``(K,)``, float64
        Timing offset of each device, in samples (fractional; >= 0).
    cfos : np.ndarray, shape ``(K,)``, float64
        Carrier frequency offset of each device, in cycles per sample.
    """

    delays: np.ndarray
    cfos: np.ndarray

    @classmethod
    def draw(cls, num_devices: int, max_delay: float, max_cfo: float,
             rng: np.random.Generator, common_delay: float = 0.0,
             common_cfo: float = 0.0) -> "DeviceOffsets":
        """Offsets drawn uniformly: one common to all devices (the receiver's
        own timing and frequency error: a delay in ``[0, common_delay]``
        samples and a CFO in ``[-common_cfo, common_cfo]``), plus each
        device's residual (a delay in ``[0, max_delay]``, a CFO in
        ``[-max_cfo, max_cfo]`` cycles per sample)."""
        if min(max_delay, max_cfo, common_delay, common_cfo) < 0:
            raise ValueError("offset ranges must be >= 0, got "
                             f"{(max_delay, max_cfo, common_delay, common_cfo)}")
        if max_cfo + common_cfo >= 0.5:
            raise ValueError(f"CFOs are in cycles per sample and must stay below 0.5, got "
                             f"{max_cfo} + {common_cfo}")
        shared_delay = rng.uniform(0.0, common_delay)
        shared_cfo = rng.uniform(-common_cfo, common_cfo)
        return cls(delays=shared_delay + rng.uniform(0.0, max_delay, num_devices),
                   cfos=shared_cfo + rng.uniform(-max_cfo, max_cfo, num_devices))

    @classmethod
    def none(cls, num_devices: int) -> "DeviceOffsets":
        """Every device exactly on time and on frequency."""
        return cls(delays=np.zeros(num_devices), cfos=np.zeros(num_devices))


def superpose_devices(waveforms: np.ndarray, gains: np.ndarray, offsets: DeviceOffsets,
                      noise_var: float, rng: np.random.Generator, lead: int = 0,
                      tail: int = 0) -> np.ndarray:
    """What the receiver's antenna sees when K devices transmit at once.

    Parameters
    ----------
    waveforms : np.ndarray, shape ``(K, S)``, complex
        Each device's baseband samples, aligned on the receiver's nominal
        frame start.
    gains : np.ndarray, shape ``(K,)``, complex
        Flat channel of each device (constant over the frame).
    offsets : DeviceOffsets
        Timing offsets and CFOs.
    noise_var : float
        Noise power per complex sample.
    rng : np.random.Generator
        Noise source.
    lead, tail : int
        Noise-only samples before and after the frame.

    Returns
    -------
    np.ndarray, shape ``(lead + S + tail,)``, dtype ``complex64``
    """
    waveforms = np.asarray(waveforms, dtype=np.complex128)
    gains = np.asarray(gains, dtype=np.complex128).reshape(-1)
    num_devices, length = waveforms.shape
    if gains.shape != (num_devices,) or offsets.delays.shape != (num_devices,) \
            or offsets.cfos.shape != (num_devices,):
        raise ValueError(f"need one gain, delay and CFO per device ({num_devices}), got "
                         f"{gains.shape}, {offsets.delays.shape} and {offsets.cfos.shape}")
    if lead < 0 or tail < 0 or noise_var < 0:
        raise ValueError("lead, tail and noise_var must be >= 0")
    total = lead + length + tail
    # Room for the longest delay so that the circular shift wraps nothing.
    span = length + int(np.ceil(offsets.delays.max(initial=0.0))) + 1
    padded = np.zeros((num_devices, span), dtype=np.complex128)
    padded[:, :length] = waveforms
    frequency = np.fft.fftfreq(span)
    delayed = np.fft.ifft(np.fft.fft(padded, axis=1)
                          * np.exp(-2j * np.pi * frequency[None, :] * offsets.delays[:, None]), axis=1)
    time = np.arange(span)
    rotated = delayed * np.exp(2j * np.pi * offsets.cfos[:, None] * time[None, :])
    received = np.zeros(total, dtype=np.complex128)
    keep = min(span, length + tail)
    received[lead:lead + keep] = gains @ rotated[:, :keep]
    received += np.sqrt(noise_var / 2) * (rng.standard_normal(total) + 1j * rng.standard_normal(total))
    return received.astype(np.complex64)
