"""Collision detection: a token sent by two devices in the same slot.

OMP then finds that token once, with the sum of the two devices' gains as its
channel estimate. A detected token is declared a collision of devices
``(a, b)`` when no single device took it (:mod:`.sequences` matches tokens
to devices first) and its estimate lies closer to ``c_a + c_b`` than to any
single centroid, within the gate of that sum, and both devices are still
without a token in the slot. Both devices' tokens in the slot
are then masked (erased) for the context model to fill: which of the
receiver's sequences the token belongs to is known, but the decision is left
to the context model, as in ToDMA. Three or more devices sending the same
token, or a device whose token was missed, surface as devices left without a
token (:mod:`.sequences`), which are masked too.
"""

from __future__ import annotations

import numpy as np

__all__ = ["find_pair_collisions"]


def find_pair_collisions(gains: np.ndarray, valid: np.ndarray, centroids: np.ndarray,
                         gate: float) -> np.ndarray:
    """Which detected tokens are two devices' collision.

    Parameters
    ----------
    gains : np.ndarray, shape ``(N, M)``, complex
        Channel estimates of the detected tokens
        (:class:`~tokencom_sdr.todma.detection.SlotDetections`).
    valid : np.ndarray, shape ``(N, M)``, bool
        Places that hold a candidate token (detected, taken by no device).
    centroids : np.ndarray, shape ``(K,)``, complex
        Device centroids.
    gate : float
        Largest distance from ``c_a + c_b`` still taken as that pair.

    Returns
    -------
    np.ndarray, shape ``(N, M, 2)``, dtype ``int64``
        The two colliding devices (centroid indices, ``a < b``), or ``-1``
        where the token is no collision.
    """
    num_devices = centroids.size
    pairs = np.array([(a, b) for a in range(num_devices) for b in range(a + 1, num_devices)],
                     dtype=np.int64).reshape(-1, 2)
    result = np.full(gains.shape + (2,), -1, dtype=np.int64)
    if pairs.size == 0:
        return result
    single = np.min(np.abs(gains[..., None] - centroids), axis=-1)
    pair_sums = centroids[pairs[:, 0]] + centroids[pairs[:, 1]]
    pair_distance = np.abs(gains[..., None] - pair_sums)
    best_pair = np.argmin(pair_distance, axis=-1)
    best_distance = np.take_along_axis(pair_distance, best_pair[..., None], axis=-1)[..., 0]
    collided = valid & (best_distance < single) & (best_distance <= gate)
    result[collided] = pairs[best_pair[collided]]
    return result
