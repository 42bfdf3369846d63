"""Packet-level soft channel: each packet's bits as BPSK over AWGN, with exact LLRs.

This is the fast path of ``../shared/DESIGN.md`` ("a packet-level channel is
a valid fast path for semantic experiments"), an abstraction of a PHY that
hands its bit reliabilities to the link layer, not a second PHY. It stands
in for the coded OFDM PHY with soft demapping until that delivers LLRs.

Model: bit ``b`` is sent as ``x = 1 - 2b`` (bit 0 -> +1), received as
``y = x + n`` with ``n ~ N(0, sigma^2)``, ``sigma^2 = 1 / (2 Es/N0)``. The
exact LLR is ``log p(y|0)/p(y|1) = 2y / sigma^2 = 4 (Es/N0) y``: positive
means bit 0, the convention of :mod:`tokencom_sdr.tokens.soft`. For BPSK
``Eb/N0 = Es/N0 = 10**(snr_db/10)``; uncoded BER is ``Q(sqrt(2 Eb/N0))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

__all__ = ["SoftPacket", "SoftBitChannel", "bpsk_bit_error_rate"]


def bpsk_bit_error_rate(snr_db: float) -> float:
    """Uncoded BPSK bit error rate ``Q(sqrt(2 Es/N0))`` at ``Es/N0 = snr_db``."""
    return 0.5 * math.erfc(math.sqrt(10.0 ** (snr_db / 10.0)))


@dataclass
class SoftPacket:
    """One packet as a soft-output receiver sees it.

    Attributes
    ----------
    data : bytes
        Hard decisions (``llr < 0`` -> bit 1), MSB first in each byte.
    llrs : np.ndarray, shape ``(8 * len(data),)``, dtype ``float32``, or None
        Bit LLRs in transmission order (positive = bit 0); None when the
        receiver made hard decisions only.
    code_llr : np.ndarray or None, shape ``(coded bits,)``, dtype ``float32``
        Channel LLRs of the coded payload as sent, from a coded PHY whose FEC
        failed on this packet (None otherwise): enough to decode it again
        with prior knowledge of its bits
        (:mod:`tokencom_sdr.link.receiver.redecoding`).
    mcs : str or None
        Name of the MCS the packet was sent with (needed with ``code_llr``).
    """

    data: bytes
    llrs: Optional[np.ndarray] = None
    code_llr: Optional[np.ndarray] = None
    mcs: Optional[str] = None


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

    def transmit(self, packet: bytes) -> SoftPacket:
        """Send one packet; return its hard bytes and bit LLRs.

        Returns
        -------
        SoftPacket
            ``llrs`` has shape ``(8 * len(packet),)``, dtype ``float32``.
        """
        bits = np.unpackbits(np.frombuffer(bytes(packet), dtype=np.uint8))
        y = (1.0 - 2.0 * bits) + self.sigma * self.rng.standard_normal(bits.size)
        llrs = (4.0 * self.esn0 * y).astype(np.float32)
        hard = np.packbits((llrs < 0).astype(np.uint8)).tobytes()
        return SoftPacket(hard, llrs)

    def transmit_all(self, packets: Sequence[bytes]) -> List[SoftPacket]:
        """Send each packet once, in order (none is lost: every one arrives,
        possibly with bit errors that its CRC will catch)."""
        return [self.transmit(p) for p in packets]
