"""Schmidl & Cox burst detection: GNU Radio's C++ blocks with running sums,
and a plateau stage whose state outlives each work() call.

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

The plateau stage is ours (:class:`PlateauDetector`), not gr-blocks'
``plateau_detector_fb`` that ``ofdm_sync_sc_cfb`` uses: that one forgets,
at the end of each work() call, both the plateau it is in and the skip that
follows a mark (``i = min(i + max_len, noutput_items - 1)``). A plateau
that straddles a call boundary was then marked once in each piece, away
from its middle: at 25 dB the plateau is about 50 samples long, longer than
the ``2 cp_len`` = 32 samples the C++ block looks ahead, so how the
scheduler happened to cut the stream decided whether a burst got one mark
or two (over 1200 bursts at 25 dB, 1200 to 1203 marks from run to run). Ours
marks each plateau once, where one pass over the whole stream would. It is
a Python block (numpy per work() call, Python per run): it costs about
0.1 ms per call and shares the interpreter with the burst decoder, in all
5 to 10 % more time for our chain at 30 dB than with gr-blocks' block
(``bench/phy_throughput.py``, alternating with it on the shared 2-core
host: 3.7-4.3 MS/s staged against 4.1-4.8). PER is the same (AWGN, ETU-70
and ETU-300, 24 points of 300 packets: the same packets detected and
delivered).
"""

import numpy as np
from gnuradio import blocks, gr

__all__ = ["SchmidlCoxDetector", "PlateauMarker", "PlateauDetector"]

# Samples per work() call of the moving averages (GNU Radio's default): the
# running sums restart each call, which bounds their rounding drift.
_MAX_ITER = 4096
# Input buffer of the plateau stage, in samples. Each work() call of a Python
# block costs about 0.1 ms of scheduling and wrapping whatever it takes; with
# GNU Radio's default buffer (8192 floats) it took 3.6 M samples in about 230
# calls, with this one in about 90 (and the detector 30 % less time).
_PLATEAU_INPUT_ITEMS = 1 << 16


class PlateauMarker:
    """The plateau stage over a stream offered in pieces: gr-blocks'
    ``plateau_detector_fb`` over the unbroken stream, wherever the pieces
    begin and end.

    A run of at least 2 samples at or above ``threshold`` gets a 1 in its
    middle (``start + length // 2``), and the ``max_len`` samples after the
    run are skipped (a run that begins inside the skip begins where the skip
    ends); every other output is 0. The run in progress and the skip carry
    over from one piece to the next (gr-blocks' block drops both at the end
    of each work() call).

    A run of ``longest`` samples or more is no preamble's (a tone, a DC
    offset): it is marked once, ``longest // 2`` after its start, and the
    skip starts where it ends, so it cannot flood the receiver with marks.

    Each piece is compared and cut into runs in numpy; only the runs (a few
    per burst) are visited in Python.

    Parameters
    ----------
    max_len : int
        Samples skipped after each marked run.
    threshold : float
        Runs are of samples ``>= threshold`` (NaN never is).
    longest : int
        Length from which a run is marked without waiting for its end.

    Attributes
    ----------
    lookahead : int
        Input samples that always let :meth:`mark` output at least one:
        ``(longest - 1) // 2 + 2``.
    """

    def __init__(self, max_len: int, threshold: float, longest: int):
        if longest < 2:
            raise ValueError(f"longest must be at least 2, got {longest}")
        self.max_len, self.threshold, self.longest = int(max_len), float(threshold), int(longest)
        self.lookahead = (self.longest - 1) // 2 + 2
        self._position = 0         # absolute index of the next sample to output
        self._skip_until = 0       # first absolute index a run may start at
        self._run_start = None     # start of a run whose mark is not output yet
        self._suppressing = False  # a run of `longest` or more goes on

    def mark(self, metric: np.ndarray, out: np.ndarray) -> int:
        """Output the marks of the next samples.

        Parameters
        ----------
        metric : np.ndarray, shape ``(n,)``, dtype ``float32``
            The stream from the first sample not output yet on, as far as it
            is known (what a later call is offered starts where this call's
            output stops).
        out : np.ndarray, shape ``(m,)``, dtype ``uint8``
            Room for the output, ``m <= n``.

        Returns
        -------
        int
            Samples output (written to ``out[:count]``): at least 1 when
            ``m >= 1`` and ``n >= lookahead``. A run whose mark is not known
            yet (it may go on past ``metric``) or falls beyond ``out`` holds
            the output back; it is resumed from the next call's first sample.
        """
        above = metric >= self.threshold
        out[:] = 0
        first = self._position
        seen = first + above.size                   # absolute end of what is known
        limit = first + min(above.size, out.size)   # absolute end of what may be output
        produced, skip = limit, self._skip_until
        open_start, suppressing, self._run_start = self._run_start, self._suppressing, None
        if suppressing and above.size and not above[0]:  # the long run ended there
            suppressing, skip = False, first + self.max_len + 1
        edges = (np.flatnonzero(above[1:] != above[:-1]) + (first + 1)).tolist()  # starts, stops
        if above.size and above[0]:
            edges.insert(0, first)
        if above.size and above[-1]:
            edges.append(seen)
        for start, stop in zip(edges[0::2], edges[1::2]):
            if start == first and suppressing:
                if stop == seen:
                    break
                suppressing, skip = False, stop + self.max_len + 1
                continue
            if start == first and open_start is not None:
                start = open_start  # (the samples held back were all above)
            elif start < skip:
                start = skip
                if start >= stop:
                    continue
            if start >= limit:
                break
            length = stop - start
            if length >= self.longest:
                at = start + self.longest // 2
            elif stop == seen:  # may go on: output up to its earliest possible mark
                self._run_start, produced = start, min(max(start + length // 2, first), limit)
                break
            elif length > 1:
                at = start + length // 2
            else:
                continue
            if at >= limit:  # next call
                self._run_start = start
                break
            out[at - first] = 1
            if stop == seen and length >= self.longest:
                suppressing = True
                break
            skip = stop + self.max_len + 1
        self._position, self._skip_until, self._suppressing = produced, skip, suppressing
        return produced - first


class PlateauDetector(gr.basic_block):
    """``float32`` in, ``uint8`` out: :class:`PlateauMarker` as a GNU Radio
    block, the plateau stage of :class:`SchmidlCoxDetector`.

    Like gr-blocks' block, it asks for a few samples beyond what it outputs
    (``marker.lookahead``, instead of ``2 max_len``), so it always makes
    progress when called, and at the end of a finite stream it leaves out
    the last samples that it could not resolve (fewer than
    ``marker.lookahead``; gr-blocks' leaves out the last ``2 max_len`` when
    a run begins in them).

    Parameters
    ----------
    max_len, threshold, longest
        As :class:`PlateauMarker`'s.
    """

    def __init__(self, max_len: int, threshold: float, longest: int):
        gr.basic_block.__init__(self, name="tokencom_plateau_detector",
                                in_sig=[np.float32], out_sig=[np.uint8])
        self.marker = PlateauMarker(max_len, threshold, longest)

    def forecast(self, noutput_items, ninputs):
        return [self.marker.lookahead] * ninputs

    def general_work(self, input_items, output_items):
        produced = self.marker.mark(input_items[0], output_items[0])
        self.consume(0, produced)
        return produced


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
        self.metric.set_min_output_buffer(0, _PLATEAU_INPUT_ITEMS)
        # A preamble's plateau is at most about fft_len + cp_len samples long
        # (as the threshold goes to 0; 50 at 0.3 and 25 dB): a run cp_len
        # longer is no preamble's.
        self.plateau = PlateauDetector(cp_len, threshold, longest=fft_len + 2 * cp_len)
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
