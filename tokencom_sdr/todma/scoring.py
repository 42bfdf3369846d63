"""Scoring a ToDMA receiver against what the devices sent (evaluation only).

The receiver orders its sequences by cluster and cannot name the devices;
scoring pairs each device with the cluster whose centroid is nearest its
true channel (Hungarian), a genie used only to line the sequences up.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["align_clusters", "collision_positions"]


def align_clusters(centroids: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """The cluster of each device.

    Parameters
    ----------
    centroids : np.ndarray, shape ``(K,)``, complex
    gains : np.ndarray, shape ``(K,)``, complex
        True device channels.

    Returns
    -------
    np.ndarray, shape ``(K,)``, dtype ``int64``
        ``order[k]`` is the cluster index of device ``k``; index the
        receiver's ``(K, N)`` arrays with it to put them in device order.
    """
    devices, clusters = linear_sum_assignment(np.abs(gains[:, None] - centroids[None, :]))
    order = np.empty(gains.size, dtype=np.int64)
    order[devices] = clusters
    return order


def collision_positions(tokens: np.ndarray) -> np.ndarray:
    """Where a device's token was also sent by another device in the same slot.

    Parameters
    ----------
    tokens : np.ndarray, shape ``(K, N)``, integer

    Returns
    -------
    np.ndarray, shape ``(K, N)``, bool
    """
    tokens = np.asarray(tokens)
    same = tokens[:, None, :] == tokens[None, :, :]
    return same.sum(axis=1) > 1
