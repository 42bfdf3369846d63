"""How badly the receiver would guess each token if it were lost (the sender's view).

Unequal protection (:mod:`tokencom_sdr.link.unequal_protection`) sends the
tokens the context model restores worst in robust packets. The sender runs
the same model the receiver has: a token's importance is its surprisal,
``-log p(token | the others)``, with the others visible except for an
interleaved quarter of the message (a lost packet's worth of context
missing, as after interleaved loss).
"""

from __future__ import annotations

import numpy as np

from .text_recovery import TextRecovery

__all__ = ["text_token_surprisal"]


def text_token_surprisal(recovery: TextRecovery, ids: np.ndarray, groups: int = 4) -> np.ndarray:
    """Surprisal of every token of a text message under the context model.

    Parameters
    ----------
    recovery : TextRecovery
        The model (and memory) the receiver will fill with.
    ids : np.ndarray, shape ``(n,)``, int
        The message's token ids.
    groups : int
        Tokens are predicted in ``groups`` interleaved groups, one forward
        pass each; a token's own group is hidden while it is predicted.

    Returns
    -------
    np.ndarray, shape ``(n,)``, float64
        ``-log p`` in nats; higher means the receiver would guess it worse.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        return np.zeros(0)
    targets = np.arange(ids.size)
    probs = recovery.token_prior(ids, np.ones(ids.size, dtype=bool), targets, groups=groups)
    return -np.log(np.maximum(probs[targets, ids].astype(np.float64), 1e-12))
