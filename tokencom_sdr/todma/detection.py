"""Compressed-sensing detection of the active tokens of every slot (OMP).

A slot's signal is ``y = U x + w`` with ``x`` (length ``Q``) non-zero only at
the tokens sent in that slot; entry ``x_q`` is the *token-associated channel*:
the gain of the device that sent ``q``, or the sum of the gains of all devices
that sent it (a collision). Orthogonal matching pursuit picks the codeword
most correlated with the residual, re-fits all picked codewords by least
squares, and repeats. All slots run together, one matrix product per
iteration.

Stopping (sparsity) rule
------------------------
The noise variance ``noise_var`` is known. After ``m`` atoms the residual of
a correctly fitted slot is noise in ``L - m`` dimensions, with energy of mean
``noise_var (L - m)`` and standard deviation ``noise_var sqrt(L - m)``. A slot
takes another atom only while its residual energy exceeds
``noise_var ((L - m) + margin * sqrt(L - m))`` (``margin = 3`` by default),
and never more than ``max_tokens`` atoms (the number of devices K: no slot
holds more distinct tokens than devices). A slot whose received energy
already passes the test holds no token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SlotDetections", "detect_tokens", "residual_threshold"]


@dataclass
class SlotDetections:
    """Tokens detected in each slot, with their channel estimates.

    Attributes
    ----------
    tokens : np.ndarray, shape ``(N, M)``, dtype ``int64``
        Detected token ids per slot, ``-1`` in unused places (``M`` = the
        atom cap).
    gains : np.ndarray, shape ``(N, M)``, dtype ``complex128``
        Least-squares estimate of each detected token's channel; 0 where
        ``tokens`` is ``-1``.
    """

    tokens: np.ndarray
    gains: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """``(N, M)`` bool: places that hold a detected token."""
        return self.tokens >= 0

    @property
    def counts(self) -> np.ndarray:
        """``(N,)`` int: tokens detected per slot."""
        return self.valid.sum(axis=1)


def residual_threshold(noise_var: float, dof: int, margin: float) -> float:
    """Residual energy above which a slot still holds an undetected token."""
    dof = max(dof, 1)
    return noise_var * (dof + margin * np.sqrt(dof))


def detect_tokens(received: np.ndarray, codebook: np.ndarray, noise_var: float,
                  max_tokens: int, margin: float = 3.0) -> SlotDetections:
    """Orthogonal matching pursuit, vectorised over slots.

    Parameters
    ----------
    received : np.ndarray, shape ``(N, L)``, complex
        One row per slot.
    codebook : np.ndarray, shape ``(L, Q)``, complex
        ``U`` with unit-norm columns.
    noise_var : float
        Noise variance per channel use.
    max_tokens : int
        Atom cap per slot (the number of devices).
    margin : float
        Standard deviations of residual noise energy tolerated before the
        slot stops (module docstring).

    Returns
    -------
    SlotDetections
    """
    received = np.asarray(received, dtype=np.complex128)
    num_slots, codeword_len = received.shape
    if codebook.shape[0] != codeword_len:
        raise ValueError(f"slots of length {codeword_len} do not match a codebook of "
                         f"{codebook.shape[0]}-symbol codewords")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    max_tokens = min(max_tokens, codeword_len)
    # The correlation, the costly step, runs in single precision; the
    # least-squares re-fit in double.
    conj_codebook = np.conj(codebook).astype(np.complex64)
    support = np.full((num_slots, max_tokens), -1, dtype=np.int64)
    gains = np.zeros((num_slots, max_tokens), dtype=np.complex128)
    residual = received.copy()
    energy = np.sum(np.abs(residual) ** 2, axis=1)
    active = energy > residual_threshold(noise_var, codeword_len, margin)
    for atom in range(max_tokens):
        slots = np.flatnonzero(active)
        if slots.size == 0:
            break
        correlation = np.abs(residual[slots].astype(np.complex64) @ conj_codebook)
        if atom:
            # An atom already in the support is never picked again.
            np.put_along_axis(correlation, support[slots, :atom], -1.0, axis=1)
        support[slots, atom] = np.argmax(correlation, axis=1)
        # (S, L, atom+1): the picked codewords of each active slot.
        atoms = np.transpose(codebook[:, support[slots, :atom + 1]], (1, 0, 2)).astype(np.complex128)
        atoms_h = np.conj(np.transpose(atoms, (0, 2, 1)))
        gram = atoms_h @ atoms
        projection = atoms_h @ received[slots, :, None]
        fitted = np.linalg.solve(gram, projection)
        gains[slots, :atom + 1] = fitted[..., 0]
        residual[slots] = received[slots] - (atoms @ fitted)[..., 0]
        energy = np.sum(np.abs(residual[slots]) ** 2, axis=1)
        dof = codeword_len - (atom + 1)
        active[slots] = energy > residual_threshold(noise_var, dof, margin)
    return SlotDetections(tokens=support, gains=np.where(support >= 0, gains, 0))
