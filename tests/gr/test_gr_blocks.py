"""GNU Radio blocks and GRC: the TokenCom encoder/decoder PDU blocks, the
streaming OFDM transmitter, the block YAML and the example flowgraphs.

Every flowgraph test stops its top block in ``finally`` and carries a timeout:
an exception inside a GNU Radio thread would otherwise hang the run.
"""

import json
import os
import py_compile
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from tokencom_sdr.gr import (
    LoopbackChannel,
    OfdmBurstRx,
    OfdmStreamTx,
    TokenTextDecoder,
    TokenTextEncoder,
)
from tokencom_sdr.gr.pdu import make_byte_pdu, pmt_dict_to_python
from tokencom_sdr.gr.text_decoder import COMPLETE, SUPERSEDED, TIMEOUT
from tokencom_sdr.link import make_aggregation, packetize, parse_packet
from tokencom_sdr.phy.burst_mapping import burst_length
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.phy.modem import modulate
from tokencom_sdr.tokens.text_bpe import ERASED_MARKER

REPO = Path(__file__).resolve().parents[2]
BLOCKS_DIR = REPO / "blocks"
FLOWGRAPHS = sorted((REPO / "flowgraphs").glob("*.grc"))
GRCC = "/usr/bin/grcc"

TEXT = ("Token communication sends the tokens of large models over the air; "
        "lost packets become erasures that a context model can fill. Ünïcödé ✓")


def grcc(grc_file: Path, out_dir: Path) -> subprocess.CompletedProcess:
    """Compile a flowgraph headless, with our blocks on GRC's path. The venv's
    python runs grcc so that generated code imports venv packages."""
    env = dict(os.environ, GRC_BLOCKS_PATH=str(BLOCKS_DIR))
    return subprocess.run([sys.executable, GRCC, "-o", str(out_dir), str(grc_file)],
                          env=env, capture_output=True, text=True, timeout=60)


def packets_of(text, tokenizer, message_id=7, tokens_per_packet=4, aggregation="interleaved"):
    frame = tokenizer.encode_frame(text)
    agg = make_aggregation(aggregation, tokens_per_packet)
    return frame, agg, packetize(frame, message_id, agg)


def wait_until(predicate, timeout=10.0, step=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def stop(tb):
    tb.stop()
    tb.wait()


# ---------------------------------------------------------------- GRC / YAML
@pytest.mark.timeout(30)
def test_there_are_flowgraphs_to_compile():
    assert FLOWGRAPHS, "no flowgraphs/*.grc found"
    assert (REPO / "flowgraphs" / "loopback_text.grc") in FLOWGRAPHS


@pytest.mark.timeout(60)
@pytest.mark.parametrize("grc_file", FLOWGRAPHS, ids=[p.name for p in FLOWGRAPHS])
def test_grcc_compiles_flowgraph(grc_file, tmp_path):
    result = grcc(grc_file, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for generated in tmp_path.glob("*.py"):
        py_compile.compile(str(generated), doraise=True)


@pytest.mark.timeout(180)
def test_grcc_on_path_compiles_every_flowgraph_with_no_environment(tmp_path):
    """After the README's setup, plain ``grcc`` (the setup's wrapper, ahead of
    Debian's on PATH) finds the TokenCom blocks with no GRC_BLOCKS_PATH, from
    any directory; a flowgraph whose block is missing gets a message naming it."""
    import shutil

    env = {k: v for k, v in os.environ.items() if k != "GRC_BLOCKS_PATH"}
    grcc_on_path = shutil.which("grcc", path=env.get("PATH"))
    assert grcc_on_path, "grcc is not on PATH"
    result = subprocess.run([grcc_on_path, "-o", str(tmp_path), *map(str, FLOWGRAPHS)], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert {p.stem for p in tmp_path.glob("*.py")} == {p.stem for p in FLOWGRAPHS}
    broken = tmp_path / "broken.grc"
    text = (REPO / "flowgraphs" / "loopback_text.grc").read_text()
    broken.write_text(text.replace("id: tokencom_text_decoder", "id: tokencom_text_decodr"))
    result = subprocess.run([grcc_on_path, "-o", str(tmp_path), str(broken)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "tokencom_text_decodr" in result.stderr and "searched" in result.stderr


@pytest.mark.timeout(30)
def test_grc_loads_every_block_yaml():
    from gnuradio.grc.core.platform import Platform

    os.environ["GRC_BLOCKS_PATH"] = str(BLOCKS_DIR)
    try:
        platform = Platform(version=gr.version(),
                            version_parts=(gr.major_version(), gr.api_version(),
                                           gr.minor_version()),
                            prefs=gr.prefs())
        platform.build_library()
    finally:
        del os.environ["GRC_BLOCKS_PATH"]
    ids = {p.name[:-len(".block.yml")] for p in BLOCKS_DIR.glob("*.block.yml")}
    assert {"tokencom_text_encoder", "tokencom_text_decoder", "tokencom_image_encoder",
            "tokencom_image_decoder", "tokencom_ofdm_stream_tx", "tokencom_ofdm_rx",
            "tokencom_loopback_channel"} <= ids
    for block_id in ids:
        assert block_id in platform.blocks, f"GRC did not load {block_id}"
        assert platform.blocks[block_id].category == ["TokenCom"]  # '[TokenCom]' in yml


#: Runs a generated QT GUI flowgraph offscreen in its own process, as GRC
#: would, and writes its decoder's first message as JSON. (A process of its
#: own: Qt's widgets and GNU Radio's blocks must be torn down together, which
#: one test process that builds several flowgraphs cannot guarantee.)
_RUN_FLOWGRAPH = """
import importlib.util, json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PyQt5 import Qt
app = Qt.QApplication([])
path, name, kwargs, setters, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
spec = importlib.util.spec_from_file_location(name, path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
tb = getattr(module, name)(**kwargs)
for setter, value in setters.items():
    getattr(tb, setter)(value)
tb.start()
deadline = time.time() + 60
while tb.decoder.counters["messages_delivered"] < 1 and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.05)
tb.stop()
tb.wait()
record = dict(tb.decoder.messages[0]) if tb.decoder.messages else None
if record is not None:
    record = {k: v for k, v in record.items() if k not in ("image", "image_raw")}
    record["num_packets_sent"] = tb.encoder.sent[0]["num_packets"]
    record["samples_out"] = tb.tx.streamer.samples_out
    record["gap_len"] = tb.tx.streamer.gap_len
    record["decoder_recovery"] = tb.decoder.recovery
    record["channel_snr_db"] = tb.channel.snr_db
json.dump(record, open(out, "w"))
"""


def run_generated_flowgraph(name: str, out_dir: Path, kwargs: dict, setters: dict = None) -> dict:
    """Compile ``flowgraphs/<name>.grc`` and run it offscreen until its
    decoder delivers a message; return that message's record."""
    result = grcc(REPO / "flowgraphs" / f"{name}.grc", out_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    out = out_dir / "message.json"
    run = subprocess.run([sys.executable, "-c", _RUN_FLOWGRAPH, str(out_dir / f"{name}.py"), name,
                          json.dumps(kwargs), json.dumps(setters or {}), str(out)],
                         capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record is not None, "no message decoded:\n" + run.stderr[-3000:]
    return record


@pytest.mark.timeout(120)
def test_loopback_text_flowgraph_runs_headless_with_recovery(tmp_path):
    """The generated QT GUI flowgraph, run as GRC would (offscreen): the text
    arrives exactly through throttle, channel, RX and the decoder, whose
    recovery is on; the SNR slider's setter reaches the channel."""
    message = run_generated_flowgraph("loopback_text", tmp_path,
                                      {"text": TEXT, "initial_snr_db": 25.0},
                                      {"set_snr_db": 12.0})
    assert message["channel_snr_db"] == 12.0
    assert message["text"] == TEXT and message["recovery"] == message["decoder_recovery"] == "soft"
    assert message["reason"] == COMPLETE
    assert message["packets_received"] == message["packets_expected"] == \
        message["num_packets_sent"] > 1
    assert message["token_erasure_rate"] == 0.0
    # The transmitter kept streaming (zeros) after the last burst.
    assert message["samples_out"] > message["gap_len"] + 10_000


@pytest.mark.timeout(120)
def test_loopback_mobile_flowgraph_delivers_over_fast_fading(tmp_path):
    """The mobile example: ETU at 300 Hz of Doppler, a mobile MCS, and the
    receiver's channel tracking; the text arrives exactly at 20 dB."""
    message = run_generated_flowgraph("loopback_mobile", tmp_path, {"text": TEXT, "initial_snr_db": 20.0})
    assert message["channel_snr_db"] == 20.0
    assert message["text"] == TEXT and message["reason"] == COMPLETE


@pytest.mark.timeout(150)
def test_loopback_image_flowgraph_matches_the_loopback_cli(tmp_path):
    """loopback_image.grc headless: the bundled image crosses the channel and
    the decoder writes PNG files; its PSNR is within 1 dB of
    ``tokencom loopback --image`` at the same settings, and context recovery
    is on."""
    from tokencom_sdr.app.loopback import LinkConfig, run_image_loopback
    from tokencom_sdr.data.image_data import load_image_source, read_image_file
    from tokencom_sdr.metrics.image_quality import psnr

    message = run_generated_flowgraph("loopback_image", tmp_path, {
        "image": "astronaut", "max_side": 96, "initial_snr_db": 20.0,
        "out_dir": str(tmp_path / "pngs")})
    original = load_image_source("astronaut", 96)
    assert message["recovery"] == message["decoder_recovery"] == "context"
    assert message["packets_received"] == message["packets_expected"] > 1
    assert (message["height"], message["width"]) == original.shape[:2]
    recovered = read_image_file(message["recovered_file"])
    assert Path(message["received_file"]).is_file()
    flowgraph_psnr = psnr(original, recovered)
    cli = run_image_loopback(original, LinkConfig(snr_db=20.0, cfo=0.01, sco_ppm=20.0,
                                                  taps=[1.0, 0.3j, 0.1], seed=1))
    assert abs(flowgraph_psnr - cli["psnr_db"]) <= 1.0
    assert flowgraph_psnr > 20.0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("option, value, attribute", [("id_search", 4, "search_candidates"),
                                                      ("id_refine", 2, "refine")])
def test_image_encoder_block_sends_the_transmitters_chosen_ids(one_torch_thread, option, value,
                                                               attribute):
    from tokencom_sdr.data.image_data import load_image
    from tokencom_sdr.gr import TokenImageEncoder
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    crop = load_image("peppers")[100:164, 100:164]
    choosing = ImageTokenizer.default("standard")
    setattr(choosing, attribute, value)
    frame = TokenImageEncoder(**{option: value}).to_frame(crop)
    assert np.array_equal(frame.ids, choosing.encode(crop).reshape(-1))
    assert not np.array_equal(frame.ids, TokenImageEncoder().to_frame(crop).ids)
    with pytest.raises(ValueError, match=f"{option} must be >= 0"):
        TokenImageEncoder(**{option: -1})


# ------------------------------------------------------------ Text Encoder
def _run_encoder(encoder, expected_pdus, timeout=10.0, post=()):
    tb = gr.top_block("encoder_test", catch_exceptions=False)
    tb.encoder = encoder
    tb.sink = blocks.message_debug(False)
    tb.msg_connect(tb.encoder, "pdus", tb.sink, "store")
    tb.start()
    try:
        for msg in post:
            tb.encoder.to_basic_block()._post(pmt.intern("text"), msg)
        wait_until(lambda: tb.sink.num_messages() >= expected_pdus, timeout)
        time.sleep(0.1)  # nothing more may come
    finally:
        stop(tb)
    return [tb.sink.get_message(i) for i in range(tb.sink.num_messages())]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("aggregation,tokens_per_packet", [("interleaved", 4),
                                                           ("sequential", 5)])
def test_encoder_emits_valid_packets(tokenizer, aggregation, tokens_per_packet):
    frame = tokenizer.encode_frame(TEXT)
    expected = make_aggregation(aggregation, tokens_per_packet).num_packets(len(frame))
    encoder = TokenTextEncoder(TEXT, tokens_per_packet, aggregation, first_message_id=42)
    pdus = _run_encoder(encoder, expected)
    assert len(pdus) == expected > 1
    packets = [parse_packet(bytes(pmt.u8vector_elements(pmt.cdr(p)))) for p in pdus]
    assert [p.seq for p in packets] == list(range(expected))
    assert {p.message_id for p in packets} == {42}
    assert {p.num_packets for p in packets} == {expected}
    metas = [pmt_dict_to_python(pmt.car(p)) for p in pdus]
    assert metas[0] == {"message_id": 42, "seq": 0, "num_packets": expected}
    ids = np.zeros(len(frame), dtype=np.int64)
    for p in packets:
        ids[p.positions.to_array()] = p.token_ids
    assert np.array_equal(ids, frame.ids)
    assert encoder.sent[0]["message_id"] == 42


@pytest.mark.timeout(30)
def test_encoder_text_port_repeats_and_id_wrap(tokenizer):
    n = len(packets_of("ab", tokenizer, tokens_per_packet=32)[2])
    assert n == 1
    encoder = TokenTextEncoder("ab", 32, repeat=3, interval=0.05, first_message_id=65534)
    pdu_text = make_byte_pdu("ünï".encode("utf-8"))
    pdus = _run_encoder(encoder, 5, post=[pmt.intern("cd"), pdu_text])
    packets = [parse_packet(bytes(pmt.u8vector_elements(pmt.cdr(p)))) for p in pdus]
    assert len(packets) == 5  # 3 repetitions + 2 texts from the port
    # Each message has its own id, wrapping from 65535 to 0.
    assert sorted(p.message_id for p in packets) == [0, 1, 2, 65534, 65535]
    assert sorted(m["text"] for m in encoder.sent) == ["ab", "ab", "ab", "cd", "ünï"]


@pytest.mark.timeout(10)
def test_encoder_rejects_bad_parameters():
    with pytest.raises(ValueError):
        TokenTextEncoder("x", 0)
    with pytest.raises(ValueError):
        TokenTextEncoder("x", 8, aggregation="random")
    with pytest.raises(ValueError):
        TokenTextEncoder("x", 8, interval=-1)


# ------------------------------------------------------------ Text Decoder
def _pdu(packet: bytes):
    return make_byte_pdu(packet, {"packet_num": 0})


@pytest.mark.timeout(30)
def test_decoder_lost_packets_become_erasures_after_timeout(tokenizer):
    frame, agg, packets = packets_of(TEXT, tokenizer, message_id=7, tokens_per_packet=4)
    assert len(packets) >= 4
    lost = {1, 3}
    decoder = TokenTextDecoder(timeout=0.2, recovery="none")
    try:
        t0 = time.monotonic()
        for seq, packet in enumerate(packets):
            if seq not in lost:
                decoder.handle_pdu(_pdu(packet))
        assert not decoder.messages  # incomplete: waits for the timeout
        assert decoder.wait_for_messages(1, timeout=5.0)
        assert time.monotonic() - t0 >= 0.19
    finally:
        decoder.stop()
    [message] = decoder.messages
    erased = sum(len(agg.describe(len(frame))[s].to_array()) for s in lost)
    assert message["reason"] == TIMEOUT and not message["complete"]
    assert message["message_id"] == 7
    assert message["packets_expected"] == len(packets)
    assert message["packets_received"] == len(packets) - len(lost)
    assert message["packet_error_rate"] == pytest.approx(len(lost) / len(packets))
    assert message["token_erasure_rate"] == pytest.approx(erased / len(frame))
    assert message["tokens"] == len(frame)
    assert message["text"].count(ERASED_MARKER) == erased
    assert message["text_raw"] == message["text"] and message["recovery"] == "none"
    assert message["pdus_rejected"] == 0


@pytest.mark.timeout(60)
def test_decoder_recovers_lost_tokens_as_the_receiver_library_does(tokenizer):
    """By default the block restores the tokens of lost packets with the
    context model: its output is the receiver library's, for the same packets."""
    from tokencom_sdr.link.receiver import TokenReceiver

    frame, agg, packets = packets_of(TEXT, tokenizer, message_id=7, tokens_per_packet=4)
    arrived = [p for seq, p in enumerate(packets) if seq not in {1, 3}]
    decoder = TokenTextDecoder(timeout=0.2)
    try:
        for packet in arrived:
            decoder.handle_pdu(_pdu(packet))
        assert decoder.wait_for_messages(1, timeout=20.0)
    finally:
        decoder.stop()
    [message] = decoder.messages
    library = TokenReceiver("soft", text_tokenizer=tokenizer).receive(arrived)
    assert message["recovery"] == "soft"
    assert message["text"] == library.text and message["text_raw"] == library.text_raw
    assert ERASED_MARKER in message["text_raw"] and ERASED_MARKER not in message["text"]
    assert message["expected_token_error_rate"] < message["token_erasure_rate"]


@pytest.mark.timeout(30)
def test_decoder_complete_message_is_delivered_at_once_on_its_port(tokenizer):
    """In a flowgraph: shuffled packets and a duplicate; the output PDU
    carries the text and its metrics."""
    _, _, packets = packets_of(TEXT, tokenizer, message_id=9, tokens_per_packet=6)
    tb = gr.top_block("decoder_test", catch_exceptions=False)
    tb.decoder = TokenTextDecoder(timeout=30.0)
    tb.sink = blocks.message_debug(False)
    tb.msg_connect(tb.decoder, "text", tb.sink, "store")
    tb.start()
    try:
        order = list(reversed(range(len(packets)))) + [0]
        for seq in order:
            tb.decoder.to_basic_block()._post(pmt.intern("pdus"), _pdu(packets[seq]))
        assert wait_until(lambda: tb.sink.num_messages() >= 1, 10.0)
    finally:
        stop(tb)
    msg = tb.sink.get_message(0)
    assert bytes(pmt.u8vector_elements(pmt.cdr(msg))).decode("utf-8") == TEXT
    meta = pmt_dict_to_python(pmt.car(msg))
    assert meta["message_id"] == 9 and meta["reason"] == COMPLETE and meta["complete"]
    assert meta["packets_received"] == meta["packets_expected"] == len(packets)
    assert meta["packet_error_rate"] == 0.0 and meta["token_erasure_rate"] == 0.0
    assert meta["pdus_rejected"] == 0
    # The trailing duplicate of a delivered message is dropped, not a new message.
    assert tb.sink.num_messages() == 1 and tb.decoder.counters["packets_late"] == 1


@pytest.mark.timeout(30)
def test_decoder_counts_and_never_delivers_corrupt_pdus(tokenizer):
    _, _, packets = packets_of(TEXT, tokenizer, message_id=3, tokens_per_packet=8)
    decoder = TokenTextDecoder(timeout=0.1)
    try:
        corrupt = []
        for i, packet in enumerate(packets):
            damaged = bytearray(packet)
            damaged[(7 * i + 5) % len(damaged)] ^= 0x10
            corrupt.append(_pdu(bytes(damaged)))
        corrupt.append(_pdu(packets[0][:5]))                   # truncated
        corrupt.append(_pdu(b""))                              # empty
        corrupt.append(pmt.intern("not a pdu"))                # wrong type
        corrupt.append(pmt.cons(pmt.make_dict(), pmt.init_f32vector(2, [1.0, 2.0])))
        for msg in corrupt:
            decoder.handle_pdu(msg)
        time.sleep(0.3)  # > timeout: nothing pending, so nothing delivered
        assert decoder.messages == []
        assert decoder.pending_message_ids == []
        # Byte PDUs that fail the CRC wait for their message; others are malformed.
        assert decoder.counters["bursts_failed"] == len(packets) + 2
        assert decoder.counters["pdus_malformed"] == 2
        for packet in packets:
            decoder.handle_pdu(_pdu(packet))
        assert decoder.wait_for_messages(1, timeout=5.0)
    finally:
        decoder.stop()
    [message] = decoder.messages
    assert message["text"] == TEXT and message["reason"] == COMPLETE
    # The damaged copies (their message id still close to 3) were claimed by
    # the message, and left unused: every packet arrived good.
    assert message["pdus_rejected"] == len(packets)


@pytest.mark.timeout(30)
def test_decoder_newer_message_flushes_older(tokenizer):
    _, _, old = packets_of(TEXT, tokenizer, message_id=65535, tokens_per_packet=8)
    _, _, new = packets_of("second message", tokenizer, message_id=0, tokens_per_packet=1)
    assert len(new) > 1
    decoder = TokenTextDecoder(timeout=60.0)  # only superseding can deliver in time
    try:
        decoder.handle_pdu(_pdu(old[0]))
        decoder.handle_pdu(_pdu(old[2]))
        assert decoder.messages == []
        decoder.handle_pdu(_pdu(new[0]))
        assert len(decoder.messages) == 1  # delivered synchronously
        first = decoder.messages[0]
        assert first["message_id"] == 65535 and first["reason"] == SUPERSEDED
        assert first["packets_received"] == 2 and first["packets_expected"] == len(old)
        assert ERASED_MARKER in first["text_raw"] and first["token_erasure_rate"] > 0
        assert ERASED_MARKER not in first["text"]  # restored by the context model
        decoder.handle_pdu(_pdu(old[1]))  # late packet of the delivered message
        assert decoder.counters["packets_late"] == 1
        for packet in new[1:]:
            decoder.handle_pdu(_pdu(packet))
        assert decoder.wait_for_messages(2, timeout=5.0)
    finally:
        decoder.stop()
    second = decoder.messages[1]
    assert second["message_id"] == 0 and second["text"] == "second message"
    assert second["reason"] == COMPLETE


# ------------------------------------------------------- Streaming OFDM TX
@pytest.mark.timeout(30)
def test_stream_tx_emits_a_lone_burst_whole_then_zeros(tokenizer):
    """One PDU and nothing after it: the burst and its whole gap come out
    (nothing held back), identical to the finite transmitter's, and the
    stream continues with zeros."""
    _, _, packets = packets_of("lone", tokenizer, tokens_per_packet=32)
    reference = modulate(packets[:1], "qpsk")
    assert len(reference) == burst_length(len(packets[0]), "qpsk", OfdmParams())

    tb = gr.top_block("stream_tx_test", catch_exceptions=False)
    tb.tx = OfdmStreamTx("qpsk")
    tb.throttle = blocks.throttle(gr.sizeof_gr_complex, 2e6, True)
    tb.sink = blocks.vector_sink_c()
    tb.connect(tb.tx, tb.throttle, tb.sink)
    tb.start()
    try:
        tb.tx.to_tagged_stream.to_basic_block()._post(pmt.intern("pdus"),
                                                      make_byte_pdu(packets[0]))
        assert wait_until(lambda: tb.tx.streamer.bursts_in == 1, 5.0)
        assert wait_until(lambda: len(tb.sink.data()) > 50_000, 10.0)
    finally:
        stop(tb)
    out = np.asarray(tb.sink.data(), dtype=np.complex64)
    start = int(np.flatnonzero(np.abs(out) > 1e-6)[0])
    n = len(reference)
    np.testing.assert_allclose(out[start:start + n], reference, atol=1e-5)
    assert not np.any(out[start + n:])  # zeros after the gap: one burst only
    assert np.all(out[:start] == 0)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("idle_fill", [True, False])
def test_stream_tx_lone_message_fully_received(idle_fill):
    """A single short message (its last burst the last thing ever sent)
    crosses the impaired channel completely, in both output modes."""
    text = "lone message, then silence"
    tb = gr.top_block("lone_message", catch_exceptions=False)
    tb.encoder = TokenTextEncoder(text, 4)
    tb.tx = OfdmStreamTx("qpsk", idle_fill=idle_fill)
    tb.throttle = blocks.throttle(gr.sizeof_gr_complex, 1e6, True)
    tb.channel = LoopbackChannel(25.0, 0.01, 20.0, [1.0, 0.3j, 0.1], seed=3)
    tb.rx = OfdmBurstRx(0.5)
    tb.decoder = TokenTextDecoder(timeout=30.0)  # only completeness delivers in time
    tb.msg_connect(tb.encoder, "pdus", tb.tx, "pdus")
    tb.connect(tb.tx, tb.throttle, tb.channel, tb.rx)
    tb.msg_connect(tb.rx, "pdus", tb.decoder, "pdus")
    tb.start()
    try:
        assert tb.decoder.wait_for_messages(1, timeout=15.0)
    finally:
        stop(tb)
    [message] = tb.decoder.messages
    assert message["reason"] == COMPLETE and message["text"] == text
    assert message["packets_expected"] > 1


@pytest.mark.timeout(30)
def test_rx_publishes_equalised_symbols_for_the_constellation_display():
    """The RX's "symbols" port (what the radio flowgraphs' constellation sink
    shows) carries each burst's equalised payload symbols, on the MCS grid."""
    from tokencom_sdr.phy.qam import constellation

    tb = gr.top_block("symbols_port", catch_exceptions=False)
    tb.encoder = TokenTextEncoder("constellation check, sixteen-QAM", 4)
    tb.tx = OfdmStreamTx("16qam-1/2")
    tb.throttle = blocks.throttle(gr.sizeof_gr_complex, 1e6, True)
    tb.channel = LoopbackChannel(30.0, 0.004, 0.0, None, seed=5)
    tb.rx = OfdmBurstRx(0.3)
    tb.symbols = blocks.message_debug(True)
    tb.msg_connect(tb.encoder, "pdus", tb.tx, "pdus")
    tb.connect(tb.tx, tb.throttle, tb.channel, tb.rx)
    tb.msg_connect(tb.rx, "symbols", tb.symbols, "store")
    tb.start()
    try:
        deadline = time.time() + 10
        while tb.symbols.num_messages() < 2 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        stop(tb)
    assert tb.symbols.num_messages() >= 2
    points, _ = constellation("16qam")
    for i in range(tb.symbols.num_messages()):
        symbols = np.array(pmt.c32vector_elements(pmt.cdr(tb.symbols.get_message(i))))
        assert symbols.size % 48 == 0 and symbols.size > 0
        nearest = np.min(np.abs(symbols[:, None] - points[None, :]), axis=1)
        assert np.median(nearest) < 0.1  # 30 dB: tight clusters on the 16-QAM grid


@pytest.mark.timeout(10)
def test_every_block_imports_from_the_gr_package_only():
    """GRC blocks are thin wrappers over tokencom_sdr.gr: no block yml reaches
    into the layers below it."""
    import yaml

    for path in BLOCKS_DIR.glob("*.block.yml"):
        templates = yaml.safe_load(path.read_text())["templates"]
        imports = [line.split()[1] for line in templates["imports"].splitlines() if line.strip()]
        assert imports and all(name == "tokencom_sdr.gr" or name.startswith("tokencom_sdr.gr.")
                               for name in imports), (path.name, imports)
        assert "tokencom_sdr.gr" in templates["make"], path.name
