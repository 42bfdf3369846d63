"""SigMF: record what the receiver hears (one annotation per packet), check it
with the ``sigmf`` package, and replay it to the same messages.

``sigmf`` is a dependency of the radio code: without it these tests fail
rather than skip."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tokencom_sdr.channel.loopback_channel import LoopbackChannel
from tokencom_sdr.data.messages import SONNET_18
from tokencom_sdr.app.rx import RxFlowgraph, RxOptions, run_receiver
from tokencom_sdr.app.rx_report import Expected
from tokencom_sdr.radio.array_source import ArraySource
from tokencom_sdr.app.tx import make_messages, message_iq, run_transmitter, text_frame
from tokencom_sdr.radio.profile import load_profile
from tokencom_sdr.radio.sigmf_file import (RecordingError, read_recording, recording_paths,
                                           validate_recording)

REPO = Path(__file__).resolve().parents[2]
LEAD = 3000  # samples of silence before the first burst
SNR_DB, CFO = 20.0, 0.003


class _Quiet:
    def write(self, text):
        pass

    def flush(self):
        pass


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """Two messages through a noisy channel into the receiver, recorded."""
    tmp = tmp_path_factory.mktemp("sigmf")
    profile = load_profile("zmq")
    frame = text_frame(SONNET_18)
    chunks, starts, lengths = [np.zeros(LEAD, dtype=np.complex64)], [], []
    offset = LEAD
    for message in make_messages(frame, repeat=2, first_message_id=40):
        iq, bursts = message_iq(message.packets, profile)
        starts += [offset + s for s, _ in bursts]
        lengths += [n for _, n in bursts]
        chunks.append(iq)
        offset += len(iq)
    iq = np.concatenate(chunks)
    # No clock offset or multipath here, so the true burst starts are known
    # exactly in the receiver's sample count.
    channel = LoopbackChannel(SNR_DB, CFO, 0.0, [1.0], seed=5)
    record = tmp / "live.sigmf-data"
    flowgraph = RxFlowgraph(ArraySource(iq), profile, channel, record)
    reports = run_receiver(flowgraph, profile,
                           RxOptions(record_path=record, expected=Expected(text=SONNET_18),
                                     stream=_Quiet()),
                           finite=True)
    return {"tmp": tmp, "record": record, "reports": reports, "starts": starts,
            "lengths": lengths, "profile": profile, "annotations": flowgraph.annotations}


@pytest.mark.timeout(60)
def test_live_reception_decodes_both_messages(live):
    reports = live["reports"]
    assert [r["message_id"] for r in reports] == [40, 41]
    assert all(r["exact"] for r in reports), [r["received_text"] for r in reports]


@pytest.mark.timeout(60)
def test_recording_validates_and_annotates_every_packet(live):
    validate_recording(live["record"])
    samples, info = read_recording(recording_paths(live["record"])[1])
    assert info.datatype == "cf32_le" and info.mcs == "qpsk-1/2"
    assert info.sample_rate_hz == live["profile"].sample_rate_hz
    assert info.center_freq_hz == live["profile"].center_freq_hz
    assert "ZMQ virtual radio" in info.hardware
    notes = info.annotations
    assert len(notes) == len(live["starts"]) == 2 * live["reports"][0]["packets_sent"]
    fs = info.sample_rate_hz
    for note, start, length in zip(notes, live["starts"], live["lengths"]):
        # The detector triggers within about a cyclic prefix (16) of its usual place.
        assert abs(note["core:sample_start"] - start) <= 20
        assert note["tokencom:mcs"] == "qpsk-1/2" and note["tokencom:fec_ok"] is True
        assert note["core:sample_count"] == length
        assert note["tokencom:crc_ok"] is True
        assert abs(note["tokencom:snr_db"] - SNR_DB) < 3.0
        # The PHY estimates per packet (preamble, header pilots): loose per packet.
        assert abs(note["tokencom:cfo_hz"] - CFO * fs) < 5e-4 * fs
    for report in live["reports"]:  # the message means are much tighter
        assert abs(report["cfo"] - CFO) < 1.5e-4
        assert abs(report["snr_db"] - SNR_DB) < 1.5
    assert [n["tokencom:seq"] for n in notes] == list(range(len(notes) // 2)) * 2
    assert [n["tokencom:message_id"] for n in notes] == [40] * (len(notes) // 2) + \
        [41] * (len(notes) // 2)


#: Report keys a replay must reproduce exactly, and those it must match to
#: float precision (the time of day and the latency naturally differ).
REPLAY_EXACT = ("message_id", "modality", "recovery", "received_text", "received_text_raw",
                "packets_received", "packets_sent", "packets_redecoded", "failed_packets_used",
                "tokens_sent", "exact", "exact_raw", "pdus_rejected", "first_sample",
                "channel_uses", "mcs", "token_error_rates_from")
REPLAY_CLOSE = ("snr_db", "cfo", "cfo_hz", "token_error_rate", "token_error_rate_raw",
                "token_erasure_rate", "expected_token_error_rate")


@pytest.mark.timeout(60)
def test_replay_reproduces_the_messages_and_metrics(live):
    out = live["tmp"] / "replay.json"
    result = subprocess.run(
        [sys.executable, "-m", "tokencom_sdr.cli", "rx", "--replay",
         str(recording_paths(live["record"])[1]), "--expect", SONNET_18, "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=50)
    assert result.returncode == 0, result.stderr
    replayed = json.loads(out.read_text())
    assert len(replayed) == len(live["reports"]) == 2
    for got, want in zip(replayed, live["reports"]):
        assert {k: got[k] for k in REPLAY_EXACT} == {k: want[k] for k in REPLAY_EXACT}
        for key in REPLAY_CLOSE:
            assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key
    assert SONNET_18.splitlines()[0] in result.stdout


@pytest.mark.timeout(60)
def test_validation_catches_corrupted_data(live, tmp_path):
    data, meta = recording_paths(live["record"])
    copy_data, copy_meta = tmp_path / "copy.sigmf-data", tmp_path / "copy.sigmf-meta"
    raw = bytearray(data.read_bytes())
    raw[100] ^= 0xFF  # one flipped byte: the stored SHA-512 no longer matches
    copy_data.write_bytes(bytes(raw))
    copy_meta.write_text(meta.read_text())
    with pytest.raises(RecordingError, match="not a valid SigMF recording"):
        validate_recording(copy_meta)
    copy_data.unlink()
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(copy_meta)


@pytest.mark.timeout(30)
def test_unsupported_datatype_is_refused(tmp_path):
    (tmp_path / "x.sigmf-data").write_bytes(b"\0" * 64)
    (tmp_path / "x.sigmf-meta").write_text(json.dumps(
        {"global": {"core:datatype": "ru8", "core:sample_rate": 1e6, "core:version": "1.0.0"},
         "captures": [], "annotations": []}))
    with pytest.raises(RecordingError, match="'ru8' is not supported"):
        read_recording(tmp_path / "x.sigmf-meta")


@pytest.mark.timeout(60)
def test_tx_recording_has_exact_packet_annotations_and_replays(tmp_path):
    class Collect:
        def __init__(self):
            self.chunks = []

        def send(self, iq):
            self.chunks.append(iq)

        def close(self, interrupted=False):
            pass

    profile = load_profile("zmq")
    text = "Recorded at the transmitter, annotated packet by packet."
    sink = Collect()
    record = tmp_path / "tx.sigmf-data"
    summary = run_transmitter(profile, make_messages(text_frame(text), 2, 7), 0.0, record,
                              log=lambda m: None, sink=sink)
    validate_recording(record)
    samples, info = read_recording(record)
    assert np.array_equal(samples, np.concatenate(sink.chunks))
    assert len(info.annotations) == summary["packets"]
    meta = json.loads(recording_paths(record)[1].read_text())
    assert meta["global"]["tokencom:direction"] == "tx"
    reports = run_receiver(RxFlowgraph(ArraySource(samples), profile), profile,
                           RxOptions(expected=Expected(text=text), stream=_Quiet()), finite=True)
    assert [(r["message_id"], r["exact"]) for r in reports] == [(7, True), (8, True)]


@pytest.mark.timeout(60)
def test_replay_through_a_simulated_fading_channel(live):
    """``rx --replay`` with the moving-channel options: the recording goes
    through gr-channels' ETU fader at the recording's sample rate, and the
    report carries the channel diagnostics."""
    out = live["tmp"] / "faded.json"
    result = subprocess.run(
        [sys.executable, "-m", "tokencom_sdr.cli", "rx", "--replay", str(recording_paths(live["record"])[1]),
         "--channel", "etu", "--doppler", "70", "--snr", "25", "--expect", SONNET_18, "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=50)
    assert result.returncode == 0, result.stderr
    reports = json.loads(out.read_text())
    assert reports and all(r["evm_db"] is not None and r["drift_db"] is not None for r in reports)
    assert "EVM" in result.stdout and "drift" in result.stdout
    assert any(r["packets_received"] > 0 for r in reports)
