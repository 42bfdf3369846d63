"""Streaming OFDM transmitter: packet PDUs in, a continuous sample stream out.

Why this exists
---------------
:class:`~tokencom_sdr.phy.ofdm_tx.OfdmBurstTx` appends each burst's zero gap
with gr-digital's ``burst_shaper``, which emits a burst's trailing padding only
once the *next* burst arrives (in 3.10.5, also in streaming use, and its
``packet_len`` tag already counts the padding). And gr-pdu's
``pdu_to_stream_c`` produces *nothing* while it has no PDU (its ``work``
sleeps 25 us and returns 0 items; checked in 3.10.5). Put together, a lone
message's last burst would sit in the transmitter until another message came,
and sample-rate-driven blocks downstream (throttle, radio sinks) would see a
stream that stops and starts.

What it does
------------
* The burst transmitter runs with ``gap_len = 0``: the burst shaper then has
  no padding to hold back, and each burst leaves it as soon as it is built
  (``tagged_stream_to_pdu`` collects it into one complex PDU).
* :class:`BurstStreamSource` plays the burst PDUs out as a continuous stream:
  every burst is followed by ``gap_len`` zeros (so back-to-back bursts keep
  their separation), and zeros fill the stream whenever no burst is queued.

With ``idle_fill=False`` the bursts (each with its gap zeros appended) go to
gr-pdu's ``pdu_to_stream_c`` instead, which tags them ``tx_sob``/``tx_eob``
and produces nothing in between, for burst-mode radio sinks.

A continuous source runs as fast as the blocks downstream let it: put a
throttle (simulation) or a radio sink (hardware) after it.
"""

import collections
import dataclasses
from typing import Deque, Optional

import numpy as np
import pmt
from gnuradio import gr, pdu

from ..phy.ofdm_params import LENGTH_TAG, OfdmParams
from ..phy.ofdm_tx import OfdmBurstTx


def _c32_samples(msg) -> Optional[np.ndarray]:
    """Samples of a complex PDU ``(meta . c32vector)`` (or bare c32vector)."""
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


class OfdmStreamTx(gr.hier_block2):
    """Packet PDUs in, OFDM bursts on a continuous complex stream out.

    Input: message port ``pdus``, one link-layer packet per ``(meta, u8vector)``
    PDU (e.g. from the TokenCom Text Encoder).
    Output: ``complex64`` stream, unit-power bursts separated by ``gap_len``
    zeros; zeros when idle (``idle_fill=True``), or nothing between bursts
    (``idle_fill=False``, bursts tagged ``tx_sob``/``tx_eob``).

    Parameters
    ----------
    mcs : str
        Modulation and coding scheme (``tokencom_sdr.phy.mcs``); it travels
        in each burst's header, so the receiver needs no setting.
    gap_len : int or None
        Zeros after each burst; None takes ``params.gap_len``.
    idle_fill : bool
        Keep the stream continuous by filling idle time with zeros.
    params : OfdmParams, optional
        Numerology; must match the receiver's. Its ``gap_len`` is replaced by
        the ``gap_len`` argument when that is given.
    """

    def __init__(self, mcs: str = "qpsk-1/2", gap_len: Optional[int] = None,
                 idle_fill: bool = True, params: Optional[OfdmParams] = None):
        gr.hier_block2.__init__(self, "tokencom_ofdm_stream_tx",
                                gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        params = params or OfdmParams()
        self.gap_len = int(params.gap_len if gap_len is None else gap_len)
        if self.gap_len < 0:
            raise ValueError(f"gap_len must be >= 0, got {self.gap_len}")
        self.params = dataclasses.replace(params, gap_len=self.gap_len)
        self.mcs = mcs
        self.idle_fill = bool(idle_fill)

        self.message_port_register_hier_in("pdus")
        self.to_tagged_stream = pdu.pdu_to_tagged_stream(gr.types.byte_t, LENGTH_TAG)
        # No gap inside the burst TX: its burst shaper would hold it back.
        self.burst_tx = OfdmBurstTx(mcs, dataclasses.replace(params, gap_len=0))
        self.to_bursts = pdu.tagged_stream_to_pdu(gr.types.complex_t, LENGTH_TAG)
        self.connect(self.to_tagged_stream, self.burst_tx, self.to_bursts)
        self.msg_connect(self, "pdus", self.to_tagged_stream, "pdus")
        if self.idle_fill:
            self.streamer = BurstStreamSource(self.gap_len)
            self.msg_connect(self.to_bursts, "pdus", self.streamer, "bursts")
        else:
            self.padder = BurstPadder(self.gap_len)
            self.streamer = pdu.pdu_to_stream_c(pdu.EARLY_BURST_APPEND, 1024)
            self.msg_connect(self.to_bursts, "pdus", self.padder, "bursts")
            self.msg_connect(self.padder, "bursts", self.streamer, "pdus")
        self.connect(self.streamer, self)
