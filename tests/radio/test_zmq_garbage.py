"""The ZMQ receive path against a hostile sender on 127.0.0.1: malformed
messages are dropped and counted, non-finite samples zeroed, and a valid
message after them still decodes exactly."""

import time

import numpy as np
import pytest
import zmq
from gnuradio import gr

from tokencom_sdr.experiments.per_sweep import random_packets
from tokencom_sdr.phy.modem import modulate
from tokencom_sdr.phy.ofdm_rx import OfdmBurstRx
from tokencom_sdr.radio.zmq_radio import CHUNK_SAMPLES, make_pull_source
from tokencom_sdr.radio.zmq_source import MAX_MESSAGE_BYTES

pytestmark = pytest.mark.timeout(120)


class _Receiver(gr.top_block):
    def __init__(self, address: str):
        gr.top_block.__init__(self, "zmq_garbage_rx", catch_exceptions=False)
        self.source = make_pull_source(address)
        self.rx = OfdmBurstRx()
        self.bursts = []
        self.rx.decoder.listeners.append(self.bursts.append)
        self.connect(self.source, self.rx)


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_receiver_survives_malformed_messages_and_then_decodes():
    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    port = push.bind_to_random_port("tcp://127.0.0.1")
    tb = _Receiver(f"tcp://127.0.0.1:{port}")
    tb.start()
    try:
        rng = np.random.default_rng(0)
        garbage = [b"", b"x" * 13, b"y" * 7, bytes(rng.integers(0, 256, 8 * 1000 + 3, dtype=np.uint8))]
        for i in range(1000):
            push.send(garbage[i % len(garbage)])
        nan = np.full(512, np.nan, dtype=np.complex64)
        nan[::2] = np.inf
        push.send(nan.tobytes())
        assert _wait(lambda: tb.source.messages_dropped >= 1000 and tb.source.samples_zeroed >= 512, 30.0), \
            tb.source.input_problems()
        assert tb.source.samples_zeroed == 512
        push.send(b"\0" * (MAX_MESSAGE_BYTES + 8))  # too big: dropped like the others
        packets = random_packets(5, 100, 3)
        iq = np.concatenate([np.zeros(4000, np.complex64), modulate(packets, "qpsk-1/2"),
                             np.zeros(20000, np.complex64)])
        for start in range(0, len(iq), CHUNK_SAMPLES):
            push.send(iq[start:start + CHUNK_SAMPLES].tobytes())
        assert _wait(lambda: len(tb.bursts) >= len(packets), 30.0), len(tb.bursts)
    finally:
        tb.stop()
        tb.wait()
        push.close(linger=0)
        context.term()
    assert [b.data for b in tb.bursts if b.fec_ok] == packets
    assert tb.source.messages_dropped == 1001


@pytest.mark.timeout(120)
def test_tokencom_rx_keeps_running_through_garbage_and_reports_it(tmp_path):
    """``tokencom rx --radio zmq`` as its own process: 1,000 malformed
    messages (the one gr-zeromq aborted on among them), then a real text
    message, which arrives exactly; the report line counts what was dropped."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import tokencom_sdr as tc
    from tokencom_sdr.data.messages import SONNET_18

    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    port = push.bind_to_random_port("tcp://127.0.0.1")
    out = tmp_path / "rx.json"
    rx = subprocess.Popen([sys.executable, "-u", "-m", "tokencom_sdr.cli", "rx", "--radio", "zmq",
                           "-a", f"tcp://127.0.0.1:{port}", "--count", "1", "--json", str(out)],
                          cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3.0)  # the receiver connects
        for i in range(1000):
            push.send(b"x" * (13 + 8 * (i % 5)) if i % 2 else b"")  # never whole samples
        iq = np.concatenate([tc.text_to_iq(SONNET_18), np.zeros(40000, np.complex64)])
        for start in range(0, len(iq), CHUNK_SAMPLES):
            push.send(iq[start:start + CHUNK_SAMPLES].tobytes())
        output, _ = rx.communicate(timeout=90)
    finally:
        if rx.poll() is None:
            rx.kill()
        push.close(linger=0)
        context.term()
    assert rx.returncode == 0, output[-3000:]
    [report] = json.loads(out.read_text())
    assert report["received_text"] == SONNET_18
    assert "1000 malformed messages dropped" in output
