"""Collisions: one token sent by several devices in the same slot.

The air adds their codewords into one atom whose token-associated channel
is the sum of their channels. After joint detection with the device
channels (:mod:`.joint_detection`) each of them has picked that token, so a
collision is a token that two or more of the receiver's sequences share in
a slot, whatever the number of devices in it. Those positions are masked
for the context model (ToDMA's design: the detector found the token but
leaves the decision to the context); the same function marks the true
collisions of what the devices sent, for scoring.
"""

from __future__ import annotations

import numpy as np

__all__ = ["collision_positions"]


def collision_positions(tokens: np.ndarray) -> np.ndarray:
    """Where a device's token is also another device's token in the same slot.

    Parameters
    ----------
    tokens : np.ndarray, shape ``(K, N)``, integer
        Token of device ``k`` in slot ``n``; negative entries (none) never collide.

    Returns
    -------
    np.ndarray, shape ``(K, N)``, bool
    """
    tokens = np.asarray(tokens)
    same = (tokens[:, None, :] == tokens[None, :, :]) & (tokens[None, :, :] >= 0)
    return same.sum(axis=1) > 1
