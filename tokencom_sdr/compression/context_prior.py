"""The receiver's text context model as a deterministic predictor of one token.

Skipping and entropy coding both need the transmitter to compute *exactly*
the distribution the receiver will compute, float for float: a skipped token
is filled with the receiver's argmax, and a range decoder quantises the
receiver's probabilities. So every prediction here is one forward pass of a
``(1, n)`` input (never a batch, whose GEMM blocking could round
differently), in eval mode under ``torch.inference_mode``, with a fixed
number of torch threads (the reduction order of a matrix product may depend
on it). Two machines with different CPUs or torch builds may still round
differently; the message hash (:mod:`.message_hash`) catches that.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import numpy as np
import torch

from ..context.text_recovery import TextRecovery

__all__ = ["ContextPrior", "fixed_torch_threads", "PRIOR_FLOOR"]

#: Share of probability spread uniformly over the vocabulary, so that no
#: token has probability 0 (a range coder cannot code one). It costs at most
#: ``-log2(1 - 1e-4)`` = 0.00014 bits a token and caps any token at
#: ``log2(4096 / 1e-4)`` = 25.3 bits.
PRIOR_FLOOR = 1e-4


@contextlib.contextmanager
def fixed_torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` intra-op torch threads, then restore the count."""
    before = torch.get_num_threads()
    if before != threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if before != threads:
            torch.set_num_threads(before)


class ContextPrior:
    """Deterministic single-position predictions of the receiver's text model.

    Parameters
    ----------
    recovery : TextRecovery, optional
        The receiver's model and corpus memory; default the committed ones.
    threads : int
        Torch threads used for every prediction (sender and receiver must
        agree; 1 is reproducible and fast enough for messages of ~100 tokens).
    """

    def __init__(self, recovery: Optional[TextRecovery] = None, threads: int = 1):
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.recovery = recovery if recovery is not None else TextRecovery()
        self.recovery.model.eval()
        self.threads = threads
        self.passes = 0

    @property
    def vocab_size(self) -> int:
        return self.recovery.vocab_size

    def deterministic(self):
        """Context manager for a run of predictions: fixed threads."""
        return fixed_torch_threads(self.threads)

    def distribution(self, ids: np.ndarray, visible: np.ndarray, position: int) -> np.ndarray:
        """The model's distribution of one token given the visible others.

        Call inside :meth:`deterministic`.

        Parameters
        ----------
        ids : np.ndarray, shape ``(n,)``, integer
            Ids; read only where ``visible``.
        visible : np.ndarray, shape ``(n,)``, bool
            Positions the model sees (``position`` itself is always masked).
        position : int

        Returns
        -------
        np.ndarray, shape ``(vocab_size,)``, dtype ``float64``
            Sums to 1; every entry at least ``PRIOR_FLOOR / vocab_size``.
        """
        self.passes += 1
        probs = self.recovery.token_prior(np.asarray(ids, dtype=np.int64),
                                          np.asarray(visible, dtype=bool),
                                          np.array([position], dtype=np.int64), groups=1)[0]
        probs = probs.astype(np.float64)
        probs /= probs.sum()
        return (1.0 - PRIOR_FLOOR) * probs + PRIOR_FLOOR / probs.size
