"""The receiver's Schmidl & Cox detector (running sums) against gr-digital's
``ofdm_sync_sc_cfb`` (FIR sums), which it replaces for speed: the same marks."""

import numpy as np
import pytest
from gnuradio import blocks, digital, gr

from tokencom_sdr.phy.burst_mapping import burst_length
from tokencom_sdr.phy.modem import modulate
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.phy.schmidl_cox import SchmidlCoxDetector

PARAMS = OfdmParams()


def _marks(iq: np.ndarray, detector) -> np.ndarray:
    tb = gr.top_block()
    tb.source, tb.detector, tb.marks = blocks.vector_source_c(iq.tolist(), False), detector, blocks.vector_sink_b()
    if isinstance(detector, SchmidlCoxDetector):
        tb.connect(tb.source, tb.detector, tb.marks)
    else:
        tb.frequency = blocks.null_sink(gr.sizeof_float)
        tb.connect(tb.source, tb.detector, tb.frequency)
        tb.connect((tb.detector, 1), tb.marks)
    tb.run()
    return np.flatnonzero(np.array(tb.marks.data()))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("snr_db", [2.0, 25.0])
def test_marks_match_gr_digitals_detector(snr_db):
    packets = [bytes([i]) * (40 + 9 * i) for i in range(30)]
    rng = np.random.default_rng(int(snr_db))
    iq = modulate(packets, "qpsk-1/2")
    iq = iq * np.exp(2j * np.pi * 0.003 * np.arange(iq.size))
    iq = (iq + np.sqrt(10 ** (-snr_db / 10) / 2) * (rng.standard_normal(iq.size)
                                                  + 1j * rng.standard_normal(iq.size))).astype(np.complex64)
    ours = _marks(iq, SchmidlCoxDetector(PARAMS.fft_len, PARAMS.cp_len, 0.3))
    stock = _marks(iq, digital.ofdm_sync_sc_cfb(PARAMS.fft_len, PARAMS.cp_len, False, 0.3))
    starts = np.cumsum([0] + [burst_length(len(p), "qpsk-1/2", PARAMS) for p in packets[:-1]])
    # Each burst is marked where gr-digital marks it, and only then (at 2 dB
    # both miss some; a plateau may break in two, and the plateau
    # detector's chunking may move a mark by a few samples, in either).
    def marked(marks, start):
        return bool(np.any(np.abs(marks - (start + PARAMS.symbol_len - 12)) <= 24))

    assert [marked(ours, s) for s in starts] == [marked(stock, s) for s in starts]
    assert sum(marked(ours, s) for s in starts) >= (20 if snr_db < 10 else 30)
    assert abs(len(ours) - len(stock)) <= 2
    assert np.mean([np.min(np.abs(stock - mark)) == 0 for mark in ours]) >= 0.95
    assert np.mean([np.min(np.abs(stock - mark)) <= 3 for mark in ours]) >= 0.98
