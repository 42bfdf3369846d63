"""Rebuilding each device's token sequence from the per-slot detections.

Per slot, the detected tokens are matched one-to-one to the devices by the
Hungarian algorithm (scipy) on the distance between a token's channel
estimate and a device centroid; a match farther than the gate is refused (a
spurious detection, a corrupted estimate, or a collision). A refused token
whose estimate is the sum of two still-unmatched devices' centroids is their
collision (:func:`~tokencom_sdr.todma.collisions.find_pair_collisions`).
Every device left without a token in the slot is masked for the context
model; ``collision`` records which of them were explained by a collision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .collisions import find_pair_collisions
from .detection import SlotDetections

__all__ = ["DeviceSequences", "rebuild_sequences"]


@dataclass
class DeviceSequences:
    """The receiver's token sequences, one per device cluster.

    Attributes
    ----------
    tokens : np.ndarray, shape ``(K, N)``, dtype ``int64``
        Token of cluster ``k`` in slot ``n``; 0 where masked.
    erased : np.ndarray, shape ``(K, N)``, bool
        Masked positions (collision, or no token assigned).
    collision : np.ndarray, shape ``(K, N)``, bool
        Masked because a detected token was taken as this device's collision
        with another (a subset of ``erased``).
    centroids : np.ndarray, shape ``(K,)``, complex128
        The cluster centroids the sequences are ordered by.
    """

    tokens: np.ndarray
    erased: np.ndarray
    collision: np.ndarray
    centroids: np.ndarray


def rebuild_sequences(detections: SlotDetections, centroids: np.ndarray,
                      gate: float) -> DeviceSequences:
    """Assign every slot's detected tokens to device clusters.

    Parameters
    ----------
    detections : SlotDetections
        Tokens ``(N, M)`` and channel estimates ``(N, M)`` per slot.
    centroids : np.ndarray, shape ``(K,)``, complex
        Device centroids (:func:`~tokencom_sdr.todma.clustering.cluster_channels`).
    gate : float
        Largest estimate-to-centroid distance accepted as that device.

    Returns
    -------
    DeviceSequences
    """
    num_slots = detections.tokens.shape[0]
    num_devices = centroids.size
    tokens = np.zeros((num_devices, num_slots), dtype=np.int64)
    erased = np.ones((num_devices, num_slots), dtype=bool)
    collision = np.zeros((num_devices, num_slots), dtype=bool)
    valid = detections.valid
    # (N, M, K): distance of every detected token to every centroid.
    distance = np.abs(detections.gains[..., None] - centroids)
    unassigned = np.zeros_like(valid)
    for slot in range(num_slots):
        places = np.flatnonzero(valid[slot])
        if places.size == 0:
            continue
        cost = distance[slot][places]
        # Beyond the gate every match costs the same, so a token no device
        # explains (a collision) cannot push another token off its device.
        rows, cols = linear_sum_assignment(np.minimum(cost, gate))
        accepted = cost[rows, cols] <= gate
        tokens[cols[accepted], slot] = detections.tokens[slot, places[rows[accepted]]]
        erased[cols[accepted], slot] = False
        leftover = np.setdiff1d(np.arange(places.size), rows[accepted])
        unassigned[slot, places[leftover]] = True
    # Tokens no single device explains may be two devices' collision; only
    # devices still without a token in the slot can have taken part.
    pairs = find_pair_collisions(detections.gains, unassigned, centroids, gate)
    slots, places = np.nonzero(pairs[..., 0] >= 0)
    for slot, place in zip(slots, places):
        devices = pairs[slot, place]
        if np.all(erased[devices, slot]):
            collision[devices, slot] = True
    return DeviceSequences(tokens=tokens, erased=erased, collision=collision, centroids=centroids)
