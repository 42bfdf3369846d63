"""LDPC codes from alist files: systematic encoding and scaled min-sum decoding.

Encoding is a systematic generator matrix derived from the parity-check
matrix once, by GF(2) elimination. Decoding is flooding scaled min-sum belief
propagation (:mod:`.min_sum`, compiled with numba), the algorithm of the
``ldpc`` package's ``BpDecoder`` with identical results, for a batch of words
in one call. A word whose hard decisions are already a codeword skips BP
(see :meth:`LdpcCode.decode`).

Rate matching (see :class:`RateMatcher`) turns one mother code into any
shorter and/or higher-rate code: *shortening* fixes trailing information bits
to known zeros that are never sent, *puncturing* leaves some parity bits
unsent (the decoder sees them as erasures).
"""

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Tuple

import numpy as np

from .min_sum import MinSumDecoder

GNURADIO_ALIST_DIR = Path("/usr/share/gnuradio/fec/ldpc")

# Largest |LLR| handed to the decoder: known (shortened) bits get this much,
# which is certainty in float32 without overflowing exp().
_LLR_CLIP = 60.0


class CodeFileError(ValueError):
    """An alist file is missing or malformed."""


def read_alist(path) -> np.ndarray:
    """Parity-check matrix from an alist file (MacKay's sparse text format).

    Returns
    -------
    np.ndarray, shape ``(m, n)``, dtype ``uint8``
    """
    path = Path(path)
    try:
        numbers = [int(v) for v in path.read_text().split()]
    except OSError as error:
        raise CodeFileError(f"cannot read LDPC alist {path}: {error.strerror}") from None
    except ValueError:
        raise CodeFileError(f"{path} is not an alist file (non-integer entries)") from None
    try:
        n, m, _, _ = numbers[:4]
        col_degrees = numbers[4:4 + n]
        cursor = 4 + n + m
        H = np.zeros((m, n), dtype=np.uint8)
        for col, degree in enumerate(col_degrees):
            rows = numbers[cursor:cursor + degree]
            # alists pad rows to the max degree with zeros (1-based indices)
            cursor += max(degree, 0)
            for row in rows:
                H[row - 1, col] = 1
    except (ValueError, IndexError):
        raise CodeFileError(f"{path} is truncated or not an alist file") from None
    if H.sum() == 0:
        raise CodeFileError(f"{path} describes an empty parity-check matrix")
    return H


def _gf2_systematic(H: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Information positions and a systematic generator matrix of ker(H).

    Reduces H to row-echelon form over GF(2); the non-pivot columns are free
    (information) positions, and each pivot (parity) bit is a fixed XOR of
    information bits.

    Returns
    -------
    info_positions : np.ndarray, shape ``(k,)``, dtype ``int64``
    G : np.ndarray, shape ``(k, n)``, dtype ``uint8``
        Rows span the code; ``G[:, info_positions]`` is the identity.
    """
    A = H.copy().astype(np.uint8)
    m, n = A.shape
    pivots = []
    row = 0
    for col in range(n):
        if row >= m:
            break
        candidates = np.flatnonzero(A[row:, col]) + row
        if candidates.size == 0:
            continue
        pivot = candidates[0]
        if pivot != row:
            A[[row, pivot]] = A[[pivot, row]]
        others = np.flatnonzero(A[:, col])
        others = others[others != row]
        A[others] ^= A[row]
        pivots.append(col)
        row += 1
    pivots = np.array(pivots, dtype=np.int64)
    info = np.setdiff1d(np.arange(n), pivots)
    k = info.size
    G = np.zeros((k, n), dtype=np.uint8)
    G[np.arange(k), info] = 1
    # Each reduced row r says: parity bit pivots[r] = XOR of A[r, info].
    G[:, pivots] = A[:len(pivots)][:, info].T
    return info, G


@dataclass(frozen=True)
class DecodeResult:
    """Output of :meth:`LdpcCode.decode` for a batch of codewords.

    Attributes
    ----------
    info_bits : np.ndarray, shape ``(batch, k)``, dtype ``uint8``
    info_llr : np.ndarray, shape ``(batch, k)``, dtype ``float32``
        Posterior LLRs (positive favours 0) of the information bits.
    converged : np.ndarray, shape ``(batch,)``, dtype ``bool``
        True where the decoder found a valid codeword (zero syndrome).
    iterations : np.ndarray, shape ``(batch,)``, dtype ``int64``
    codeword_llr : np.ndarray, shape ``(batch, n)``, dtype ``float32``
        Posterior LLRs of every code bit (the input where BP was not run).
        Where BP did not converge they are still far better decisions than
        the channel's, which is what a receiver re-estimating its channel
        from decoded bits needs.
    """

    info_bits: np.ndarray
    info_llr: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    codeword_llr: np.ndarray


class LdpcCode:
    """A binary LDPC code: systematic encoder and BP decoder.

    Parameters
    ----------
    H : np.ndarray, shape ``(m, n)``, values 0/1
        Parity-check matrix (need not have full rank).
    max_iterations : int
        BP iterations before giving up on a codeword.
    min_sum_scaling : float
        Scaling of min-sum check messages (0.75 recovers most of the gap to
        sum-product at a fraction of the cost).
    name : str
        For messages.
    """

    def __init__(self, H: np.ndarray, max_iterations: int = 50, min_sum_scaling: float = 0.75,
                 name: str = "ldpc"):
        self.name = name
        self.H = np.asarray(H, dtype=np.uint8)
        self.n = self.H.shape[1]
        self.info_positions, self.G = _gf2_systematic(self.H)
        self.k = self.info_positions.size
        self.parity_positions = np.setdiff1d(np.arange(self.n), self.info_positions)
        # The parity columns of G's rows packed into 64-bit words: the parity
        # bits are the XOR of the rows of the information bits that are 1,
        # far cheaper than a matrix product over the reals (0.02 ms instead
        # of 0.3 ms for n = 1800). (The information columns are the identity.)
        words = -(-self.parity_positions.size // 64)
        padded = np.zeros((self.k, 64 * words), dtype=np.uint8)
        padded[:, :self.parity_positions.size] = self.G[:, self.parity_positions]
        self._parity_words = np.packbits(padded, axis=1).view(np.uint64)
        self._decoder = MinSumDecoder(self.H, max_iterations, min_sum_scaling)

    @property
    def rate(self) -> float:
        return self.k / self.n

    @classmethod
    def from_alist(cls, path, **kwargs) -> "LdpcCode":
        return cls(read_alist(path), name=Path(path).stem, **kwargs)

    def encode(self, info_bits: np.ndarray) -> np.ndarray:
        """Codewords of information words.

        Parameters
        ----------
        info_bits : np.ndarray, shape ``(batch, k)``, values 0/1

        Returns
        -------
        np.ndarray, shape ``(batch, n)``, dtype ``uint8``
        """
        info_bits = np.asarray(info_bits).reshape(-1, self.k) != 0
        codewords = np.empty((info_bits.shape[0], self.n), dtype=np.uint8)
        codewords[:, self.info_positions] = info_bits
        codewords[:, self.parity_positions] = self._parity_bits(info_bits)
        return codewords

    def _parity_bits(self, info_bits: np.ndarray) -> np.ndarray:
        """Parity bits (at ``parity_positions``) of boolean information words, shape ``(batch, k)``."""
        if self._parity_words.size <= 1024:
            # A short code (the PHY header's): every word's rows at once,
            # cheaper than a call per word.
            words = np.bitwise_xor.reduce(np.where(info_bits[:, :, None], self._parity_words, np.uint64(0)),
                                          axis=1)
            return np.unpackbits(words.view(np.uint8), axis=1)[:, :self.parity_positions.size]
        words = np.empty((info_bits.shape[0], self._parity_words.shape[1]), dtype=np.uint64)
        for i, row in enumerate(info_bits):
            # (take with indices: a third faster than a boolean mask here)
            words[i] = np.bitwise_xor.reduce(self._parity_words.take(np.flatnonzero(row), axis=0), axis=0)
        return np.unpackbits(words.view(np.uint8), axis=1)[:, :self.parity_positions.size]

    def decode(self, llr: np.ndarray) -> DecodeResult:
        """Belief-propagation decoding of a batch of codewords.

        A word whose hard decisions already form a codeword is not handed to
        BP: the information bits' hard decisions are re-encoded, and if the
        codeword agrees with every decided bit (LLR not 0; erased bits may
        take any value), that codeword is the answer (the standard
        zero-syndrome check, which BP itself would make first). Its
        posteriors are the input LLRs of the information bits, where BP
        would start from; ``iterations`` is 0. Only the other words go
        through BP, all in one call. At the SNRs a link runs at, most words
        pass the check.

        Parameters
        ----------
        llr : np.ndarray, shape ``(batch, n)``, float
            Channel LLRs (positive favours 0), any prior included; 0 (or
            NaN) for bits never sent.
        """
        llr = np.asarray(llr, dtype=np.float64).reshape(-1, self.n)
        # A NaN carries no information (an erasure); infinities are clipped.
        llr = np.clip(np.where(np.isnan(llr), 0.0, llr), -_LLR_CLIP, _LLR_CLIP)
        batch = llr.shape[0]
        hard = (llr < 0).astype(np.uint8)
        info_bits = hard[:, self.info_positions]
        codeword_llr = llr.astype(np.float32)
        info_llr = codeword_llr[:, self.info_positions]
        iterations = np.zeros(batch, dtype=np.int64)
        # A systematic code: the information bits fix the parity bits.
        parity = self.parity_positions
        mismatch = (self._parity_bits(info_bits != 0) != hard[:, parity]) & (llr[:, parity] != 0)
        converged = ~mismatch.any(axis=1)
        failing = np.flatnonzero(~converged)
        if failing.size:
            result = self._decoder.decode(llr[failing])
            posterior = result.flip_llr.astype(np.float32)
            # The posteriors are of "bit differs from the hard input", so
            # the sign flips where the input was a 1.
            codeword_llr[failing] = np.where(hard[failing] == 1, -posterior, posterior)
            info_bits[failing] = result.decisions[:, self.info_positions]
            info_llr[failing] = codeword_llr[failing][:, self.info_positions]
            converged[failing] = result.converged
            iterations[failing] = result.iterations
        return DecodeResult(info_bits, info_llr, converged, iterations, codeword_llr)


@lru_cache(maxsize=None)
def gnuradio_code(alist_name: str, max_iterations: int = 50) -> LdpcCode:
    """A code from GNU Radio's gr-fec alist collection (cached: building the
    generator takes a fraction of a second)."""
    directory = Path(os.environ.get("TOKENCOM_ALIST_DIR", GNURADIO_ALIST_DIR))
    return LdpcCode.from_alist(directory / alist_name, max_iterations=max_iterations)
