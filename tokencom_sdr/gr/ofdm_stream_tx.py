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
* :class:`~tokencom_sdr.phy.burst_stream.BurstStreamSource` plays the burst
  PDUs out as a continuous stream: every burst is followed by ``gap_len``
  zeros (so back-to-back bursts keep their separation), and zeros fill the
  stream whenever no burst is queued.

With ``idle_fill=False`` the bursts (each with its gap zeros appended) go to
gr-pdu's ``pdu_to_stream_c`` instead, which tags them ``tx_sob``/``tx_eob``
and produces nothing in between, for burst-mode radio sinks.

A continuous source runs as fast as the blocks downstream let it: put a
throttle (simulation) or a radio sink (hardware) after it.
"""

import dataclasses
from typing import Optional

from gnuradio import gr, pdu

from ..phy.burst_stream import BurstPadder, BurstStreamSource
from ..phy.hier_message_ports import export_message_input
from ..phy.ofdm_params import LENGTH_TAG, OfdmParams
from ..phy.ofdm_tx import OfdmBurstTx


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

        self.to_tagged_stream = pdu.pdu_to_tagged_stream(gr.types.byte_t, LENGTH_TAG)
        # No gap inside the burst TX: its burst shaper would hold it back.
        self.burst_tx = OfdmBurstTx(mcs, dataclasses.replace(params, gap_len=0))
        self.to_bursts = pdu.tagged_stream_to_pdu(gr.types.complex_t, LENGTH_TAG)
        self.connect(self.to_tagged_stream, self.burst_tx, self.to_bursts)
        export_message_input(self, "pdus", self.to_tagged_stream)
        if self.idle_fill:
            self.streamer = BurstStreamSource(self.gap_len)
            self.msg_connect(self.to_bursts, "pdus", self.streamer, "bursts")
        else:
            self.padder = BurstPadder(self.gap_len)
            self.streamer = pdu.pdu_to_stream_c(pdu.EARLY_BURST_APPEND, 1024)
            self.msg_connect(self.to_bursts, "pdus", self.padder, "bursts")
            self.msg_connect(self.padder, "bursts", self.streamer, "pdus")
        self.connect(self.streamer, self)
