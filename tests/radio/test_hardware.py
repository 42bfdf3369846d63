"""Tests on real radios. Marked ``hardware``; each skips unless a device answers.

Which devices are tried (no network discovery, so nothing but the named
address or the local USB bus is ever contacted):

* Pluto: ``$TOKENCOM_PLUTO_URI`` if set (e.g. ``ip:192.168.2.1``), otherwise
  the first Pluto found by libiio's USB scan.
* USRP: ``$TOKENCOM_USRP_ARGS`` if set (e.g. ``addr=192.168.40.2``),
  otherwise ``type=b200`` (UHD looks on USB only).

The over-the-air tests send on the profile's frequency (2.45 GHz) at the
lowest useful power: connect TX and RX of the same radio with a cable and a
30 dB attenuator, or put the antennas close together.

Run them with ``pytest -m hardware tests/radio/test_hardware.py``.
"""

import threading
import time

import numpy as np
import pytest

from tokencom_sdr.radio.errors import RadioUnavailableError
from tokencom_sdr.radio.profile import apply_overrides, load_profile

pytestmark = pytest.mark.hardware

MESSAGE = "Over the air: shall I compare thee to a summer's day?"


def _pluto_uri():
    from tokencom_sdr.radio.pluto import check_pluto_context, pluto_uri_from_env, scan_usb_plutos

    uri = pluto_uri_from_env()
    if uri is None:
        found = scan_usb_plutos()
        if not found:
            pytest.skip("no Pluto on USB and TOKENCOM_PLUTO_URI is not set")
        uri = found[0]
    try:
        check_pluto_context(uri)
    except RadioUnavailableError as error:
        pytest.skip(str(error))
    return uri


def _usrp_profile():
    from tokencom_sdr.radio.usrp import make_usrp_source, usrp_args_from_env

    profile = apply_overrides(load_profile("usrp_b210"), args=usrp_args_from_env("type=b200"))
    try:
        make_usrp_source(profile)
    except RadioUnavailableError as error:
        pytest.skip(str(error))
    return profile


def _capture(source, n: int) -> np.ndarray:
    from gnuradio import blocks, gr

    tb = gr.top_block()
    head = blocks.head(gr.sizeof_gr_complex, n)
    sink = blocks.vector_sink_c()
    tb.connect(source, head, sink)
    tb.run()
    return np.asarray(sink.data())


def _over_the_air(profile, tx_sink):
    """Receive on the radio while the TX sends MESSAGE three times."""
    from tokencom_sdr.app.rx import RxFlowgraph, RxOptions, run_receiver
    from tokencom_sdr.app.rx_report import Expected
    from tokencom_sdr.app.tx import make_messages, message_iq, text_frame
    from tokencom_sdr.radio.backends import get_backend

    flowgraph = RxFlowgraph(get_backend(profile.backend).make_source(profile), profile)
    result = {}

    def receive():
        result["reports"] = run_receiver(
            flowgraph, profile, RxOptions(count=1, duration_s=15, expected=Expected(text=MESSAGE)))

    thread = threading.Thread(target=receive)
    thread.start()
    time.sleep(1.0)  # let the RX settle (AGC, DC tracking)
    for message in make_messages(text_frame(MESSAGE), repeat=3):
        tx_sink.send(message_iq(message.packets, profile)[0])
        time.sleep(0.3)
    tx_sink.close()
    thread.join(30)
    reports = result.get("reports", [])
    assert reports, "nothing decoded over the air"
    assert reports[0]["exact"], reports[0]["received_text"]
    assert reports[0]["snr_db"] is not None and reports[0]["snr_db"] > 5


@pytest.mark.timeout(60)
def test_pluto_receives_samples():
    from tokencom_sdr.radio.pluto import make_pluto_source

    profile = apply_overrides(load_profile("pluto"), args=_pluto_uri())
    samples = _capture(make_pluto_source(profile), 200_000)
    assert len(samples) == 200_000
    assert np.any(samples != 0)
    assert np.all(np.abs(samples) <= 1.5)  # fc32 is scaled to about +-1


@pytest.mark.timeout(90)
def test_pluto_over_the_air_to_itself():
    from tokencom_sdr.radio.pluto import PlutoTxSink

    profile = apply_overrides(load_profile("pluto"), args=_pluto_uri())
    _over_the_air(profile, PlutoTxSink(profile, log=print))


@pytest.mark.timeout(60)
def test_usrp_receives_samples():
    from tokencom_sdr.radio.usrp import make_usrp_source

    profile = _usrp_profile()
    samples = _capture(make_usrp_source(profile), 200_000)
    assert len(samples) == 200_000 and np.any(samples != 0)


@pytest.mark.timeout(90)
def test_usrp_over_the_air_to_itself():
    from tokencom_sdr.radio.usrp import UsrpTxSink

    profile = _usrp_profile()
    _over_the_air(profile, UsrpTxSink(profile, log=print))
