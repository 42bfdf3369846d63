"""The OFDM PHY as functions: packets -> IQ (:func:`modulate`), IQ ->
received bursts (:func:`demodulate`), and both through a software channel
(:func:`run_phy_loopback`), each a finite GNU Radio flowgraph run to completion."""

import time
from dataclasses import dataclass
from typing import List, Sequence, Union

import numpy as np
import pmt
from gnuradio import blocks, gr

from .burst_mapping import burst_length
from .phy_header import MAX_PAYLOAD_BYTES
from .ofdm_params import LENGTH_TAG, OfdmParams
from .ofdm_rx import DEFAULT_SYNC_THRESHOLD, OfdmBurstRx
from .ofdm_tx import OfdmBurstTx
from .received_burst import ReceivedBurst


@dataclass
class PhyLoopbackResult:
    """What came out of the receiver, and what it cost on the air.

    Attributes
    ----------
    received : list of ReceivedBurst
        In arrival order.
    channel_uses : int
        Complex baseband samples the transmitter put on the air, preambles
        and gaps included.
    elapsed_s : float
        Wall-clock time of the flowgraph run.
    """

    received: List[ReceivedBurst]
    channel_uses: int
    elapsed_s: float


def tagged_packet_stream(packets: Sequence[bytes]):
    """Concatenate packets into one byte vector with a ``packet_len`` tag at
    each packet's first byte, as ``OfdmBurstTx`` expects.

    Returns
    -------
    (list of int, list of gr.tag_t)

    Raises
    ------
    ValueError
        A packet is empty or longer than the PHY carries (``MAX_PAYLOAD_BYTES``).
    """
    data: List[int] = []
    tags = []
    for index, packet in enumerate(packets):
        if not packet:
            raise ValueError("cannot transmit an empty packet")
        if len(packet) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"packet {index} is {len(packet)} bytes; the PHY carries at most "
                             f"{MAX_PAYLOAD_BYTES} bytes per packet (send fewer tokens per "
                             f"packet)")
        tag = gr.tag_t()
        tag.offset = len(data)
        tag.key = pmt.intern(LENGTH_TAG)
        tag.value = pmt.from_long(len(packet))
        tags.append(tag)
        data.extend(packet)
    return data, tags




def modulate(packets: Sequence[bytes], mcs: Union[str, Sequence[str]] = "qpsk-1/2",
             params: OfdmParams = None) -> np.ndarray:
    """Run the OFDM transmitter over ``packets`` and return the IQ it emits.

    ``mcs`` is one MCS name for every packet, or one per packet (unequal
    protection): each run of packets with the same MCS is modulated in turn
    and the bursts follow each other on the air. The PHY header names every
    burst's MCS, so the receiver needs nothing more. Packet counters restart
    at each run.

    Every packet must fit the PHY (1 to ``MAX_PAYLOAD_BYTES`` bytes), or
    nothing is sent (``ValueError``).

    The gap after the last burst is completed here: at the end of a finite
    stream gr-digital's burst shaper drops its final padding, and without
    those trailing samples the receiver's pipeline would keep the last frame.

    Returns
    -------
    np.ndarray, shape ``(channel_uses,)``, dtype ``complex64``
    """
    params = params or OfdmParams()
    if not isinstance(mcs, str):
        per_packet = list(mcs)
        if len(per_packet) != len(packets):
            raise ValueError(f"{len(per_packet)} MCS names for {len(packets)} packets")
        pieces, start = [], 0
        for end in range(1, len(packets) + 1):
            if end == len(packets) or per_packet[end] != per_packet[start]:
                pieces.append(modulate(packets[start:end], per_packet[start], params))
                start = end
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.complex64)
    data, tags = tagged_packet_stream(packets)
    tb = gr.top_block("tokencom_modulate", catch_exceptions=False)
    tb.source = blocks.vector_source_b(data, False, 1, tags)
    tb.tx = OfdmBurstTx(mcs, params)
    tb.sink = blocks.vector_sink_c()
    tb.connect(tb.source, tb.tx, tb.sink)
    tb.run()
    iq = np.asarray(tb.sink.data(), dtype=np.complex64)
    expected = sum(burst_length(len(p), mcs, params) for p in packets)
    if len(iq) > expected:
        raise RuntimeError(f"transmitter emitted {len(iq)} samples, expected at most {expected}")
    return np.concatenate([iq, np.zeros(expected - len(iq), dtype=np.complex64)])


class _ChannelReceiver(gr.top_block):
    """IQ vector -> [channel] -> OFDM RX -> stored bursts."""

    def __init__(self, iq: np.ndarray, channel, sync_threshold: float, params: OfdmParams,
                 channel_tracking: bool = True):
        gr.top_block.__init__(self, "tokencom_channel_receive", catch_exceptions=False)
        self.source = blocks.vector_source_c(np.asarray(iq, dtype=np.complex64).tolist(), False)
        self.channel = channel
        self.rx = OfdmBurstRx(sync_threshold, params, channel_tracking=channel_tracking)
        # Collected by direct callback, not through a message sink: at the
        # end of a finite run a message hop can stop before its queue drains.
        self.bursts: List[ReceivedBurst] = []
        self.rx.decoder.listeners.append(self.bursts.append)
        if channel is None:
            self.connect(self.source, self.rx)
        else:
            self.connect(self.source, channel, self.rx)


def demodulate(iq: np.ndarray, channel=None,
               sync_threshold: float = DEFAULT_SYNC_THRESHOLD,
               params: OfdmParams = None, channel_tracking: bool = True) -> List[ReceivedBurst]:
    """Pass IQ through ``channel`` (none if None) and the OFDM receiver.

    Parameters
    ----------
    iq : np.ndarray, shape ``(n,)``, dtype ``complex64``
        Baseband samples, e.g. from :func:`modulate` or a recording.
    channel : gr block, optional
        ``complex64`` in and out, e.g. a
        :class:`~tokencom_sdr.channel.loopback_channel.LoopbackChannel`.

    Returns
    -------
    list of ReceivedBurst
        In arrival order.
    """
    tb = _ChannelReceiver(iq, channel, sync_threshold, params or OfdmParams(), channel_tracking)
    tb.run()
    return tb.bursts


def run_phy_loopback(packets: Sequence[bytes], mcs: Union[str, Sequence[str]] = "qpsk-1/2",
                     channel=None,
                     sync_threshold: float = DEFAULT_SYNC_THRESHOLD,
                     params: OfdmParams = None, channel_tracking: bool = True) -> PhyLoopbackResult:
    """Send ``packets`` through the real GNU Radio OFDM chain and collect what
    the receiver delivers.

    Parameters
    ----------
    packets : sequence of bytes
        Link-layer packets, one OFDM burst each.
    mcs : str or sequence of str
        Modulation and coding scheme (``tokencom_sdr.phy.mcs``), or one per
        packet (see :func:`modulate`).
    channel : gr block, optional
        Impairments (e.g. a ``LoopbackChannel``); none when omitted.
    sync_threshold : float
        Receiver's Schmidl & Cox threshold.
    channel_tracking : bool
        The receiver tracks the channel across failed payloads (False only to
        measure what that brings).
    """
    start = time.perf_counter()
    iq = modulate(packets, mcs, params)
    received = demodulate(iq, channel, sync_threshold, params, channel_tracking)
    return PhyLoopbackResult(received, len(iq), time.perf_counter() - start)
