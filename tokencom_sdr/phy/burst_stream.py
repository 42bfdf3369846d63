"""Burst PDUs to a sample stream: the blocks that play complex bursts out.

* :class:`BurstStreamSource`: a continuous stream, each burst followed by
  ``gap_len`` zeros and zeros while no burst is queued. Sample-rate-driven
  sinks (a throttle, the Pluto's gr-iio sink, which only pushes whole
  buffers) never see the stream stop, so a lone burst is never held back.
* :class:`BurstPadder`: the same bursts with their gap zeros appended, as
  PDUs again, for gr-pdu's ``pdu_to_stream_c`` in front of burst-mode sinks
  (``tx_sob``/``tx_eob``).

Used by the streaming OFDM transmitter (:mod:`tokencom_sdr.gr.ofdm_stream_tx`)
and by the Pluto's TX sink (:mod:`tokencom_sdr.radio.pluto`).
"""

import collections
from typing import Deque, Optional

import numpy as np
import pmt
from gnuradio import gr

__all__ = ["BurstStreamSource", "BurstPadder"]


def _c32_samples(msg) -> Optional[np.ndarray]:
    """Samples of a complex PDU ``(meta . c32vector)`` (or bare c32vector).

    Returns
    -------
    np.ndarray, shape ``(n,)``, dtype ``complex64``, or None
        None when ``msg`` carries no c32vector.
    """
    if pmt.is_pair(msg) and not pmt.is_dict(msg):
        msg = pmt.cdr(msg)
    if not pmt.is_c32vector(msg):
        return None
    return np.asarray(pmt.c32vector_elements(msg), dtype=np.complex64)


class BurstStreamSource(gr.sync_block):
    """Complex burst PDUs in, a continuous zero-filled stream out.

    Each burst is copied out whole, followed by ``gap_len`` zeros; when no
    burst is queued the block outputs zeros, so the stream never pauses.
    Works per buffer with numpy (no per-sample Python).

    Ports
    -----
    bursts (in, message)
        ``(meta, c32vector)`` PDUs.
    out0 (out, stream)
        ``complex64`` samples.

    Parameters
    ----------
    gap_len : int
        Zero samples after every burst (>= 0).
    max_queue : int
        Bursts that may wait; further ones are dropped with a warning.
    """

    def __init__(self, gap_len: int = 400, max_queue: int = 4096):
        gr.sync_block.__init__(self, name="tokencom_burst_stream_source", in_sig=None,
                               out_sig=[np.complex64])
        if int(gap_len) < 0:
            raise ValueError(f"gap_len must be >= 0, got {gap_len}")
        self.gap_len = int(gap_len)
        self.max_queue = int(max_queue)
        self._queue: Deque[np.ndarray] = collections.deque()
        self._current: Optional[np.ndarray] = None
        self._pos = 0
        #: Bursts queued, bursts dropped (queue full), samples emitted in total.
        self.bursts_in = 0
        self.bursts_dropped = 0
        self.samples_out = 0
        self.message_port_register_in(pmt.intern("bursts"))
        self.set_msg_handler(pmt.intern("bursts"), self._handle_burst)

    @property
    def queued_samples(self) -> int:
        """Samples still to be played out before the stream is idle."""
        current = 0 if self._current is None else len(self._current) - self._pos
        return current + sum(len(b) for b in list(self._queue))

    def _handle_burst(self, msg) -> None:
        samples = _c32_samples(msg)
        if samples is None:
            self.logger.warn("bursts port: expected a complex (c32vector) PDU; dropped")
            return
        if len(self._queue) >= self.max_queue:
            self.bursts_dropped += 1
            self.logger.warn(f"{self.max_queue} bursts already queued; burst dropped")
            return
        if self.gap_len:
            samples = np.concatenate([samples, np.zeros(self.gap_len, dtype=np.complex64)])
        self._queue.append(samples)
        self.bursts_in += 1

    def work(self, input_items, output_items):
        out = output_items[0]
        n = len(out)
        filled = 0
        while filled < n:
            if self._current is None:
                if not self._queue:
                    break
                self._current, self._pos = self._queue.popleft(), 0
            take = min(n - filled, len(self._current) - self._pos)
            out[filled:filled + take] = self._current[self._pos:self._pos + take]
            filled += take
            self._pos += take
            if self._pos >= len(self._current):
                self._current = None
        out[filled:] = 0
        self.samples_out += n
        return n


class BurstPadder(gr.basic_block):
    """Complex burst PDUs in, the same bursts with ``gap_len`` zeros appended out."""

    def __init__(self, gap_len: int = 400):
        gr.basic_block.__init__(self, name="tokencom_burst_padder", in_sig=None, out_sig=None)
        if int(gap_len) < 0:
            raise ValueError(f"gap_len must be >= 0, got {gap_len}")
        self.gap_len = int(gap_len)
        self.message_port_register_in(pmt.intern("bursts"))
        self.message_port_register_out(pmt.intern("bursts"))
        self.set_msg_handler(pmt.intern("bursts"), self._handle_burst)

    def _handle_burst(self, msg) -> None:
        samples = _c32_samples(msg)
        if samples is None:
            self.logger.warn("bursts port: expected a complex (c32vector) PDU; dropped")
            return
        padded = np.concatenate([samples, np.zeros(self.gap_len, dtype=np.complex64)])
        meta = pmt.car(msg) if pmt.is_pair(msg) else pmt.make_dict()
        self.message_port_pub(pmt.intern("bursts"),
                              pmt.cons(meta, pmt.init_c32vector(len(padded), padded.tolist())))
