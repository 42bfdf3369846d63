"""Unequal protection: the packets whose tokens the receiver could not guess go robustly.

The sender ranks the tokens by importance (for text, the context model's
surprisal at each token: how badly the receiver would guess it if it were
lost). A packet's importance is the sum over the tokens it carries; the most
important packets are sent at a robust MCS and the rest at a faster one.

Protection is chosen per packet, not per token, on purpose: regrouping the
tokens by importance would give every packet an arbitrary position list,
and explicit positions cost 4 bytes a token in the header (a 12-bit token
costs 1.5), more air time than the faster MCS saves. Packets keep the
aggregation's compact position blocks; with interleaved aggregation and a
few tokens a packet, packet importance still varies enough to rank.

How many packets can go robust at the air time of one MCS for everything
needs the PHY's burst lengths, so that choice lives with the application
(:mod:`tokencom_sdr.app.unequal_protection`).
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

__all__ = ["packet_importance", "protection_order"]


def packet_importance(groups: Sequence[np.ndarray], importance: np.ndarray) -> np.ndarray:
    """Importance of each packet: the sum over the tokens it carries.

    Parameters
    ----------
    groups : sequence of np.ndarray of int
        Frame positions per packet (an aggregation's ``assign``).
    importance : np.ndarray, shape ``(n,)``, float
        Per token; higher means worse for the receiver to lose.

    Returns
    -------
    np.ndarray, shape ``(P,)``, float64
    """
    importance = np.asarray(importance, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(importance)):
        raise ValueError("token importance must be finite")
    covered = sum(len(g) for g in groups)
    if covered != importance.size:
        raise ValueError(f"the packets carry {covered} tokens, the importance has "
                         f"{importance.size}")
    return np.array([importance[np.asarray(g, dtype=np.int64)].sum() for g in groups])


def protection_order(groups: Sequence[np.ndarray], importance: np.ndarray) -> List[int]:
    """Packet indices, most important first (ties: the earlier packet)."""
    return [int(i) for i in np.argsort(-packet_importance(groups, importance), kind="stable")]
