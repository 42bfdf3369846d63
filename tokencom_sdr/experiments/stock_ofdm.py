"""GNU Radio's stock ``ofdm_tx``/``ofdm_rx`` loopback: the reference curve.

Uncoded QPSK with the stock receiver (its Schmidl & Cox threshold fixed at
0.9) and its CRC-32, on the same channel as ours. The stock transmitter's
bursts are scaled to unit mean power so that both see the same SNR.
"""

import time
from typing import List, Sequence, Tuple

import numpy as np
import pmt
from gnuradio import blocks, digital, gr

from ..channel.loopback_channel import LoopbackChannel
from ..phy.modem import tagged_packet_stream

STOCK_LENGTH_TAG = "packet_len"
_STOCK_GAP = 400


def _stock_modulate(packets: Sequence[bytes]) -> np.ndarray:
    data, tags = tagged_packet_stream(packets)
    tb = gr.top_block("stock_ofdm_tx", catch_exceptions=False)
    tb.source = blocks.vector_source_b(data, False, 1, tags)
    tb.tx = digital.ofdm_tx(packet_length_tag_key=STOCK_LENGTH_TAG, bps_header=1, bps_payload=2,
                            scramble_bits=True)
    # Gaps between bursts, as ours have, so the stock sync sees separate bursts.
    tb.gaps = digital.burst_shaper_cc([], 0, _STOCK_GAP, False, STOCK_LENGTH_TAG)
    tb.sink = blocks.vector_sink_c()
    tb.connect(tb.source, tb.tx, tb.gaps, tb.sink)
    tb.run()
    iq = np.asarray(tb.sink.data(), dtype=np.complex64)
    burst_power = float(np.mean(np.abs(iq[iq != 0]) ** 2))
    # The burst shaper drops the last gap at end of stream (see phy_loopback).
    return np.concatenate([iq / np.sqrt(burst_power), np.zeros(_STOCK_GAP, np.complex64)])


def run_stock_loopback(packets: Sequence[bytes], channel: LoopbackChannel) -> Tuple[List[bytes], int, float]:
    """Stock TX -> ``channel`` -> stock RX.

    Returns
    -------
    (delivered packets, channel uses, elapsed seconds)
    """
    start = time.perf_counter()
    iq = _stock_modulate(packets)
    tb = gr.top_block("stock_ofdm_rx", catch_exceptions=False)
    tb.source = blocks.vector_source_c(iq.tolist(), False)
    tb.channel = channel
    tb.rx = digital.ofdm_rx(packet_length_tag_key=STOCK_LENGTH_TAG, bps_header=1, bps_payload=2,
                            scramble_bits=True)
    tb.sink = blocks.vector_sink_b()
    tb.connect(tb.source, tb.channel, tb.rx, tb.sink)
    tb.run()
    delivered = _split_tagged(np.asarray(tb.sink.data(), dtype=np.uint8), tb.sink.tags())
    return delivered, len(iq), time.perf_counter() - start


def _split_tagged(data: np.ndarray, tags) -> List[bytes]:
    out = []
    for tag in tags:
        if pmt.symbol_to_string(tag.key) == STOCK_LENGTH_TAG:
            length = pmt.to_long(tag.value)
            out.append(bytes(data[tag.offset:tag.offset + length]))
    return out
