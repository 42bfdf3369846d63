"""``tokencom tx`` and ``tokencom rx`` as separate OS processes, linked by the
ZMQ virtual radio on 127.0.0.1, with channel impairments on the RX side.

The TX binds ``tcp://127.0.0.1:0`` (a free port, printed on its stderr) and
is started first: it must wait for the receiver and stay alive until the
receiver has its samples. The RX connects to the printed endpoint.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tokencom_sdr.data.messages import SONNET_18

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-u", "-m", "tokencom_sdr.cli"]


class Reader:
    """Collects a pipe's lines on a thread, so a test can wait for one."""

    def __init__(self, pipe):
        self.lines = []
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self._thread.start()

    def _run(self, pipe):
        for line in pipe:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                return None
            self.lines.append(line)
            if predicate(line):
                return line
        return None

    def rest(self, timeout=5.0):
        self._thread.join(timeout)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)
        return "".join(self.lines)


def _start(args):
    return subprocess.Popen(CLI + args, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _start_tx(text, extra=()):
    """``tokencom tx --text TEXT`` (or, with ``text`` None, what ``extra`` says)
    on a free port; returns (process, stderr reader, endpoint)."""
    message = [] if text is None else ["--text", text]
    tx = _start(["tx", "--radio", "zmq", "-a", "tcp://127.0.0.1:0", *message,
                 "--interval", "0.2", *extra])
    tx_err = Reader(tx.stderr)
    line = tx_err.wait_for(lambda l: "bound to tcp://127.0.0.1:" in l, timeout=20)
    assert line, f"TX did not report its endpoint: {tx_err.rest()}"
    return tx, tx_err, line.strip().rsplit(" ", 1)[-1]


def _kill(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


def _receive(tx, tx_err, rx_args, timeout):
    """Run ``tokencom rx`` to completion against a started TX; both must exit
    cleanly. Returns the RX's stdout."""
    rx = None
    try:
        rx = _start(rx_args)
        rx_stdout, rx_stderr = rx.communicate(timeout=timeout)
        assert rx.returncode == 0, rx_stderr
        assert tx.wait(timeout=20) == 0, tx_err.rest()
        return rx_stdout
    finally:
        _kill(tx)
        if rx is not None:
            _kill(rx)


@pytest.mark.timeout(60)
def test_tx_and_rx_processes_exact_message_through_impaired_channel(tmp_path):
    out = tmp_path / "rx.json"
    tx, tx_err, endpoint = _start_tx(SONNET_18)
    # No receiver yet: the TX must say it waits, and still be running.
    waiting = tx_err.wait_for(lambda l: "waiting for a receiver" in l, timeout=30)
    if not waiting or tx.poll() is not None:
        _kill(tx)
        pytest.fail(f"the TX does not wait for its receiver: {tx_err.rest()}")
    rx_stdout = _receive(tx, tx_err, [
        "rx", "--radio", "zmq", "-a", endpoint, "--count", "1", "--snr", "18", "--cfo", "0.004",
        "--sco", "20", "--taps", "1", "0.2+0.1j", "--seed", "3", "--expect", SONNET_18,
        "--json", str(out)], timeout=40)
    # The RX prints the message exactly as sent, then its statistics.
    assert SONNET_18 in rx_stdout
    assert "[message 1] packets 6/6 (PER 0.000)" in rx_stdout
    [report] = json.loads(out.read_text())
    assert report["exact"] is True and report["token_error_rate"] == 0.0
    assert report["received_text"] == SONNET_18
    # Estimates from the preambles match the simulated channel. The SNR
    # estimate sees the multipath's second tap as signal, hence the margin.
    assert abs(report["snr_db"] - 18.0) < 2.5
    assert abs(report["cfo"] - 0.004) < 3e-4
    # Same keys as `tokencom loopback --json` (plus a few of its own), but
    # for the sender's token budget: by design a receiver is not told alpha.
    from tokencom_sdr.app.loopback import run_text_loopback

    loopback_keys = set(run_text_loopback("key check")) - {"budget"}
    assert loopback_keys <= set(report), loopback_keys - set(report)


@pytest.mark.timeout(60)
def test_rx_stops_cleanly_on_sigint_and_its_recording_replays(tmp_path):
    text = "Interrupt me when you have got this message."
    out = tmp_path / "rx.json"
    record = tmp_path / "rx.sigmf-data"
    tx, tx_err, endpoint = _start_tx(text)
    rx = _start(["rx", "--radio", "zmq", "-a", endpoint, "--snr", "20", "--cfo", "-0.002",
                 "--json", str(out), "--record", str(record)])
    rx_out = Reader(rx.stdout)
    try:
        got = rx_out.wait_for(lambda l: l.startswith("[message 1]"), timeout=30)
        assert got, rx_out.rest() + rx.stderr.read()
        assert tx.wait(timeout=20) == 0, tx_err.rest()
        rx.send_signal(signal.SIGINT)
        assert rx.wait(timeout=15) == 0
    finally:
        _kill(tx)
        _kill(rx)
    stdout = rx_out.rest()
    stderr = rx.stderr.read()
    assert text in stdout
    assert "stopping (Ctrl-C)" in stderr and "Traceback" not in stderr
    [report] = json.loads(out.read_text())
    assert report["received_text"] == text and report["packets_received"] == 1

    from tokencom_sdr.radio.sigmf_file import read_recording, validate_recording

    validate_recording(record)
    samples, info = read_recording(record)
    assert len(info.annotations) >= 1 and info.annotations[0]["tokencom:crc_ok"] is True
    replay_json = tmp_path / "replay.json"
    replay = subprocess.run(CLI + ["rx", "--replay", str(record.with_suffix(".sigmf-meta")),
                                   "--json", str(replay_json)],
                            cwd=REPO, capture_output=True, text=True, timeout=40)
    assert replay.returncode == 0, replay.stderr
    [again] = json.loads(replay_json.read_text())
    assert again["received_text"] == text
    assert again["first_sample"] == report["first_sample"]


@pytest.mark.timeout(90)
def test_image_over_zmq_is_drawn_with_the_tokenizer_its_headers_name(tmp_path):
    """``tx --image`` with the low-rate tokenizer; ``rx`` is not told which:
    it reads it from the packet headers, saves the received and the
    recovered image, and scores them against the original."""
    from PIL import Image

    from tokencom_sdr.data.image_data import load_image_source

    original = load_image_source("astronaut", 96)
    source = tmp_path / "astronaut96.png"
    Image.fromarray(original).save(source)
    out, pictures = tmp_path / "rx.json", tmp_path / "pictures"
    tx, tx_err, endpoint = _start_tx(None, ["--image", str(source), "--tokenizer", "low-rate"])
    rx_stdout = _receive(tx, tx_err, [
        "rx", "--radio", "zmq", "-a", endpoint, "--count", "1", "--snr", "25", "--seed", "2",
        "--expect-image", str(source), "--expect-tokenizer", "low-rate", "--out", str(pictures),
        "--json", str(out)], timeout=70)
    [report] = json.loads(out.read_text())
    assert report["modality"] == "image" and report["tokenizer"] == "low-rate"
    assert report["recovery"] == "context" and report["grid"] == [12, 12]
    assert report["packets_received"] == report["packets_sent"]
    assert report["token_error_rate"] == 0.0 and report["token_error_rates_from"] == "original"
    # Every packet arrived: both images are the error-free tokens' drawing.
    from tokencom_sdr.metrics.image_quality import psnr
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    tok = ImageTokenizer.default("low-rate")
    error_free = psnr(original, tok.decode_frame(tok.encode_frame(original), original.shape[:2]))
    assert report["psnr_db"] == report["psnr_no_recovery_db"] == pytest.approx(error_free,
                                                                               abs=1e-3)
    saved = sorted(p.name for p in pictures.iterdir())
    assert len(saved) == 2 and saved[0].endswith("_received.png") and \
        saved[1].endswith("_recovered.png")
    assert "PSNR" in rx_stdout
