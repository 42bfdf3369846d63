"""The ToDMA uplink: K devices send one token codeword per slot, superposed.

In slot ``n`` device ``k`` sends ``U[:, t_kn]``; the air adds the K
codewords, each through the device's flat-fading gain ``h_k`` (constant over
the frame's N slots: that is what lets the receiver cluster per-token channel
estimates into devices), and the receiver adds white Gaussian noise::

    y_n = sum_k h_k U[:, t_kn] + w_n,        w_n ~ CN(0, noise_var I_L)

SNR convention: per channel use and per device, as for the OFDM link. A
unit-norm codeword spreads its energy over ``L`` channel uses, so a device of
average gain ``E|h|^2 = 1`` brings ``1/L`` per channel use and
``noise_var = 1 / (L * 10^(snr_db/10))``. After the matched filter a codeword
sees ``L`` times that SNR.

Two paths:

* :func:`transmit_frame` (fast, slot level): ``N * L`` complex symbols, the
  slots as the receiver sees them after perfect synchronisation;
* :func:`transmit_ofdm_frame`: the frames on the OFDM numerology of
  :mod:`tokencom_sdr.phy` (:mod:`.ofdm_frame`: Schmidl & Cox preamble, the
  codewords on the 48 data carriers, pilots), through the multi-device
  channel (:func:`tokencom_sdr.channel.superpose_devices`: per-device gain,
  timing offset and CFO) as raw samples. Its channel uses are the frame's
  time samples: preamble, cyclic prefixes and pilots included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from typing import Optional

from ..channel.multi_device import DeviceOffsets, superpose_devices
from .ofdm_frame import FrameLayout, frame_waveforms

__all__ = ["UplinkFrame", "rayleigh_gains", "noise_variance", "transmit_frame",
           "device_samples", "OfdmUplink", "transmit_ofdm_frame"]

#: Noise-only samples around a frame, for the receiver to find it in.
FRAME_GUARD = 200


def _device_arrays(tokens, gains):
    """``tokens`` as ``(K, N)`` int64 and ``gains`` as ``(K,)`` complex128, or
    a ValueError naming the shapes."""
    tokens = np.asarray(tokens, dtype=np.int64)
    gains = np.asarray(gains, dtype=np.complex128)
    if tokens.ndim != 2 or gains.shape != (tokens.shape[0],):
        raise ValueError(f"need tokens (K, N) and gains (K,), got {tokens.shape} and {gains.shape}")
    return tokens, gains


def rayleigh_gains(num_devices: int, rng: np.random.Generator) -> np.ndarray:
    """Flat Rayleigh-fading gains, one per device.

    Returns
    -------
    np.ndarray, shape ``(K,)``, dtype ``complex128``
        i.i.d. ``CN(0, 1)``.
    """
    return (rng.standard_normal(num_devices) + 1j * rng.standard_normal(num_devices)) / np.sqrt(2)


def noise_variance(snr_db: float, codeword_len: int) -> float:
    """Noise variance per channel use for a per-use SNR of ``snr_db`` with
    unit-average device gains and unit-norm codewords of length ``codeword_len``."""
    return 1.0 / (codeword_len * 10.0 ** (snr_db / 10.0))


@dataclass
class UplinkFrame:
    """What the receiver gets for one frame, with what the devices sent.

    Attributes
    ----------
    received : np.ndarray, shape ``(N, L)``, dtype ``complex128``
        One row per slot.
    noise_var : float
        Noise variance per channel use (known to the receiver).
    tokens : np.ndarray, shape ``(K, N)``, dtype ``int64``
        The devices' tokens (ground truth, for scoring only).
    gains : np.ndarray, shape ``(K,)``, dtype ``complex128``
        The devices' channels (ground truth, for scoring only).
    """

    received: np.ndarray
    noise_var: float
    tokens: np.ndarray
    gains: np.ndarray

    @property
    def channel_uses(self) -> int:
        """Complex symbols the frame occupies: slots x L."""
        return int(self.received.size)


def transmit_frame(codebook: np.ndarray, tokens: np.ndarray, gains: np.ndarray,
                   snr_db: float, rng: np.random.Generator) -> UplinkFrame:
    """Superpose the devices' codewords slot by slot and add noise.

    Parameters
    ----------
    codebook : np.ndarray, shape ``(L, Q)``, complex
        ``U`` (:func:`~tokencom_sdr.todma.codebook.gaussian_codebook`).
    tokens : np.ndarray, shape ``(K, N)``, integer
        Token id of device ``k`` in slot ``n``, each in ``[0, Q)``.
    gains : np.ndarray, shape ``(K,)``, complex
        Flat-fading gain of each device.
    snr_db : float
        Per-use SNR (module docstring).
    rng : np.random.Generator
        Noise source.

    Returns
    -------
    UplinkFrame
    """
    tokens, gains = _device_arrays(tokens, gains)
    codeword_len, num_tokens = codebook.shape
    if tokens.size and (tokens.min() < 0 or tokens.max() >= num_tokens):
        raise ValueError(f"token ids must lie in [0, {num_tokens})")
    # (K, N, L): each device's codewords scaled by its gain, summed over K.
    codewords = codebook.T[tokens].astype(np.complex128)
    clean = np.einsum("k,knl->nl", gains, codewords)
    noise_var = noise_variance(snr_db, codeword_len)
    noise = np.sqrt(noise_var / 2) * (rng.standard_normal(clean.shape)
                                      + 1j * rng.standard_normal(clean.shape))
    return UplinkFrame(received=clean + noise, noise_var=noise_var, tokens=tokens, gains=gains)


def device_samples(codebook: np.ndarray, tokens: np.ndarray, gain: complex = 1.0) -> np.ndarray:
    """One device's transmission as a sample stream, slot after slot.

    Parameters
    ----------
    codebook : np.ndarray, shape ``(L, Q)``, complex
    tokens : np.ndarray, shape ``(N,)``, integer
        The device's token per slot.
    gain : complex
        Its channel, applied here when a flowgraph has no fading block.

    Returns
    -------
    np.ndarray, shape ``(N * L,)``, dtype ``complex64``
        Slot ``n`` occupies samples ``n L .. (n + 1) L - 1``: the layout
        :class:`~tokencom_sdr.todma.receiver.ToDMAReceiver` takes as ``(N, L)``.
    """
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= codebook.shape[1]):
        raise ValueError(f"token ids must lie in [0, {codebook.shape[1]})")
    return (gain * codebook.T[tokens]).reshape(-1).astype(np.complex64)


@dataclass
class OfdmUplink:
    """One OFDM ToDMA frame as the receiver's samples, with what was sent.

    Attributes
    ----------
    samples : np.ndarray, shape ``(FRAME_GUARD + layout.samples + FRAME_GUARD,)``, complex64
        Noise, the frame (all devices, offsets and noise), noise.
    noise_var : float
        Noise variance per sample (= per data subcarrier-symbol).
    layout : FrameLayout
    tokens : np.ndarray, shape ``(K, N)``, dtype ``int64``
        Ground truth, for scoring only.
    gains : np.ndarray, shape ``(K,)``, complex128
        Ground truth, for scoring only.
    offsets : DeviceOffsets
        Ground truth, for scoring only.
    """

    samples: np.ndarray
    noise_var: float
    layout: FrameLayout
    tokens: np.ndarray
    gains: np.ndarray
    offsets: DeviceOffsets

    @property
    def channel_uses(self) -> int:
        """Time samples of the frame on the air (preamble and prefixes included)."""
        return self.layout.samples


def transmit_ofdm_frame(codebook: np.ndarray, tokens: np.ndarray, gains: np.ndarray,
                        snr_db: float, rng: np.random.Generator,
                        offsets: Optional[DeviceOffsets] = None) -> OfdmUplink:
    """K devices' OFDM frames through the multi-device channel.

    Parameters
    ----------
    codebook : np.ndarray, shape ``(L, Q)``, complex
    tokens : np.ndarray, shape ``(K, N)``, integer
    gains : np.ndarray, shape ``(K,)``, complex
    snr_db : float
        Per data subcarrier-symbol, as for :func:`transmit_frame`.
    rng : np.random.Generator
        Noise source.
    offsets : DeviceOffsets, optional
        Per-device timing offsets and CFOs; none by default.

    Returns
    -------
    OfdmUplink
    """
    tokens, gains = _device_arrays(tokens, gains)
    layout = FrameLayout(slots=tokens.shape[1], codeword_len=codebook.shape[0])
    offsets = offsets or DeviceOffsets.none(tokens.shape[0])
    noise_var = noise_variance(snr_db, codebook.shape[0])
    samples = superpose_devices(frame_waveforms(codebook, tokens, layout), gains, offsets,
                                noise_var, rng, lead=FRAME_GUARD, tail=FRAME_GUARD)
    return OfdmUplink(samples=samples, noise_var=noise_var, layout=layout, tokens=tokens,
                      gains=gains, offsets=offsets)
