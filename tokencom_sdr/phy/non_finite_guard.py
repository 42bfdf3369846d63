"""Non-finite samples (NaN, Inf) kept away from synchronisation and decoding.

One NaN or Inf sample makes every sum it enters NaN: the Schmidl & Cox
detector's correlations over the next 64 samples, and the FFTs of the
burst it falls in (20 Inf samples in a stream used to lose 2 to 13 of 40
bursts, and numpy warned about overflows in the burst decoder). Whatever
delivers the samples (a radio driver, a file, ZMQ), the receiver neutralises
them first, in two places that each see the stream:

* the burst decoder zeroes them in its own copy of the samples, and counts
  them (:func:`zero_non_finite`, once per chunk in numpy);
* the detector is fed by :class:`NonFiniteHold`, GNU Radio C++ blocks that
  replace each one with the last finite sample (a Python block there cost
  the receiver about a third of its time: the scheduler hands it the stream
  in small pieces, each a call through the interpreter).

A zero or a held sample costs at most the burst it falls in.
"""

from typing import Tuple

import numpy as np
from gnuradio import blocks, digital, gr

__all__ = ["zero_non_finite", "NonFiniteHold"]


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


class NonFiniteHold(gr.hier_block2):
    """``complex64`` in, the same samples out with each non-finite one (NaN or
    Inf in either part) replaced by the last finite sample before it (0 at
    the start), in GNU Radio's own C++ blocks.

    ``|x|^2 - |x|^2`` is 0 where ``x`` is finite and NaN where it is not
    (``Inf - Inf``); the binary slicer's ``>= 0`` is false for NaN, so it
    gives 1 for finite samples and 0 for the others, and two sample-and-hold
    blocks keep each rail's last finite value through the zeros. A sample so
    large that ``|x|^2`` overflows float32 (``|x|`` above about 1.8e19) is held
    too, which no synchroniser minds.
    """

    def __init__(self):
        gr.hier_block2.__init__(self, "tokencom_non_finite_hold",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.power = blocks.complex_to_mag_squared()
        self.power_difference = blocks.sub_ff()
        self.finite = digital.binary_slicer_fb()
        self.rails = blocks.complex_to_float()
        self.hold_real = blocks.sample_and_hold_ff()
        self.hold_imag = blocks.sample_and_hold_ff()
        self.join = blocks.float_to_complex()
        self.connect(self, self.power)
        self.connect(self.power, (self.power_difference, 0))
        self.connect(self.power, (self.power_difference, 1))
        self.connect(self.power_difference, self.finite)
        self.connect(self, self.rails)
        for rail, hold in ((0, self.hold_real), (1, self.hold_imag)):
            self.connect((self.rails, rail), (hold, 0))
            self.connect(self.finite, (hold, 1))
            self.connect(hold, (self.join, rail))
        self.connect(self.join, self)
