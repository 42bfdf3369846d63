"""Context recovery of the masked ToDMA tokens with the text context model.

Two fills, both with the committed masked-token text model:

``candidates`` (the default)
    A masked token of device ``k`` in slot ``n`` is, unless OMP missed it,
    one of the tokens detected in slot ``n`` (a collided token is detected
    once, with the sum of the two channels). The model's predictive
    distribution of the position given the device's other tokens
    (:meth:`TextRecovery.token_prior`) is restricted to those candidates and
    its best one is taken; a slot with no detection falls back to the whole
    vocabulary. The context chooses; detection narrows the choice.
``free``
    The masked positions become erasures of a text :class:`TokenFrame` and
    :meth:`TextRecovery.recover` fills them over the whole vocabulary (mode
    ``fill``; ToDMA gives no bit reliabilities).

Sequences with nothing masked are left as they are.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..tokens.frame import Modality, TokenFrame
from .sequences import DeviceSequences

__all__ = ["fill_text_sequences", "FILL_MODES"]

FILL_MODES = ("candidates", "free")

#: Targets predicted per batched forward pass group (each sees the others' context).
_PRIOR_GROUPS = 8


def fill_text_sequences(sequences: DeviceSequences, text_recovery, bits_per_token: int,
                        tokenizer_wire_id: int = 0,
                        candidates: Optional[np.ndarray] = None) -> np.ndarray:
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
        The tokenizer's wire id, carried by the frames (``free`` fill).
    candidates : np.ndarray, shape ``(N, M)``, dtype ``int64``, optional
        Tokens detected in each slot, ``-1`` in unused places
        (:attr:`SlotDetections.tokens`): the ``candidates`` fill. None: the
        ``free`` fill.

    Returns
    -------
    np.ndarray, shape ``(K, N)``, dtype ``int64``
        Tokens with every masked one filled.
    """
    filled = sequences.tokens.copy()
    num_slots = sequences.tokens.shape[1]
    for device in np.flatnonzero(sequences.erased.any(axis=1)):
        erased = sequences.erased[device]
        if candidates is None:
            frame = TokenFrame(ids=sequences.tokens[device], modality=Modality.TEXT,
                               shape=(num_slots,), bits_per_token=bits_per_token,
                               erased=erased, tokenizer=tokenizer_wire_id)
            filled[device] = text_recovery.recover(frame, mode="fill").frame.ids
            continue
        targets = np.flatnonzero(erased)
        prior = text_recovery.token_prior(sequences.tokens[device], ~erased, targets,
                                          groups=min(targets.size, _PRIOR_GROUPS))
        # (m, M): the candidates of each target's slot and their prior mass.
        options = candidates[targets]
        usable = (options >= 0) & (options < prior.shape[1])
        mass = np.where(usable, np.take_along_axis(prior, np.clip(options, 0, None)
                                                  .clip(max=prior.shape[1] - 1), axis=1), -1.0)
        choice = np.take_along_axis(options, np.argmax(mass, axis=1)[:, None], axis=1)[:, 0]
        unrestricted = np.argmax(prior, axis=1)
        filled[device, targets] = np.where(usable.any(axis=1), choice, unrestricted)
    return filled
