"""Scaled min-sum belief propagation over a batch of words, compiled with numba.

This is the flooding ("parallel") scaled min-sum decoder of the ``ldpc``
package's ``BpDecoder`` (``bp_method="minimum_sum"``, received-vector input),
with the same message schedule and the same floating-point order, so its
decisions, iteration counts and posteriors are ``BpDecoder``'s (compared word
for word in ``tests/phy/test_min_sum.py``).

Why not call ``BpDecoder``: it copies each word's 1,800 inputs and outputs
one Python element at a time and walks linked lists, about 0.5 ms a word at
6 dB, where this loop over flat edge arrays takes a few microseconds, and
one call decodes a whole chunk's words (without the GIL).

Like ``BpDecoder`` in received-vector mode, it decodes the *error pattern*
``e`` of the hard decisions ``r``: the syndrome ``s = H r`` is the target,
each bit's prior log-ratio of "not flipped" is ``log((1 - p) / p)`` with the
flip probability ``p = 1 / (1 + exp(|LLR|))``, and the answer is
``r xor e``. Each iteration:

1. check to bit: the parity of the check's syndrome bit and of the other
   edges' signs (a message ``<= 0`` counts as negative), times ``scaling``
   times the smallest magnitude among the other edges;
2. posteriors: the prior plus the incoming messages, summed in edge order;
   a posterior ``<= 0`` decides "flipped";
3. stop where the decisions reproduce the syndrome;
4. bit to check: the prefix sum of step 2 plus the suffix sum of the later
   edges' messages, i.e. the posterior less the edge's own message.
"""

import functools
import math
from typing import NamedTuple

import numpy as np

__all__ = ["MinSumDecoder", "MinSumResult", "compile_decoder"]


class MinSumResult(NamedTuple):
    """Output of :meth:`MinSumDecoder.decode` for ``batch`` words.

    Attributes
    ----------
    decisions : np.ndarray, shape ``(batch, n)``, dtype ``uint8``
        Decoded words (where the decoder gave up: the hard input corrected
        by its last decisions).
    flip_llr : np.ndarray, shape ``(batch, n)``, dtype ``float64``
        Posterior log-ratio of "this bit is *not* flipped from the hard
        input" (``BpDecoder.log_prob_ratios``).
    converged : np.ndarray, shape ``(batch,)``, dtype ``bool``
    iterations : np.ndarray, shape ``(batch,)``, dtype ``int64``
        Iterations run (the one that converged included).
    """

    decisions: np.ndarray
    flip_llr: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


class MinSumDecoder:
    """Scaled min-sum BP for one parity-check matrix.

    Parameters
    ----------
    H : np.ndarray, shape ``(m, n)``, values 0/1
    max_iterations : int
        ``>= 1``.
    scaling : float
        Check messages are scaled by it (``> 0``).
    """

    def __init__(self, H: np.ndarray, max_iterations: int, scaling: float):
        H = np.asarray(H) != 0
        if H.ndim != 2 or not H.any():
            raise ValueError("min-sum decoding needs a non-empty 2-D parity-check matrix")
        if max_iterations < 1 or not scaling > 0:
            raise ValueError("max_iterations must be >= 1 and scaling > 0")
        self.m, self.n = H.shape
        self.max_iterations = int(max_iterations)
        self.scaling = float(scaling)
        # Edges in row order (each row's by column): the check side.
        rows, cols = np.nonzero(H)
        self._check_start = np.concatenate([[0], np.cumsum(H.sum(axis=1))]).astype(np.int64)
        self._edge_bit = cols.astype(np.int64)
        self._edge_check = rows.astype(np.int64)
        # The bit side: each column's edges by row (a stable sort of row order).
        self._bit_edges = np.argsort(cols, kind="stable").astype(np.int64)
        self._bit_start = np.concatenate([[0], np.cumsum(H.sum(axis=0))]).astype(np.int64)

    def decode(self, llr: np.ndarray) -> MinSumResult:
        """Decode a batch of words from their channel LLRs.

        Parameters
        ----------
        llr : np.ndarray, shape ``(batch, n)``, float
            Positive favours 0; 0 for a bit never sent.
        """
        llr = np.ascontiguousarray(np.asarray(llr, dtype=np.float64).reshape(-1, self.n))
        if not np.isfinite(llr).all():
            raise ValueError("LLRs must be finite")
        batch = llr.shape[0]
        # (numpy's exp, as BpDecoder's callers computed it)
        flip = 1.0 / (1.0 + np.exp(np.abs(llr)))
        decisions = np.empty((batch, self.n), dtype=np.uint8)
        flip_llr = np.empty((batch, self.n), dtype=np.float64)
        converged = np.zeros(batch, dtype=np.bool_)
        iterations = np.zeros(batch, dtype=np.int64)
        _compiled_decode_words()(llr, flip, self._check_start, self._edge_bit, self._edge_check,
                                 self._bit_start, self._bit_edges, self.max_iterations, self.scaling,
                                 decisions, flip_llr, converged, iterations)
        return MinSumResult(decisions, flip_llr, converged, iterations)


@functools.lru_cache(maxsize=None)
def _compiled_decode_words():
    """:func:`_decode_words` compiled without the GIL, on first use (numba
    is imported here: it costs 0.2 s, which a command that decodes nothing
    does not pay). Cached on disk where numba finds a writable place
    (beside the module, or the user's cache folder); otherwise (a read-only
    install run with no home) compiled anew in each process, about 1.5 s."""
    import numba

    try:
        return numba.njit(cache=True, nogil=True)(_decode_words)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(_decode_words)


def _decode_words(llr, flip, check_start, edge_bit, edge_check, bit_start, bit_edges, max_iterations,
                  scaling, decisions, flip_llr, converged, iterations):  # pragma: no cover - compiled
    # (Plain Python as written, and far too slow so: always called through
    # _compiled_decode_words.)
    batch, n = llr.shape
    m = check_start.size - 1
    edges = edge_bit.size
    hard = np.empty(n, dtype=np.uint8)
    prior = np.empty(n, dtype=np.float64)
    syndrome = np.empty(m, dtype=np.uint8)
    candidate = np.empty(m, dtype=np.uint8)
    to_check = np.empty(edges, dtype=np.float64)
    to_bit = np.empty(edges, dtype=np.float64)
    largest = np.finfo(np.float64).max
    for w in range(batch):
        for j in range(n):
            hard[j] = 1 if llr[w, j] < 0 else 0
            prior[j] = math.log((1.0 - flip[w, j]) / flip[w, j])
        for i in range(m):
            s = 0
            for e in range(check_start[i], check_start[i + 1]):
                s ^= hard[edge_bit[e]]
            syndrome[i] = s
        for e in range(edges):
            to_check[e] = prior[edge_bit[e]]
        for it in range(1, max_iterations + 1):
            # (Written without data-dependent branches: at a low SNR the
            # signs are close to random, and mispredictions cost more than
            # the arithmetic.)
            for i in range(m):
                candidate[i] = 0
                negatives = np.int64(syndrome[i])
                smallest = largest
                for e in range(check_start[i], check_start[i + 1]):
                    negatives += to_check[e] <= 0
                    to_bit[e] = smallest  # the smallest before this edge
                    smallest = min(smallest, abs(to_check[e]))
                smallest = largest
                for e in range(check_start[i + 1] - 1, check_start[i] - 1, -1):
                    odd = (negatives + (to_check[e] <= 0)) & 1
                    # ... or after it, whichever is less
                    to_bit[e] = min(to_bit[e], smallest) * (scaling - 2.0 * scaling * odd)
                    smallest = min(smallest, abs(to_check[e]))
            for j in range(n):
                total = prior[j]
                for k in range(bit_start[j], bit_start[j + 1]):
                    e = bit_edges[k]
                    to_check[e] = total
                    total += to_bit[e]
                flip_llr[w, j] = total
                flipped = np.uint8(total <= 0)
                decisions[w, j] = flipped
                for k in range(bit_start[j], bit_start[j + 1]):
                    candidate[edge_check[bit_edges[k]]] ^= flipped
            done = True
            for i in range(m):
                if candidate[i] != syndrome[i]:
                    done = False
                    break
            iterations[w] = it
            if done:
                converged[w] = True
                break
            for j in range(n):
                total = 0.0
                for k in range(bit_start[j + 1] - 1, bit_start[j] - 1, -1):
                    e = bit_edges[k]
                    to_check[e] += total
                    total += to_bit[e]
        for j in range(n):
            decisions[w, j] ^= hard[j]


def compile_decoder() -> None:
    """Compile the decoder now (or load it from numba's cache: about 0.2 s,
    1.5 s the first time), so that a receiver's first burst does not wait."""
    MinSumDecoder(np.array([[1, 1]]), 1, 1.0).decode(np.array([[1.0, -1.0]]))
