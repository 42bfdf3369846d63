"""The software channel as GRC builds it: flat parameters in, a
:class:`~tokencom_sdr.channel.loopback_channel.LoopbackChannel` out."""

from typing import Sequence

from ..channel.loopback_channel import LoopbackChannel
from ..channel.mobility import FadingSpec, FrontEndSpec

#: GRC's "off" for phase noise: at or below this many dB none is added.
PHASE_NOISE_OFF_DB = -100.0


def loopback_channel_block(snr_db: float = 25.0, cfo: float = 0.0, sco_ppm: float = 0.0,
                           taps: Sequence[complex] = (1.0,), seed: int = 0, profile: str = "static",
                           doppler_hz: float = 5.0, sample_rate: float = 2e6, rician_k: float = 0.0,
                           iq_magnitude_db: float = 0.0, iq_phase_deg: float = 0.0, dc_offset: complex = 0j,
                           phase_noise_db: float = PHASE_NOISE_OFF_DB) -> LoopbackChannel:
    """A loopback channel from the TokenCom Loopback Channel block's
    parameters. ``profile`` ``"static"`` means no fading; a phase noise of
    ``PHASE_NOISE_OFF_DB`` or less means none."""
    fading = None if profile == "static" else FadingSpec(profile, doppler_hz, sample_rate, rician_k, seed)
    front_end = FrontEndSpec(iq_magnitude_db, iq_phase_deg, complex(dc_offset),
                             None if phase_noise_db <= PHASE_NOISE_OFF_DB else phase_noise_db)
    return LoopbackChannel(snr_db, cfo, sco_ppm, list(taps), seed, fading=fading,
                           front_end=front_end if front_end.active else None)
