"""The software channel between a loopback's transmitter and receiver."""

from typing import Optional, Sequence

import numpy as np
from gnuradio import channels, gr

from .mobility import FadingSpec, FrontEndSpec


#: Lowest SNR the channel accepts: far below where anything decodes, and
#: far above where the noise amplitude overflows.
MIN_SNR_DB = -60.0


def check_snr_db(snr_db: float) -> float:
    """``snr_db`` as a float, or a ValueError saying what is allowed."""
    snr_db = float(snr_db)
    if np.isnan(snr_db) or snr_db < MIN_SNR_DB or snr_db == -np.inf:
        raise ValueError(f"SNR must be a number of dB >= {MIN_SNR_DB:g} (or inf: no noise), got {snr_db}")
    return snr_db


def noise_voltage_for_snr(snr_db: float, signal_power: float = 1.0) -> float:
    """Noise amplitude for gr-channels' ``channel_model`` at a given SNR.

    SNR is the mean power of the burst samples (gaps excluded) over the noise
    power per complex sample. ``channel_model``'s complex Gaussian noise of
    amplitude ``a`` has power ``a**2`` (``a**2/2`` per rail).
    """
    return float(np.sqrt(signal_power * 10.0 ** (-snr_db / 10.0)))


def normalise_taps(taps: Optional[Sequence[complex]]) -> np.ndarray:
    """Multipath taps scaled to unit energy, so the channel keeps mean power.

    Parameters
    ----------
    taps : sequence of complex, or None
        FIR taps of the delay profile, one per sample of delay. None or empty
        means a flat channel.

    Returns
    -------
    np.ndarray, shape ``(len(taps),)``, dtype ``complex128``
    """
    if taps is None or len(taps) == 0:
        return np.ones(1, dtype=complex)
    taps = np.asarray(taps, dtype=complex).reshape(-1)
    energy = float(np.sum(np.abs(taps) ** 2))
    if not np.isfinite(energy) or energy <= 0.0:
        raise ValueError("multipath taps must have finite, non-zero energy")
    return taps / np.sqrt(energy)


class LoopbackChannel(gr.hier_block2):
    """AWGN, carrier frequency offset, sample-clock offset and multipath;
    optionally a fading channel and front-end impairments.

    In signal order: fading (``fading``, gr-channels'
    ``selective_fading_model``), then static multipath, clock offset,
    frequency offset and noise (``channel_model``), then the receiver's
    front end (``front_end``, ``channels.impairments``).

    Input and output: ``complex64`` samples. The TX is expected to emit bursts
    of unit mean power (``OfdmBurstTx`` does), so ``snr_db`` is the burst SNR.

    Parameters
    ----------
    snr_db : float
        Burst power over noise power per complex sample, in dB. ``inf`` means
        no noise.
    cfo : float
        Carrier frequency offset normalised to the sample rate (0.01 = 1% of fs).
    sco_ppm : float
        Sample-clock offset of the receiver relative to the transmitter, in ppm.
    taps : sequence of complex
        Multipath FIR taps (normalised to unit energy here).
    seed : int
        Seed of the noise generator, for reproducible runs.
    fading : FadingSpec, optional
        A moving channel (3GPP delay profile, Doppler, Rician K); none when
        omitted. Its taps come on top of ``taps``.
    front_end : FrontEndSpec, optional
        IQ imbalance, DC offset and phase noise at the receiver.
    """

    def __init__(self, snr_db: float = float("inf"), cfo: float = 0.0, sco_ppm: float = 0.0,
                 taps: Optional[Sequence[complex]] = None, seed: int = 0,
                 fading: Optional[FadingSpec] = None, front_end: Optional[FrontEndSpec] = None):
        gr.hier_block2.__init__(self, "tokencom_loopback_channel",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        if abs(cfo) >= 0.5:
            raise ValueError(f"cfo is normalised to the sample rate and must lie in (-0.5, 0.5), got {cfo}")
        if abs(sco_ppm) >= 1e5:
            raise ValueError(f"sco_ppm {sco_ppm} is not a plausible clock offset")
        snr_db = check_snr_db(snr_db)
        noise = 0.0 if np.isinf(snr_db) else noise_voltage_for_snr(snr_db)
        self.snr_db, self.cfo, self.sco_ppm = snr_db, cfo, sco_ppm
        self.taps = normalise_taps(taps)
        # Tags stop here, as they would at a real antenna.
        # channel_model seeds its noise with a float; a negative seed would
        # ask for a time-based one, which breaks reproducibility.
        self.model = channels.channel_model(
            noise_voltage=noise, frequency_offset=cfo, epsilon=1.0 + sco_ppm * 1e-6,
            taps=[complex(t) for t in self.taps], noise_seed=abs(int(seed)) + 1, block_tags=True)
        self.fading, self.front_end = fading, front_end
        chain = [self.model]
        if fading is not None:
            self.fader = fading.make_block()
            chain.insert(0, self.fader)
        if front_end is not None and front_end.active:
            self.impairments = front_end.make_block()
            chain.append(self.impairments)
        self.connect(self, *chain, self)

    def settings(self) -> dict:
        """The channel's settings as JSON-ready values (for a sweep's record)."""
        return {"snr_db": self.snr_db, "cfo": self.cfo, "sco_ppm": self.sco_ppm,
                "taps": [[t.real, t.imag] for t in self.taps],
                "fading": None if self.fading is None else self.fading.to_json(),
                "front_end": None if self.front_end is None else self.front_end.to_json()}

    def set_snr_db(self, snr_db: float) -> None:
        """Change the SNR while the flowgraph runs (a GUI slider's callback)."""
        snr_db = check_snr_db(snr_db)
        self.model.set_noise_voltage(0.0 if np.isinf(snr_db) else noise_voltage_for_snr(snr_db))
        self.snr_db = snr_db
