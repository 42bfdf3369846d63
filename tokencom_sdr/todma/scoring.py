"""Scoring a ToDMA receiver against what the devices sent (evaluation only).

The receiver orders its sequences by cluster and cannot name the devices,
and its number of sequences is its own estimate of K. Scoring pairs each
device with the receiver sequence that agrees with it in the most slots
(the best permutation, Hungarian on the agreement counts). This uses the
true tokens, at scoring time only: the receiver never sees them, and the
pairing hides no error of its own, because a sequence that agrees with no
device in more slots than another does is scored against the device it
serves best and every disagreement counts. A device left without a sequence
(K under-estimated) has all its tokens wrong; a surplus sequence is dropped.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .collisions import collision_positions

__all__ = ["align_sequences", "aligned", "collision_positions"]


def align_sequences(received: np.ndarray, usable: np.ndarray, sent: np.ndarray) -> np.ndarray:
    """The receiver sequence of each device.

    Parameters
    ----------
    received : np.ndarray, shape ``(J, N)``, integer
        The receiver's sequences (J = its estimate of K).
    usable : np.ndarray, shape ``(J, N)``, bool
        Positions that hold a decided token (not masked).
    sent : np.ndarray, shape ``(K, N)``, integer
        What the devices sent.

    Returns
    -------
    np.ndarray, shape ``(K,)``, dtype ``int64``
        ``order[k]`` is the index of device ``k``'s sequence, ``-1`` when
        there is none (:func:`aligned` lines arrays up with it).
    """
    received, sent = np.asarray(received), np.asarray(sent)
    if received.shape[1:] != sent.shape[1:] or usable.shape != received.shape:
        raise ValueError(f"sequences {received.shape} and mask {usable.shape} do not match "
                         f"what was sent, {sent.shape}")
    agreement = ((sent[:, None, :] == received[None, :, :]) & usable[None]).sum(axis=2)
    devices, sequences = linear_sum_assignment(-agreement)
    order = np.full(sent.shape[0], -1, dtype=np.int64)
    order[devices] = sequences
    return order


def aligned(array: np.ndarray, order: np.ndarray, missing) -> np.ndarray:
    """Rows of ``array`` (``(J, N)``) in device order (``(K, N)``); a device
    without a sequence gets ``missing`` throughout."""
    out = np.full((order.size,) + array.shape[1:], missing, dtype=array.dtype)
    have = order >= 0
    out[have] = array[order[have]]
    return out
