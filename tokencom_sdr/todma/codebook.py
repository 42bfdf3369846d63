"""The shared modulation codebook of ToDMA: one complex codeword per token id.

Every device and the receiver hold the same matrix ``U`` (``L x Q``): the
token with id ``q`` is sent as column ``U[:, q]``. Columns are i.i.d.
complex Gaussian, normalised to unit norm, so that one codeword carries
unit energy whatever ``L`` is; the seed makes the codebook reproducible on
both ends (it stands for a codebook agreed in advance).
"""

from __future__ import annotations

import numpy as np

__all__ = ["gaussian_codebook"]


def gaussian_codebook(codeword_len: int, num_tokens: int, seed: int = 0) -> np.ndarray:
    """A random complex Gaussian codebook with unit-norm columns.

    Parameters
    ----------
    codeword_len : int
        ``L``, channel uses (complex symbols) per slot.
    num_tokens : int
        ``Q``, the token vocabulary size (4096 for the text BPE).
    seed : int
        Seed of the codebook; transmitter and receiver must agree on it.

    Returns
    -------
    np.ndarray, shape ``(L, Q)``, dtype ``complex64``
        ``U``; every column has Euclidean norm 1.
    """
    if codeword_len < 1 or num_tokens < 1:
        raise ValueError(f"need codeword_len >= 1 and num_tokens >= 1, got "
                         f"{codeword_len} and {num_tokens}")
    rng = np.random.default_rng([seed, 0x70D3A])
    codebook = (rng.standard_normal((codeword_len, num_tokens))
                + 1j * rng.standard_normal((codeword_len, num_tokens)))
    codebook /= np.linalg.norm(codebook, axis=0, keepdims=True)
    return codebook.astype(np.complex64)
