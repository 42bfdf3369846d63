"""A finite sample array as a GNU Radio source (a replayed recording, looped-back IQ)."""

import numpy as np
from gnuradio import gr

__all__ = ["ArraySource", "FLUSH_TAIL"]

#: Zeros played after a finite source, so the receiver's pipeline lets go of
#: the last frame (a finite run otherwise loses it).
FLUSH_TAIL = 4096


class ArraySource(gr.sync_block):
    """Play a sample array (e.g. a memory-mapped recording) once, then
    ``tail`` zeros, then end the stream.

    Output: ``complex64``. Copies per buffer with numpy.

    Parameters
    ----------
    samples : np.ndarray, shape ``(n,)``, dtype ``complex64``
        Played as they are (a memory map is read buffer by buffer).
    tail : int
        Zeros after the samples.
    """

    def __init__(self, samples: np.ndarray, tail: int = FLUSH_TAIL):
        gr.sync_block.__init__(self, name="tokencom_array_source", in_sig=None,
                               out_sig=[np.complex64])
        self.samples = samples
        self.total = len(samples) + int(tail)
        self.position = 0

    def work(self, input_items, output_items):
        out = output_items[0]
        if self.position >= self.total:
            return -1  # WORK_DONE
        n = min(len(out), self.total - self.position)
        have = max(0, min(n, len(self.samples) - self.position))
        if have:
            out[:have] = self.samples[self.position:self.position + have]
        out[have:n] = 0
        self.position += n
        return n
