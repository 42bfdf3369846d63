"""Packet-level soft channel: each packet's bits as BPSK over AWGN, with exact LLRs.

This is the fast path of ``../shared/DESIGN.md`` ("a packet-level channel is
a valid fast path for semantic experiments"), an abstraction of a PHY that
hands its bit reliabilities to the link layer, not a second PHY. Its output
is the PHY's own type (:class:`~tokencom_sdr.phy.received_burst.ReceivedBurst`),
so the receiver library takes it unchanged.

Model: bit ``b`` is sent as ``x = 1 - 2b`` (bit 0 -> +1), received as
``y = x + n`` with ``n ~ N(0, sigma^2)``, ``sigma^2 = 1 / (2 Es/N0)``. The
exact LLR is ``log p(y|0)/p(y|1) = 2y / sigma^2 = 4 (Es/N0) y``: positive
means bit 0, the convention of :mod:`tokencom_sdr.tokens.soft`. For BPSK
``Eb/N0 = Es/N0 = 10**(snr_db/10)``; uncoded BER is ``Q(sqrt(2 Eb/N0))``.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import numpy as np

from ..phy.received_burst import ReceivedBurst

__all__ = ["SoftBitChannel", "bpsk_bit_error_rate"]


def bpsk_bit_error_rate(snr_db: float) -> float:
    """Uncoded BPSK bit error rate ``Q(sqrt(2 Es/N0))`` at ``Es/N0 = snr_db``."""
    return 0.5 * math.erfc(math.sqrt(10.0 ** (snr_db / 10.0)))


class SoftBitChannel:
    """BPSK/AWGN on the bits of whole packets.

    Parameters
    ----------
    snr_db : float
        ``Es/N0`` per BPSK symbol (= ``Eb/N0``) in dB.
    seed : int or None
        Seed of the noise generator.
    """

    def __init__(self, snr_db: float, seed: Optional[int] = 0):
        if not math.isfinite(snr_db):
            raise ValueError(f"snr_db must be finite, got {snr_db}")
        self.snr_db = float(snr_db)
        self.esn0 = 10.0 ** (self.snr_db / 10.0)
        self.sigma = math.sqrt(1.0 / (2.0 * self.esn0))
        self.rng = np.random.default_rng(seed)

    def transmit(self, packet: bytes) -> ReceivedBurst:
        """Send one packet; return its hard bytes and bit LLRs.

        Returns
        -------
        ReceivedBurst
            ``bit_llr`` has shape ``(8 * len(packet),)``, dtype ``float32``.
        """
        bits = np.unpackbits(np.frombuffer(bytes(packet), dtype=np.uint8))
        y = (1.0 - 2.0 * bits) + self.sigma * self.rng.standard_normal(bits.size)
        llrs = (4.0 * self.esn0 * y).astype(np.float32)
        hard = np.packbits((llrs < 0).astype(np.uint8)).tobytes()
        return ReceivedBurst(hard, bit_llr=llrs)

    def transmit_all(self, packets: Sequence[bytes]) -> List[ReceivedBurst]:
        """Send each packet once, in order (none is lost: every one arrives,
        possibly with bit errors that its CRC will catch)."""
        return [self.transmit(p) for p in packets]
