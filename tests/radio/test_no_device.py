"""Radio code paths without a radio.

* A Pluto at ``ip:127.0.0.1`` (nothing listens there: the connection is
  refused on the loopback interface) and a USRP with ``type=b200`` (UHD looks
  on USB only) must fail fast with one clear line naming the device, the
  address and what to check; never a traceback.
* The exceptions the drivers really raise (pyadi-iio's bare Exception,
  gr-iio's and gr-uhd's RuntimeError) are recognised.
* The TX sinks' framing is checked with the radio sink swapped for a vector
  sink: Pluto padding to whole IIO buffers, USRP tx_sob/tx_eob per message.

Nothing here contacts an address other than 127.0.0.1.
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from tokencom_sdr.radio.errors import RadioUnavailableError, is_no_device_error, radio_unavailable
from tokencom_sdr.radio.pluto import check_pluto_context, make_pluto_sink, make_pluto_source, \
    pad_to_buffer
from tokencom_sdr.radio.profile import apply_overrides, load_profile

REPO = Path(__file__).resolve().parents[2]
LOCAL_PLUTO = "ip:127.0.0.1"


def _cli(*args, timeout=40):
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "tokencom_sdr.cli", *args], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    return result, time.monotonic() - start


def _error_lines(stderr: str):
    return [line for line in stderr.splitlines() if line.startswith("tokencom: error:")]


@pytest.mark.timeout(30)
def test_pluto_context_check_fails_fast_and_clearly():
    start = time.monotonic()
    with pytest.raises(RadioUnavailableError) as caught:
        check_pluto_context(LOCAL_PLUTO)
    assert time.monotonic() - start < 5.0
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("PlutoSDR not available at 'ip:127.0.0.1'")
    assert "Connection refused" in message
    assert "iio_info -s" in message
    assert caught.value.device == "pluto" and caught.value.address == LOCAL_PLUTO


@pytest.mark.timeout(30)
@pytest.mark.parametrize("make", [make_pluto_source, make_pluto_sink])
def test_pluto_blocks_raise_radio_unavailable(make):
    profile = apply_overrides(load_profile("pluto"), args=LOCAL_PLUTO)
    with pytest.raises(RadioUnavailableError, match="PlutoSDR not available at 'ip:127.0.0.1'"):
        make(profile)


@pytest.mark.timeout(30)
def test_usrp_without_device_raises_radio_unavailable():
    from tokencom_sdr.radio.usrp import make_usrp_sink, make_usrp_source

    profile = load_profile("usrp_b210")
    assert profile.args == "type=b200"  # USB discovery only
    for make in (make_usrp_source, make_usrp_sink):
        start = time.monotonic()
        with pytest.raises(RadioUnavailableError) as caught:
            make(profile)
        assert time.monotonic() - start < 10.0
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith("USRP not available at 'type=b200'")
        assert "No devices found" in message
        assert "uhd_find_devices" in message


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", [
    ["rx", "--radio", "pluto", "-a", LOCAL_PLUTO, "--duration", "1"],
    ["tx", "--radio", "pluto", "-a", LOCAL_PLUTO, "--text", "hello"],
    ["tx", "--radio", "usrp_b210", "--text", "hello"],
    ["rx", "--radio", "usrp_b210", "--duration", "1"],
], ids=["pluto-rx", "pluto-tx", "usrp-tx", "usrp-rx"])
def test_cli_without_device_prints_one_clear_line(command):
    result, elapsed = _cli(*command)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = _error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    device = "PlutoSDR" if "pluto" in command else "USRP"
    assert errors[0].startswith(f"tokencom: error: {device} not available at ")
    assert "Check:" in errors[0]
    assert elapsed < 20.0  # interpreter start included; the device check itself is milliseconds


@pytest.mark.timeout(30)
def test_pyadi_no_device_exception_is_recognised():
    adi = pytest.importorskip("adi", reason="pyadi-iio is not installed")
    with pytest.raises(Exception) as caught:
        adi.Pluto(LOCAL_PLUTO)
    # pyadi-iio raises a bare Exception, nothing more specific.
    assert type(caught.value) is Exception
    assert is_no_device_error(caught.value)
    error = radio_unavailable("pluto", LOCAL_PLUTO, caught.value)
    assert str(error).startswith("PlutoSDR not available at 'ip:127.0.0.1': ")


def test_driver_errors_are_classified():
    uhd_error = RuntimeError("LookupError: KeyError: No devices found for ----->\n"
                             "Device Address:\n    type: b200\n")
    for error in (RuntimeError("Unable to create context"), RuntimeError("Device not found"),
                  LookupError("No devices found"), ConnectionRefusedError(111, "refused"),
                  Exception("No device found"), uhd_error):
        assert is_no_device_error(error), repr(error)
    # Programming or configuration errors keep their traceback.
    for error in (ValueError("bad"), TypeError("bad"), Exception("something else"),
                  RuntimeError("buffer overflow in work()")):
        assert not is_no_device_error(error), repr(error)
    line = str(radio_unavailable("usrp", "type=b200", uhd_error))
    assert "\n" not in line and "Device Address: type: b200" in line


@pytest.mark.timeout(30)
def test_zmq_address_errors_are_clear():
    from tokencom_sdr.radio.zmq_radio import ZmqIqSender, make_pull_source

    with pytest.raises(RadioUnavailableError, match="needs the TX's actual port"):
        make_pull_source("tcp://127.0.0.1:0")
    first = ZmqIqSender("tcp://127.0.0.1:0", drain_timeout_s=0.1)
    try:
        with pytest.raises(RadioUnavailableError, match="cannot bind"):
            ZmqIqSender(first.endpoint)
        # Nobody connects: send() gives up after wait_timeout_s with advice.
        first.wait_timeout_s = 0.2
        with pytest.raises(RadioUnavailableError, match="no receiver connected within 0.2 s"):
            first.send(np.zeros(10, dtype=np.complex64))
    finally:
        first.close()


def test_pad_to_buffer():
    iq = np.ones(1000, dtype=np.complex64)
    padded = pad_to_buffer(iq, padding=4096, buffer_size=4096)
    assert len(padded) == 8192  # 1000 + 4096 rounded up to whole buffers
    assert np.all(padded[:1000] == 1) and np.all(padded[1000:] == 0)
    assert len(pad_to_buffer(iq, 0, 1000)) == 1000


@pytest.mark.timeout(60)
def test_pluto_tx_sink_sends_whole_buffers_and_zero_fills():
    """The Pluto TX path with the gr-iio sink swapped for a vector sink."""
    from tokencom_sdr.app.tx import make_messages, message_iq, text_frame
    from tokencom_sdr.radio.pluto import PlutoTxSink

    profile = apply_overrides(load_profile("pluto"), rate="2.5M")
    profile.buffer_size, profile.burst_padding = 4096, 4096
    vector = blocks.vector_sink_c()
    throttle = blocks.throttle(gr.sizeof_gr_complex, 2e6)  # stands in for the DAC clock
    hier = gr.hier_block2("fake_sink", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                          gr.io_signature(0, 0, 0))
    hier.connect(hier, throttle, vector)
    sink = PlutoTxSink(profile, log=lambda m: None, sink=hier)
    message = next(make_messages(text_frame("over the air, in whole buffers"), 1))
    iq, _ = message_iq(message.packets, profile)
    sink.send(iq)
    sink.close()
    out = np.asarray(vector.data())
    start = int(np.flatnonzero(out)[0])
    expected = pad_to_buffer(iq, profile.burst_padding, profile.buffer_size)
    assert len(expected) % profile.buffer_size == 0
    # The whole message arrived intact, and zeros kept flowing afterwards.
    assert np.array_equal(out[start:start + len(iq)], iq)
    assert len(out) >= start + len(expected)
    assert not np.any(out[start + len(iq):])


@pytest.mark.timeout(60)
def test_usrp_tx_sink_frames_each_message_with_sob_eob():
    from tokencom_sdr.app.tx import make_messages, message_iq, text_frame
    from tokencom_sdr.radio.usrp import UsrpTxSink

    profile = load_profile("usrp_b210")
    vector = blocks.vector_sink_c()
    sink = UsrpTxSink(profile, log=lambda m: None, sink=vector)
    lengths = []
    for message in make_messages(text_frame("one burst per message"), 2):
        iq, _ = message_iq(message.packets, profile)
        lengths.append(len(iq) + profile.burst_padding)
        sink.send(iq)
    sink.close()
    tags = sorted((t.offset, pmt.symbol_to_string(t.key)) for t in vector.tags())
    first, second = lengths
    assert tags == [(0, "tx_sob"), (first - 1, "tx_eob"),
                    (first, "tx_sob"), (first + second - 1, "tx_eob")]
    assert len(vector.data()) == first + second


@pytest.mark.timeout(30)
@pytest.mark.parametrize("radio", ["pluto", "usrp"])
def test_grc_radio_blocks_wire_the_token_chain_around_their_device(monkeypatch, radio):
    """The GRC radio blocks, with a stand-in for the device: the RX turns
    the device's samples into packet PDUs, and the TX puts PDUs on the air
    through its amplitude."""
    import time

    import pmt
    from gnuradio import blocks, gr

    from tokencom_sdr.gr.pdu import make_byte_pdu
    from tokencom_sdr.phy.modem import modulate
    from tokencom_sdr.gr import radio_blocks

    module = radio_blocks
    packet = b"radio block wiring"
    iq = modulate([packet], "qpsk-1/2")
    monkeypatch.setattr(module, f"make_{radio}_source",
                        lambda profile: blocks.vector_source_c(list(iq) + [0j] * 4000, False))
    sent = blocks.vector_sink_c()
    monkeypatch.setattr(module, f"make_{radio}_sink", lambda profile: sent)
    rx_block = module.PlutoTokenRx() if radio == "pluto" else module.UsrpTokenRx()
    tx_block = module.PlutoTokenTx(amplitude=0.5) if radio == "pluto" else module.UsrpTokenTx(amplitude=0.5)

    tb = gr.top_block("radio_block_wiring", catch_exceptions=False)
    tb.rx, tb.tx = rx_block, tx_block
    tb.pdus = blocks.message_debug(True)
    tb.samples, tb.tx_out = blocks.null_sink(gr.sizeof_gr_complex), blocks.null_sink(gr.sizeof_gr_complex)
    tb.connect(tb.rx, tb.samples)
    tb.connect(tb.tx, tb.tx_out)
    tb.msg_connect(tb.rx, "pdus", tb.pdus, "store")
    tb.start()
    try:
        tb.tx.tx.to_tagged_stream.to_basic_block()._post(pmt.intern("pdus"), make_byte_pdu(packet))
        deadline = time.time() + 10
        while (tb.pdus.num_messages() < 1 or len(sent.data()) < len(iq)) and time.time() < deadline:
            time.sleep(0.05)
    finally:
        tb.stop()
        tb.wait()
    assert bytes(pmt.u8vector_elements(pmt.cdr(tb.pdus.get_message(0)))) == packet
    on_air = np.asarray(sent.data())
    assert np.max(np.abs(on_air)) > 0 and np.max(np.abs(on_air)) <= 0.5 * np.max(np.abs(iq)) * 1.0001
