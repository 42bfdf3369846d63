"""Packet-erasure channel: each packet is lost independently with probability p.

The abstraction of a PHY whose CRC-failed packets are dropped: what reaches
the link layer is a subset of the sent packets, unchanged.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

__all__ = ["PacketErasureChannel"]


class PacketErasureChannel:
    """Independent packet loss.

    Parameters
    ----------
    loss_probability : float
        Probability that a packet is lost, in ``[0, 1]``.
    seed : int or None
        Seed of the loss generator.
    """

    def __init__(self, loss_probability: float, seed: Optional[int] = 0):
        if not 0.0 <= loss_probability <= 1.0:
            raise ValueError(f"loss_probability must be in [0, 1], got {loss_probability}")
        self.loss_probability = float(loss_probability)
        self.rng = np.random.default_rng(seed)

    def transmit_all(self, packets: Sequence[bytes]) -> List[bytes]:
        """The packets that survive, in their original order."""
        keep = self.rng.random(len(packets)) >= self.loss_probability
        return [p for p, k in zip(packets, keep) if k]
