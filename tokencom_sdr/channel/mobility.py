"""Moving radios and imperfect front ends: what the software channel adds
beyond AWGN and a frequency offset.

The settings are plain data (recorded in every sweep's JSON); the GNU Radio
blocks that realise them are gr-channels' own:

* :class:`FadingSpec` -> ``channels.selective_fading_model``: a 3GPP delay
  profile (TS 36.104 Annex B: EPA, EVA, ETU), each path a sum-of-sinusoids
  Rayleigh (or Rician) fader with a maximum Doppler of ``doppler_hz``;
* :class:`FrontEndSpec` -> ``channels.impairments``: IQ imbalance, DC offset
  and phase noise of the receiver.
"""

from dataclasses import asdict, dataclass
from typing import Dict, Optional, Tuple

import numpy as np

#: 3GPP TS 36.104 Annex B.2 delay profiles: (delay in ns, relative power in dB).
DELAY_PROFILES: Dict[str, Tuple[Tuple[float, float], ...]] = {
    "epa": ((0, 0.0), (30, -1.0), (70, -2.0), (90, -3.0), (110, -8.0), (190, -17.2), (410, -20.8)),
    "eva": ((0, 0.0), (30, -1.5), (150, -1.4), (310, -3.6), (370, -0.6), (710, -9.1), (1090, -7.0),
            (1730, -12.0), (2510, -16.9)),
    "etu": ((0, -1.0), (50, -1.0), (120, -1.0), (200, 0.0), (230, 0.0), (500, 0.0), (1600, -3.0),
            (2300, -5.0), (5000, -7.0)),
}
#: Sinusoids per path in gr-channels' fader (its documentation's suggestion).
_SINUSOIDS = 8
#: Interpolation taps either side of a fractional delay in the fading FIR.
_DELAY_INTERPOLATION_TAPS = 8


@dataclass(frozen=True)
class FadingSpec:
    """A time-varying multipath channel.

    Attributes
    ----------
    profile : str
        ``"epa"``, ``"eva"`` or ``"etu"`` (3GPP extended pedestrian A,
        vehicular A, typical urban).
    doppler_hz : float
        Maximum Doppler shift, Hz (speed / wavelength: 300 Hz is about
        130 km/h at 2.45 GHz).
    sample_rate : float
        Sample rate of the baseband, Hz: it turns delays in ns into samples
        and Doppler in Hz into cycles per sample.
    rician_k : float
        Rician K factor (line-of-sight power over scattered power, linear) of
        the first path; 0 is Rayleigh fading.
    seed : int
        Seed of the faders, for reproducible runs.
    """

    profile: str = "etu"
    doppler_hz: float = 70.0
    sample_rate: float = 2e6
    rician_k: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if self.profile not in DELAY_PROFILES:
            raise ValueError(f"unknown delay profile {self.profile!r}; choose one of "
                             f"{', '.join(DELAY_PROFILES)}")
        if not (np.isfinite(self.sample_rate) and self.sample_rate > 0):
            raise ValueError(f"sample_rate must be a positive number of Hz, got {self.sample_rate}")
        if not (np.isfinite(self.doppler_hz) and 0 <= self.doppler_hz < self.sample_rate / 100):
            raise ValueError(f"doppler_hz must lie in [0, sample_rate/100), got {self.doppler_hz}")
        if not (np.isfinite(self.rician_k) and self.rician_k >= 0):
            raise ValueError(f"rician_k must be >= 0, got {self.rician_k}")

    def delays_and_magnitudes(self) -> Tuple[np.ndarray, np.ndarray]:
        """Path delays in samples and path amplitudes scaled to unit total power.

        Returns
        -------
        (np.ndarray, shape ``(n_paths,)``, float64; np.ndarray, shape ``(n_paths,)``, float64)
        """
        table = np.array(DELAY_PROFILES[self.profile], dtype=np.float64)
        delays = table[:, 0] * 1e-9 * self.sample_rate
        power = 10.0 ** (table[:, 1] / 10.0)
        return delays, np.sqrt(power / power.sum())

    def make_block(self):
        """The gr-channels fading block for these settings."""
        from gnuradio import channels

        delays, magnitudes = self.delays_and_magnitudes()
        # The fader's FIR interpolates fractional delays with a windowed
        # sinc: it needs the longest delay plus room either side.
        ntaps = int(np.ceil(delays.max())) + 2 * _DELAY_INTERPOLATION_TAPS + 1
        return channels.selective_fading_model(
            _SINUSOIDS, self.doppler_hz / self.sample_rate, self.rician_k > 0, float(self.rician_k),
            abs(int(self.seed)) + 1, [float(d) for d in delays], [float(m) for m in magnitudes], ntaps)

    def to_json(self) -> Dict:
        return asdict(self)


@dataclass(frozen=True)
class FrontEndSpec:
    """Receiver front-end impairments.

    Attributes
    ----------
    iq_magnitude_db : float
        Gain imbalance between I and Q, dB.
    iq_phase_deg : float
        Phase imbalance between I and Q, degrees.
    dc_offset : complex
        DC offset added to the samples (burst power is 1).
    phase_noise_db : float or None
        Phase-noise magnitude in dB (gr-channels' ``phase_noise_mag``);
        None: no phase noise.
    """

    iq_magnitude_db: float = 0.0
    iq_phase_deg: float = 0.0
    dc_offset: complex = 0j
    phase_noise_db: Optional[float] = None

    def __post_init__(self):
        if not all(np.isfinite([self.iq_magnitude_db, self.iq_phase_deg, abs(self.dc_offset)])):
            raise ValueError("front-end impairments must be finite numbers")
        if abs(self.iq_magnitude_db) > 6 or abs(self.iq_phase_deg) > 45 or abs(self.dc_offset) > 1:
            raise ValueError("front-end impairments out of range: |IQ gain| <= 6 dB, "
                             "|IQ phase| <= 45 degrees, |DC| <= 1")
        if self.phase_noise_db is not None and not -100 <= self.phase_noise_db <= 0:
            raise ValueError(f"phase_noise_db must lie in [-100, 0] dB, got {self.phase_noise_db}")

    @property
    def active(self) -> bool:
        return (self.iq_magnitude_db != 0 or self.iq_phase_deg != 0 or self.dc_offset != 0
                or self.phase_noise_db is not None)

    def make_block(self):
        """``channels.impairments`` with these settings (no frequency offset
        or nonlinearity: the channel model has the former)."""
        from gnuradio import channels

        # impairments() takes the phase-noise magnitude in dB and always
        # builds the generator; -200 dB is no phase noise.
        phase_noise = -200.0 if self.phase_noise_db is None else float(self.phase_noise_db)
        dc = complex(self.dc_offset)
        return channels.impairments(phase_noise_mag=phase_noise, magbal=float(self.iq_magnitude_db),
                                    phasebal=float(self.iq_phase_deg), q_ofs=dc.imag, i_ofs=dc.real)

    def to_json(self) -> Dict:
        out = asdict(self)
        dc = complex(self.dc_offset)
        out["dc_offset"] = [dc.real, dc.imag]
        return out
