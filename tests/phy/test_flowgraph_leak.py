"""No leak per flowgraph (issue 16): building, running and dropping a
receiver or a transmitter in one process leaves no shared memory behind.

GNU Radio 3.10 never frees a hier block whose own message port is wired to
an inner block (gnuradio#7706): each such OFDM receiver used to leave its 60
buffer mappings. The mapping count of one live flowgraph is the yardstick:
ten runs must add less than two runs' worth.
"""

import contextlib
import gc
import io
import time

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from tokencom_sdr.gr import OfdmStreamTx
from tokencom_sdr.metrics.process_resources import process_resources
from tokencom_sdr.phy.modem import modulate
from tokencom_sdr.phy.ofdm_rx import OfdmBurstRx

RUNS = 10
PACKETS = [bytes([i]) * 60 for i in range(3)]


def _shared_mappings() -> int:
    gc.collect()
    return process_resources().shared_memory_mappings


def _added_by_runs(run_once) -> tuple:
    """(mappings one live flowgraph holds, mappings RUNS more runs left)."""
    run_once()  # first-use allocations (FFT plans, code tables) out of the count
    before = _shared_mappings()
    live = run_once(measure_live=True)
    for _ in range(RUNS - 1):
        run_once()
    return live - before, _shared_mappings() - before


def _receiver_with_message_ports(measure_live: bool = False):
    """The GRC way: the receiver's ``pdus`` port wired to a message sink."""
    iq = np.concatenate([modulate(PACKETS), np.zeros(2000, np.complex64)])
    tb = gr.top_block()
    tb.source = blocks.vector_source_c(iq.tolist())
    tb.rx = OfdmBurstRx()
    tb.sink = blocks.message_debug()
    tb.connect(tb.source, tb.rx)
    tb.msg_connect(tb.rx, "pdus", tb.sink, "store")
    tb.start()
    live = _shared_mappings() if measure_live else None
    tb.wait()
    assert tb.sink.num_messages() == len(PACKETS)
    return live


def _stream_transmitter(measure_live: bool = False):
    """The GRC TX: packet PDUs into the stream transmitter's ``pdus`` port."""
    tb = gr.top_block()
    packet = pmt.cons(pmt.make_dict(), pmt.init_u8vector(60, [7] * 60))
    tb.source = blocks.message_strobe(packet, 50)
    tb.tx = OfdmStreamTx(idle_fill=True)
    tb.throttle = blocks.throttle(gr.sizeof_gr_complex, 2e6, True)
    tb.sink = blocks.vector_sink_c()
    tb.msg_connect(tb.source, "strobe", tb.tx, "pdus")
    tb.connect(tb.tx, tb.throttle, tb.sink)
    tb.start()
    live = _shared_mappings() if measure_live else None
    # Message-driven blocks run until stopped: stop once a burst is out.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not np.any(np.asarray(tb.sink.data())):
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    assert np.any(np.asarray(tb.sink.data())), "no burst came out"
    return live


def _loopback_tx_cli(measure_live: bool = False):
    """``tokencom tx --radio loopback`` in this process: TX, channel and RX."""
    from tokencom_sdr.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["tx", "--radio", "loopback", "--text", "hello leak"]) == 0
    assert "exact True" in out.getvalue()


@pytest.mark.timeout(120)
def test_receivers_with_message_ports_are_freed():
    live, left = _added_by_runs(_receiver_with_message_ports)
    assert live >= 20, f"a live receiver should hold its buffers' mappings, saw {live}"
    assert left < 2 * live, f"{RUNS} receivers left {left} shared-memory mappings"


@pytest.mark.timeout(120)
def test_stream_transmitters_with_message_ports_are_freed():
    live, left = _added_by_runs(_stream_transmitter)
    assert live >= 10, f"a live transmitter should hold its buffers' mappings, saw {live}"
    assert left < 2 * live, f"{RUNS} transmitters left {left} shared-memory mappings"


@pytest.mark.timeout(120)
def test_in_process_loopback_runs_leave_no_shared_memory():
    _loopback_tx_cli()
    before = _shared_mappings()
    for _ in range(RUNS):
        _loopback_tx_cli()
    # One leaked receiver alone left 60 mappings.
    assert _shared_mappings() - before < 60
