"""Rebuilding each device's token sequence from the per-slot detections.

Per slot, the detected tokens are matched one-to-one to the devices by the
Hungarian algorithm (scipy) on the distance between a token's channel
estimate and a device centroid; a match farther than the gate is refused (a
spurious detection, a corrupted estimate, or a collision). This is the
starting point of the joint detection (:mod:`.joint_detection`), which
decides every device's token and finds the collisions
(:mod:`.collisions`); :class:`DeviceSequences` holds the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

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
        Masked because the device's token is another device's too in that
        slot (a subset of ``erased``).
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
    return DeviceSequences(tokens=tokens, erased=erased, collision=collision, centroids=centroids)
