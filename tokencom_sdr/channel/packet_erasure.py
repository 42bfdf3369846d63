"""Packet-erasure channel: the packets a lossy link drops, by a loss model.

The abstraction of a PHY whose CRC-failed packets are dropped: what reaches
the link layer is a subset of the sent packets, unchanged. Which packets go
is decided by a :class:`~tokencom_sdr.channel.loss_models.MarkovLossModel`
(i.i.d. by default; Gilbert-Elliott or Yajnik's EP1-EP6 for bursts), run as
one continuous trace over every packet the channel carries.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from .loss_models import MarkovLossModel, iid_loss

__all__ = ["PacketErasureChannel"]


class PacketErasureChannel:
    """Packet loss by a loss model.

    Parameters
    ----------
    loss_probability : float or None
        I.i.d. loss probability in ``[0, 1]``; ignored when ``model`` is given.
    seed : int or None
        Seed of the loss trace.
    model : MarkovLossModel or None
        A loss model (see :func:`~tokencom_sdr.channel.loss_models.make_loss_model`).
    """

    def __init__(self, loss_probability: Optional[float] = None, seed: Optional[int] = 0,
                 model: Optional[MarkovLossModel] = None):
        if model is None:
            if loss_probability is None:
                raise ValueError("give a loss probability or a loss model")
            model = iid_loss(float(loss_probability))  # checks it is a probability
        self.model = model
        self.trace = model.process(seed)

    @property
    def loss_probability(self) -> float:
        """The model's long-run share of lost packets."""
        return self.model.loss_rate()

    def lost(self, count: int) -> np.ndarray:
        """Loss flags of the next ``count`` packets, ``(count,)`` bool."""
        return self.trace.lost(count)

    def transmit_all(self, packets: Sequence[bytes]) -> List[bytes]:
        """The packets that survive, in their original order."""
        lost = self.trace.lost(len(packets))
        return [p for p, gone in zip(packets, lost) if not gone]
