"""Context recovery of the masked ToDMA tokens with the text context model.

Each device's rebuilt sequence becomes a text :class:`TokenFrame` whose
``erased`` mask is the ToDMA mask (collisions and devices left without a
token); the masked-token model fills them (mode ``fill``: ToDMA gives no bit
reliabilities). Sequences with nothing masked are left as they are.
"""

from __future__ import annotations

import numpy as np

from ..tokens.frame import Modality, TokenFrame
from .sequences import DeviceSequences

__all__ = ["fill_text_sequences"]


def fill_text_sequences(sequences: DeviceSequences, text_recovery, bits_per_token: int,
                        tokenizer_wire_id: int = 0) -> np.ndarray:
    """Fill every masked token from its device's context.

    Parameters
    ----------
    sequences : DeviceSequences
        Tokens ``(K, N)`` int64 and mask ``(K, N)`` bool.
    text_recovery : tokencom_sdr.context.text_recovery.TextRecovery
        The masked-token text model.
    bits_per_token : int
        Width of a token id (12 for the 4096-token BPE).
    tokenizer_wire_id : int
        The tokenizer's wire id, carried by the frames.

    Returns
    -------
    np.ndarray, shape ``(K, N)``, dtype ``int64``
        Tokens with every masked one filled.
    """
    filled = sequences.tokens.copy()
    for device in np.flatnonzero(sequences.erased.any(axis=1)):
        frame = TokenFrame(ids=sequences.tokens[device], modality=Modality.TEXT,
                           shape=(sequences.tokens.shape[1],), bits_per_token=bits_per_token,
                           erased=sequences.erased[device], tokenizer=tokenizer_wire_id)
        filled[device] = text_recovery.recover(frame, mode="fill").frame.ids
    return filled
