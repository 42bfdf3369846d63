"""The per-message hash that makes a compressed message exact or refused.

A receiver that rebuilds tokens it was never sent (skipped tokens filled by
the model, or range-decoded ids) checks them against this hash of the
sender's ids. It is the first ``bits`` bits of BLAKE2b-64 (keyed by a
personalisation string, so it is not confused with other hashes) over the
ids as little-endian uint16. With the default 16 bits, a wrong message passes
with probability 2**-16 (1 in 65,536).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["DEFAULT_HASH_BITS", "message_hash", "MessageHashError"]

#: Hash bits sent with every compressed message.
DEFAULT_HASH_BITS = 16

_PERSON = b"tokencom-msg-v1"


class MessageHashError(ValueError):
    """A rebuilt message does not match the sender's hash: it is not delivered."""


def message_hash(ids: np.ndarray, bits: int = DEFAULT_HASH_BITS) -> int:
    """Hash of a message's token ids.

    Parameters
    ----------
    ids : np.ndarray, shape ``(n,)``, integer in ``[0, 65535]``
    bits : int
        ``1..64``.

    Returns
    -------
    int
        In ``[0, 2**bits)``.
    """
    if not 1 <= bits <= 64:
        raise ValueError(f"hash bits must be 1..64, got {bits}")
    ids = np.asarray(ids).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() > 0xFFFF):
        raise ValueError("token ids must lie in 0..65535 to be hashed")
    digest = hashlib.blake2b(ids.astype("<u2").tobytes(), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "big") >> (64 - bits)
