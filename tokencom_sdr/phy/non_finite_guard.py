"""Non-finite samples (NaN, Inf) set to zero before they reach synchronisation.

The Schmidl & Cox detector keeps running sums over the stream: one Inf
sample turns them into Inf - Inf = NaN, and the detector stays blind until
the sums are rebuilt (20 Inf samples in a stream used to lose 13 of 40
bursts, and numpy warned about overflows in the burst decoder). A zero
costs at most the burst it falls in. Whatever delivers the samples (a radio
driver, a file, ZMQ), the receiver zeroes and counts them first.
"""

from typing import Tuple

import numpy as np
from gnuradio import gr

__all__ = ["zero_non_finite", "NonFiniteGuard"]


def zero_non_finite(samples: np.ndarray) -> Tuple[np.ndarray, int]:
    """``samples`` with every non-finite sample (either part NaN or Inf) set to 0.

    Parameters
    ----------
    samples : np.ndarray, shape ``(n,)``, dtype ``complex64``

    Returns
    -------
    (np.ndarray, int)
        The samples (``samples`` itself when all are finite, else a copy)
        and how many were zeroed.
    """
    # Fast path: a sum is finite only if every term is (an Inf cannot be
    # cancelled; Inf - Inf is NaN). A finite sum that overflowed goes the
    # slow way.
    if np.isfinite(samples.view(np.float32).sum()):
        return samples, 0
    finite = np.isfinite(samples)
    if finite.all():
        return samples, 0
    return np.where(finite, samples, np.complex64(0)), int(finite.size - np.count_nonzero(finite))


class NonFiniteGuard(gr.sync_block):
    """``complex64`` in, the same samples out with non-finite ones set to zero.

    Works per ``work()`` call in numpy.

    Parameters
    ----------
    output_items : int
        Minimum output buffer, in samples (the receiver's decoder takes large
        chunks from it).

    Attributes
    ----------
    samples_zeroed : int
        Non-finite samples set to zero so far.
    """

    def __init__(self, output_items: int = 0):
        gr.sync_block.__init__(self, "tokencom_non_finite_guard", in_sig=[np.complex64],
                               out_sig=[np.complex64])
        if output_items:
            self.set_min_output_buffer(0, int(output_items))
        self.samples_zeroed = 0

    def work(self, input_items, output_items):
        samples, zeroed = zero_non_finite(input_items[0])
        output_items[0][:] = samples
        self.samples_zeroed += zeroed
        return len(samples)
