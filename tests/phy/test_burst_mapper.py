"""The transmitter's burst mapper block: packets batched per work() call,
bytes outside any packet skipped, oversized packets dropped, and the bursts
exactly those each packet makes on its own."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from tokencom_sdr.phy.burst_mapper_block import BurstMapperBlock
from tokencom_sdr.phy.burst_mapping import burst_symbols
from tokencom_sdr.phy.ofdm_params import LENGTH_TAG, OfdmParams

PARAMS = OfdmParams()


def _map(stream, tags, mcs):
    tb = gr.top_block()
    tb.source = blocks.vector_source_b(stream, False, 1, tags)
    tb.mapper = BurstMapperBlock(mcs, PARAMS)
    tb.sink = blocks.vector_sink_c()
    tb.connect(tb.source, tb.mapper, tb.sink)
    tb.run()
    lengths = [pmt.to_long(t.value) for t in tb.sink.tags() if pmt.symbol_to_string(t.key) == LENGTH_TAG]
    return np.array(tb.sink.data(), dtype=np.complex64), lengths, tb.mapper


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mcs", ["qpsk-1/2", "16qam-1/2-mobile", "bpsk"])
def test_bursts_are_each_packets_own_whatever_lies_between(mcs):
    rng = np.random.default_rng(2)
    sizes = [100] * 150 + [37, 1500, 1, 1501, 100, 250] * 5  # 1501: too long, dropped
    stream, tags, expected, number = [], [], [], 0
    for size in sizes:
        if rng.random() < 0.2:  # junk outside any packet
            stream += rng.integers(0, 256, int(rng.integers(1, 300))).tolist()
        packet = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        tags.append(gr.tag_utils.python_to_tag((len(stream), pmt.intern(LENGTH_TAG), pmt.from_long(size))))
        stream += list(packet)
        if size <= 1500:
            expected.append(burst_symbols(packet, mcs, number, PARAMS))
            number += 1
    symbols, lengths, mapper = _map(stream, tags, mcs)
    assert lengths == [e.size for e in expected]
    np.testing.assert_array_equal(symbols, np.concatenate(expected))
    assert mapper.packets_dropped == 5
