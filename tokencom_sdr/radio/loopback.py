"""The loopback backend: no radio, a software channel between TX and RX in one process.

``tokencom tx --radio loopback`` modulates as for a real radio; its sink
(:class:`IqCollector`) keeps the IQ, and when the transmitter is done the
application runs it through :meth:`LoopbackBackend.make_channel` (AWGN, CFO,
clock offset, multipath from the profile) into the streaming receiver. The
functional check to run first.
"""

from typing import List

import numpy as np

from ..channel.loopback_channel import LoopbackChannel, check_snr_db
from .backend import Log, RadioBackend, TxSink
from .checks import ProfileError

__all__ = ["LoopbackBackend", "IqCollector"]


class IqCollector(TxSink):
    """Keeps every message's IQ, in order, for a receiver in the same process.

    Attributes
    ----------
    chunks : list of np.ndarray
        One ``complex64`` array per :meth:`send`.
    """

    def __init__(self):
        self.chunks: List[np.ndarray] = []

    def send(self, iq: np.ndarray) -> None:
        self.chunks.append(np.asarray(iq, dtype=np.complex64))

    def close(self, interrupted: bool = False) -> None:
        """Nothing to release: the IQ stays here for :meth:`samples`."""

    def samples(self) -> np.ndarray:
        """Everything sent, back to back.

        Returns
        -------
        np.ndarray, shape ``(n,)``, dtype ``complex64``
            Empty when nothing was sent.
        """
        if not self.chunks:
            return np.zeros(0, dtype=np.complex64)
        return np.concatenate(self.chunks)


class LoopbackBackend(RadioBackend):
    """The software channel in one process (``tokencom tx`` also receives)."""

    name = "loopback"
    fields = frozenset({"snr_db", "cfo", "sco_ppm", "taps", "seed", "sample_rate_hz",
                        "center_freq_hz"})
    loops_back = True

    def validate(self, profile, label: str) -> None:
        p = profile
        try:
            check_snr_db(p.snr_db)
        except ValueError as error:
            raise ProfileError(label, "snr_db", str(error)) from None
        if not -0.5 < p.cfo < 0.5:
            raise ProfileError(label, "cfo", f"is normalised to the sample rate and must lie in "
                               f"(-0.5, 0.5), got {p.cfo:g}")
        if not abs(p.sco_ppm) < 1e5:
            raise ProfileError(label, "sco_ppm", f"{p.sco_ppm:g} ppm is not a plausible clock "
                               f"offset")
        if sum(abs(t) ** 2 for t in p.taps) <= 0:
            raise ProfileError(label, "taps", "multipath taps must have non-zero energy")

    def hardware_label(self, profile) -> str:
        p = profile
        return (f"software loopback channel (SNR {p.snr_db:g} dB, CFO {p.cfo:g} fs, "
                f"{p.sco_ppm:g} ppm, {len(p.taps)} taps)")

    def make_source(self, profile):
        raise ValueError(f"the {profile.backend} profile has no receiver of its own; run "
                         f"`tokencom tx --radio {profile.name or profile.backend}` (TX, channel "
                         f"and RX in one process) or `tokencom rx --replay FILE.sigmf-meta`")

    def make_sink(self, profile, log: Log) -> IqCollector:
        return IqCollector()

    def make_channel(self, profile):
        """The profile's software channel.

        Returns
        -------
        LoopbackChannel
            A ``complex64`` -> ``complex64`` GNU Radio block.
        """
        p = profile
        return LoopbackChannel(p.snr_db, p.cfo, p.sco_ppm, p.taps, p.seed)

