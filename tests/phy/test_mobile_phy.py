"""Moving channels: gr-channels' fading and front-end models in the software
channel, the receiver's channel tracking, the mobile MCSs with midambles and
the per-burst diagnostics, through the real GNU Radio chain."""

import json
import math

import numpy as np
import pytest
from scipy.special import j0

from tokencom_sdr.channel import FadingSpec, FrontEndSpec, LoopbackChannel
from tokencom_sdr.experiments.per_sweep import random_packets
from tokencom_sdr.phy.burst_decoding import doppler_from_change
from tokencom_sdr.phy.burst_mapping import (burst_symbols, data_ofdm_symbols, midamble_rows, midamble_symbols,
                                            payload_ofdm_symbols)
from tokencom_sdr.phy.mcs import MCS_NAMES, get_mcs
from tokencom_sdr.phy.modem import run_phy_loopback
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.phy.qam import demap_maxlog, map_bits, nearest_points, soft_symbols
from tokencom_sdr.phy.received_burst import ReceivedBurst

pytestmark = pytest.mark.timeout(300)

PARAMS = OfdmParams()


def delivered(result, sent) -> int:
    sent_set = set(sent)
    return sum(1 for burst in result.received if burst.data in sent_set and burst.fec_ok)


# --- the channel models ----------------------------------------------------

def test_3gpp_profiles_have_unit_power_and_their_delays_in_samples():
    delays, magnitudes = FadingSpec("etu", 300.0, 2e6).delays_and_magnitudes()
    assert np.sum(magnitudes ** 2) == pytest.approx(1.0)
    assert delays.max() == pytest.approx(10.0)  # 5 us at 2 MS/s
    epa_delays, _ = FadingSpec("epa", 5.0, 1e6).delays_and_magnitudes()
    assert epa_delays.max() == pytest.approx(0.41)


@pytest.mark.parametrize("kwargs, message", [
    (dict(profile="hst"), "unknown delay profile"),
    (dict(doppler_hz=1e5), "doppler_hz"),
    (dict(doppler_hz=-1.0), "doppler_hz"),
    (dict(sample_rate=0.0), "sample_rate"),
    (dict(rician_k=-1.0), "rician_k"),
])
def test_fading_settings_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FadingSpec(**kwargs)


def test_front_end_settings_are_checked():
    with pytest.raises(ValueError, match="out of range"):
        FrontEndSpec(iq_magnitude_db=10.0)
    with pytest.raises(ValueError, match="phase_noise_db"):
        FrontEndSpec(phase_noise_db=5.0)
    assert not FrontEndSpec().active and FrontEndSpec(dc_offset=0.1).active


def test_fading_block_decorrelates_as_jakes_predicts():
    """gr-channels' fader, as our spec builds it, has the autocorrelation
    J0(2 pi f_D t) of the Doppler asked for."""
    from gnuradio import blocks, gr

    spec = FadingSpec("epa", 300.0, 2e6, seed=3)
    tb = gr.top_block()
    tb.source = blocks.vector_source_c([1.0 + 0j] * 300000, False)
    tb.fader = spec.make_block()
    tb.sink = blocks.vector_sink_c()
    tb.connect(tb.source, tb.fader, tb.sink)
    tb.run()
    h = np.asarray(tb.sink.data())[1000:]
    lag = 1000  # 0.5 ms
    rho = np.vdot(h[:-lag], h[lag:]).real / np.vdot(h, h).real
    assert rho == pytest.approx(j0(2 * np.pi * 300.0 * 0.5e-3), abs=0.1)


def test_channel_settings_are_recorded():
    channel = LoopbackChannel(12.0, 0.01, 5.0, [1, 0.2j], seed=4, fading=FadingSpec("eva", 70.0, 1e6),
                              front_end=FrontEndSpec(1.0, 5.0, 0.1, -30.0))
    settings = json.loads(json.dumps(channel.settings()))
    assert settings["fading"]["profile"] == "eva" and settings["fading"]["doppler_hz"] == 70.0
    assert settings["front_end"] == {"iq_magnitude_db": 1.0, "iq_phase_deg": 5.0, "dc_offset": [0.1, 0.0],
                                     "phase_noise_db": -30.0}


def test_front_end_impairments_stay_harmless_for_16qam():
    """IQ imbalance 1 dB / 5 degrees, DC offset 0.1 and phase noise at -30 dB
    cost 16qam-1/2 nothing at 12 dB."""
    sent = random_packets(40, 100, 2)
    channel = LoopbackChannel(12.0, 0.005, 0.0, None, seed=2,
                              front_end=FrontEndSpec(1.0, 5.0, 0.1, -30.0))
    assert delivered(run_phy_loopback(sent, "16qam-1/2", channel), sent) == len(sent)


# --- soft symbols and the mobile MCSs --------------------------------------

@pytest.mark.parametrize("name", ["qpsk", "16qam", "64qam"])
def test_soft_symbols_are_the_point_when_sure_and_zero_when_not(name):
    bits_per_symbol = {"qpsk": 2, "16qam": 4, "64qam": 6}[name]
    bits = np.random.default_rng(1).integers(0, 2, 60 * bits_per_symbol)
    mean, energy = soft_symbols((1 - 2 * bits) * 40.0, name)
    points = map_bits(bits, name)
    assert np.allclose(mean, points, atol=1e-5) and np.allclose(energy, np.abs(points) ** 2, atol=1e-4)
    mean, energy = soft_symbols(np.zeros(3 * bits_per_symbol), name)
    assert np.allclose(mean, 0) and np.allclose(energy, 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ["bpsk", "qpsk", "16qam", "64qam"])
def test_nearest_points_is_the_max_log_slicer(name):
    symbols = (np.random.default_rng(2).standard_normal((20, 48))
               + 1j * np.random.default_rng(3).standard_normal((20, 48))).astype(np.complex64)
    llr = demap_maxlog(symbols.reshape(-1), np.ones(symbols.size, dtype=np.float32), name)
    expected = map_bits(llr < 0, name).reshape(symbols.shape)
    assert np.allclose(nearest_points(symbols, name), expected, atol=1e-6)


def test_mobile_mcs_puts_a_known_symbol_after_every_period():
    mcs = get_mcs("qpsk-1/2-mobile")
    n_data = data_ofdm_symbols(100, mcs, PARAMS)
    n_payload = payload_ofdm_symbols(100, mcs, PARAMS)
    assert n_payload == n_data + (n_data - 1) // mcs.midamble_period > n_data
    rows = midamble_rows(n_payload, mcs.midamble_period)
    assert rows.sum() == n_payload - n_data and not rows[-1]
    # Without the midambles, the burst is the fixed MCS's burst.
    payload = burst_symbols(bytes(range(100)), mcs, 7, PARAMS)[96:].reshape(n_payload, -1)
    assert np.allclose(payload[rows], midamble_symbols(PARAMS))
    fixed = burst_symbols(bytes(range(100)), get_mcs("qpsk-1/2"), 7, PARAMS)[96:].reshape(n_data, -1)
    assert np.array_equal(payload[~rows], fixed)


def test_every_mcs_is_offered_by_the_grc_transmit_blocks():
    import yaml
    from pathlib import Path

    for name in ("tokencom_ofdm_stream_tx", "tokencom_pluto_radio_tx", "tokencom_usrp_radio_tx"):
        block = yaml.safe_load((Path(__file__).parents[2] / "blocks" / f"{name}.block.yml").read_text())
        [mcs] = [p for p in block["parameters"] if p["id"] == "mcs"]
        assert [o.strip("'") for o in mcs["options"]] == list(MCS_NAMES), name


# --- channel tracking ------------------------------------------------------

def etu300(snr_db: float = 20.0):
    return LoopbackChannel(snr_db, 0.005, 0.0, None, seed=3, fading=FadingSpec("etu", 300.0, 2e6, seed=11))


@pytest.mark.parametrize("mcs", ["qpsk-1/2", "qpsk-1/2-mobile"])
def test_tracking_removes_the_fast_fading_floor(mcs):
    """ETU at 300 Hz, 20 dB: without tracking a third of the packets fail
    (the channel decorrelates within a burst); with it none should."""
    sent = random_packets(60, 100, 5)
    without = delivered(run_phy_loopback(sent, mcs, etu300(), channel_tracking=False), sent)
    result = run_phy_loopback(sent, mcs, etu300())
    assert without <= 0.8 * len(sent)
    assert delivered(result, sent) >= len(sent) - 1
    tracked = [b for b in result.received if b.channel_change is not None]
    assert tracked, "no burst needed tracking"
    # The Doppler the tracked channels imply is of the order of the true 300 Hz.
    assert 150.0 < np.median([b.doppler for b in tracked]) * 2e6 < 700.0


def test_static_channel_needs_no_tracking_and_reports_its_evm():
    sent = random_packets(30, 100, 6)
    result = run_phy_loopback(sent, "16qam-1/2", LoopbackChannel(20.0, 0.005, 0.0, None, seed=1))
    assert delivered(result, sent) == len(sent)
    assert all(b.channel_change is None and b.doppler is None for b in result.received)
    evm = np.concatenate([b.evm_db for b in result.received])
    assert evm.size == len(sent) * payload_ofdm_symbols(100, get_mcs("16qam-1/2"), PARAMS)
    assert np.mean(evm) == pytest.approx(-20.0, abs=2.0)


def test_diagnostics_travel_in_the_pdu():
    burst = ReceivedBurst(b"\x01\x02", "qpsk-1/2", False, 9.5, 0.001, 3, 10,
                          evm_db=np.array([-12.0, -9.5, -6.0]), channel_change=1.2, doppler=1.5e-4,
                          drift_db=7.5)
    back = ReceivedBurst.from_pdu(burst.to_pdu())
    assert back.drift_db == pytest.approx(7.5)
    assert np.allclose(back.evm_db, [-12.0, -9.5, -6.0])
    assert back.channel_change == pytest.approx(1.2) and back.doppler == pytest.approx(1.5e-4)


def test_doppler_estimate_inverts_jakes_correlation():
    n_symbols, fs, doppler = 20, 2e6, 250.0
    duration = n_symbols * PARAMS.symbol_len / fs
    change = 2 * (1 - j0(2 * math.pi * doppler * duration))
    assert doppler_from_change(change, n_symbols, PARAMS) * fs == pytest.approx(doppler, rel=0.01)
    assert doppler_from_change(0.0, n_symbols, PARAMS) == 0.0


def test_rx_report_shows_the_moving_channel():
    """What ``tokencom rx`` prints and writes for a message that crossed a
    fast-fading channel: EVM, its rise over the bursts, tracked bursts and a
    Doppler estimate in Hz."""
    import tokencom_sdr as tc
    from tokencom_sdr.app.rx_report import format_report, message_report

    text = ("The train left the station at full speed while the radio kept talking to the tower. "
            "Every few hundred metres the signal faded and came back, and the receiver followed it.") * 2
    iq = tc.text_to_iq(text, mcs="qpsk-1/2-mobile", tokens_per_packet=48)
    [message] = tc.receive_iq(iq, etu300(22.0))
    report = message_report(message, 2e6, PARAMS.gap_len)
    assert report["bursts_tracked"] >= 1 and 100.0 < report["doppler_hz"] < 1000.0
    assert -25.0 < report["evm_db"] < 0.0 and report["evm_rise_db"] is not None
    assert report["drift_db"] > 5.0
    totals = {"messages": 1, "packets_expected": report["packets_sent"],
              "packets_received": report["packets_received"], "bursts_failed": 0, "packets_redecoded": 0}
    line = format_report(report, totals)
    assert "EVM" in line and "Doppler ~" in line
    # A static channel: nothing tracked, no Doppler claimed.
    [still] = tc.receive_iq(iq, LoopbackChannel(22.0, seed=2))
    quiet = message_report(still, 2e6, PARAMS.gap_len)
    assert quiet["bursts_tracked"] == 0 and quiet["doppler_hz"] is None and quiet["evm_db"] < -18.0
    assert quiet["drift_db"] < 3.0


def test_still_channel_reestimation_gains_near_the_threshold():
    """AWGN, qpsk-1/2 at 2 dB: re-estimating the channel of a failed burst
    from all its symbols rescues many of the failures."""
    sent = random_packets(100, 100, 8)
    channel = lambda: LoopbackChannel(2.0, 0.005, 0.0, None, seed=4)  # noqa: E731
    without = len(sent) - delivered(run_phy_loopback(sent, "qpsk-1/2", channel(), channel_tracking=False), sent)
    result = run_phy_loopback(sent, "qpsk-1/2", channel())
    with_tracking = len(sent) - delivered(result, sent)
    assert without >= 8 and with_tracking <= without - 5
    assert any(b.channel_change is not None for b in result.received)


def test_bursts_under_the_shannon_limit_are_not_retried():
    """16qam-1/2 at 0 dB (its Shannon limit is 4.8 dB): every burst fails,
    and none is decoded again."""
    sent = random_packets(20, 100, 9)
    result = run_phy_loopback(sent, "16qam-1/2", LoopbackChannel(0.0, 0.005, 0.0, None, seed=5))
    assert result.received and delivered(result, sent) == 0
    assert all(b.channel_change is None for b in result.received)
