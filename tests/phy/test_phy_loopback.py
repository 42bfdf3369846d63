"""The OFDM PHY through a software channel: calibration, delivery, robustness.

These run the real GNU Radio flowgraphs (no mocks), so each test has a
timeout: a flowgraph that never finishes is a failure, not a hang.
"""

import threading

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

import tokencom_sdr.link as link
from tokencom_sdr.channel.loopback_channel import LoopbackChannel, normalise_taps
from tokencom_sdr.phy.burst_mapping import burst_length
from tokencom_sdr.phy.mcs import get_mcs
from tokencom_sdr.phy.payload_code import coded_length, decode_payload
from tokencom_sdr.phy.ofdm_params import LENGTH_TAG, OfdmParams
from tokencom_sdr.phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD, OfdmBurstRx
from tokencom_sdr.phy.ofdm_tx import OfdmBurstTx
from tokencom_sdr.phy.modem import demodulate, modulate, run_phy_loopback, tagged_packet_stream

PARAMS = OfdmParams()
# Both uncoded schemes, plus the default coded one.
LOOPBACK_MCS = ["bpsk", "qpsk", "qpsk-1/2"]


def random_packets(count, seed, min_len=1, max_len=200):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=count)
    return [rng.integers(0, 256, size=int(n), dtype=np.uint8).tobytes() for n in lengths]


# Sent in the clean loopback; what noise must never be decoded into.
REFERENCE_PACKETS = tuple(random_packets(60, seed=3, max_len=250))


def split_bursts(iq, packets, mcs):
    """(burst, gap) sample pairs, cut where the numerology says they are."""
    pieces, start = [], 0
    for packet in packets:
        end = start + burst_length(len(packet), mcs, PARAMS)
        pieces.append((iq[start:end - PARAMS.gap_len], iq[end - PARAMS.gap_len:end]))
        start = end
    return pieces


def delivered_bytes(received):
    return [pdu.data for pdu in received]


# --------------------------------------------------------------------------
# Calibration


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mcs", ["bpsk", "qpsk", "qpsk-1/2", "16qam-3/4"])
def test_bursts_have_unit_power_and_exact_zero_gaps(mcs):
    packets = random_packets(30, seed=1)
    iq = modulate(packets, mcs)

    assert iq.dtype == np.complex64
    assert len(iq) == sum(burst_length(len(p), mcs, PARAMS) for p in packets)
    bursts = split_bursts(iq, packets, mcs)
    burst_powers_db = [10 * np.log10(np.mean(np.abs(burst) ** 2)) for burst, _ in bursts]
    # Filler completes the last OFDM symbol, so every carrier is busy; only
    # the cyclic prefixes, which repeat a random-looking part of each symbol,
    # make a single burst's power wander around the calibrated value.
    assert max(abs(p) for p in burst_powers_db) < 0.3, burst_powers_db
    all_burst_samples = np.concatenate([burst for burst, _ in bursts])
    assert abs(10 * np.log10(np.mean(np.abs(all_burst_samples) ** 2))) < 0.1
    for index, (burst, gap) in enumerate(bursts):
        # Every gap, the last one included, is there in full and silent; the
        # burst right before it ends on signal, not on zeros.
        assert len(gap) == PARAMS.gap_len, index
        assert not np.any(gap), index
        assert np.any(burst[-PARAMS.cp_len:]), index


def run_channel(channel, samples):
    tb = gr.top_block("test_channel", catch_exceptions=False)
    source = blocks.vector_source_c(samples.tolist(), False)
    sink = blocks.vector_sink_c()
    tb.connect(source, channel, sink)
    tb.run()
    return np.asarray(sink.data(), dtype=np.complex64)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 23.0])
def test_channel_noise_power_matches_snr(snr_db):
    channel = LoopbackChannel(snr_db=snr_db, cfo=0.003, sco_ppm=10.0, seed=7)
    noise = run_channel(channel, np.zeros(200_000, dtype=np.complex64))
    expected = 10.0 ** (-snr_db / 10.0)
    measured = float(np.mean(np.abs(noise[1000:]) ** 2))
    assert measured == pytest.approx(expected, rel=0.05)


@pytest.mark.timeout(30)
def test_clean_channel_adds_no_noise():
    signal = (np.exp(2j * np.pi * 0.01 * np.arange(5000))).astype(np.complex64)
    out = run_channel(LoopbackChannel(), signal)
    # The clock-offset resampler runs even at 0 ppm; its interpolator eats a
    # few samples at each end but must pass the rest through unchanged.
    assert len(signal) - 16 <= len(out) <= len(signal)
    errors = [np.max(np.abs(out[:len(out) - 8] - signal[lead:lead + len(out) - 8]))
              for lead in range(8)]
    assert min(errors) < 1e-5


@pytest.mark.timeout(30)
def test_channel_noise_is_reproducible_by_seed():
    zeros = np.zeros(5000, dtype=np.complex64)
    first = run_channel(LoopbackChannel(snr_db=10.0, seed=3), zeros)
    again = run_channel(LoopbackChannel(snr_db=10.0, seed=3), zeros)
    other = run_channel(LoopbackChannel(snr_db=10.0, seed=4), zeros)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_taps_are_normalised_to_unit_energy():
    taps = normalise_taps([1.0, 0.5j, -0.25, 0.1 + 0.1j])
    assert np.sum(np.abs(taps) ** 2) == pytest.approx(1.0)
    # Only the scale changes, not the delay profile's shape.
    assert taps[1] / taps[0] == pytest.approx(0.5j)
    assert np.array_equal(normalise_taps(None), [1.0])
    assert np.array_equal(normalise_taps([]), [1.0])
    channel = LoopbackChannel(taps=[2.0, 2.0])
    assert np.sum(np.abs(channel.taps) ** 2) == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs", [
    {"cfo": 0.5}, {"cfo": -0.7}, {"taps": [0.0, 0.0]}, {"taps": [1.0, np.nan]},
    {"sco_ppm": 1e6},
])
def test_channel_rejects_invalid_impairments(kwargs):
    with pytest.raises(ValueError):
        LoopbackChannel(**kwargs)


# --------------------------------------------------------------------------
# Delivery


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mcs", LOOPBACK_MCS)
def test_clean_loopback_delivers_every_packet_in_order(mcs):
    # Distinctive last packet: a finite run must not keep it in the pipeline.
    packets = list(REFERENCE_PACKETS) + [b"the very last packet" * 3]
    result = run_phy_loopback(packets, mcs)
    assert delivered_bytes(result.received) == packets
    assert result.channel_uses == sum(burst_length(len(p), mcs, PARAMS) for p in packets)
    assert [pdu.packet_number for pdu in result.received] == list(range(len(packets)))
    assert all(pdu.mcs == mcs for pdu in result.received)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mcs", LOOPBACK_MCS)
def test_single_packet_is_delivered(mcs):
    assert delivered_bytes(run_phy_loopback([b"\x00"], mcs).received) == [b"\x00"]


@pytest.mark.timeout(40)
@pytest.mark.parametrize("mcs", LOOPBACK_MCS)
def test_impaired_loopback_delivers_every_packet(mcs):
    packets = random_packets(50, seed=4, min_len=20, max_len=200)
    channel = LoopbackChannel(snr_db=25.0, cfo=0.01, sco_ppm=20.0,
                              taps=[1.0, 0.4 - 0.2j, 0.15j], seed=11)
    result = run_phy_loopback(packets, mcs, channel)
    assert delivered_bytes(result.received) == packets


@pytest.mark.timeout(40)
def test_failed_codewords_bring_their_channel_llrs():
    # At 1 dB qpsk-1/2 some codewords fail; those PDUs carry the coded
    # payload's channel LLRs (for decoding again with a prior), the others not.
    packets = random_packets(60, seed=8, min_len=100, max_len=100)
    result = run_phy_loopback(packets, "qpsk-1/2", LoopbackChannel(snr_db=1.0, cfo=0.005, seed=3))
    failed = [pdu for pdu in result.received if not pdu.fec_ok]
    passed = [pdu for pdu in result.received if pdu.fec_ok]
    assert failed and passed
    assert all(pdu.code_llr is None for pdu in passed)
    coded = coded_length(100, get_mcs("qpsk-1/2"))
    assert all(pdu.code_llr.shape == (coded,) and pdu.code_llr.dtype == np.float32 for pdu in failed)
    # Decoding again from them with no prior reproduces the receiver's decision.
    again = decode_payload(failed[0].code_llr, 100, get_mcs("qpsk-1/2"))
    assert again.data == failed[0].data


@pytest.mark.timeout(30)
def test_receiver_ignores_upstream_packet_len_tags():
    """Raw TX output, tags and all, straight into the receiver: a loopback
    without a tag-blocking channel must decode as a radio would."""
    packets = random_packets(20, seed=5)
    data, tags = tagged_packet_stream(packets)
    tx_graph = gr.top_block("test_tx", catch_exceptions=False)
    tx_graph.source = blocks.vector_source_b(data, False, 1, tags)
    tx_graph.tx = OfdmBurstTx("qpsk")
    tx_graph.sink = blocks.vector_sink_c()
    tx_graph.connect(tx_graph.source, tx_graph.tx, tx_graph.sink)
    tx_graph.run()
    iq = list(tx_graph.sink.data()) + [0j] * PARAMS.gap_len
    tx_tags = [t for t in tx_graph.sink.tags() if pmt.symbol_to_string(t.key) == LENGTH_TAG]
    assert len(tx_tags) == len(packets)  # otherwise this test proves nothing

    rx_graph = gr.top_block("test_rx", catch_exceptions=False)
    rx_graph.source = blocks.vector_source_c(iq, False, 1, tx_tags)
    rx_graph.rx = OfdmBurstRx()
    received = []
    # The decoder's own listener hook, as demodulate() uses: a message sink
    # at the end of a finite run may stop before its queue is drained.
    rx_graph.rx.decoder.listeners.append(received.append)
    rx_graph.connect(rx_graph.source, rx_graph.rx)
    rx_graph.run()
    assert delivered_bytes(received) == packets


# --------------------------------------------------------------------------
# Receiver robustness


def demodulate_with_deadline(iq, channel, sync_threshold, deadline_s):
    """demodulate() in a worker thread, so that a receiver that never
    finishes is reported as such instead of blocking the test run."""
    outcome = {}

    def work():
        try:
            outcome["received"] = demodulate(iq, channel, sync_threshold)
        except BaseException as error:  # reported in the test thread
            outcome["error"] = error

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(deadline_s)
    assert not worker.is_alive(), f"receiver still running after {deadline_s} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["received"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sync_threshold", [DEFAULT_SYNC_THRESHOLD, 0.5])
def test_noise_only_input_yields_no_valid_packets(sync_threshold):
    # Zeros through a 0 dB channel: unit-power noise, what an idle band looks
    # like to the receiver (its sync metric is scale-free). The MCS is read
    # from each header, so one run covers them all. 0.5 is the lowest
    # threshold considered for the default: it triggers far more often.
    silence = np.zeros(2_000_000, dtype=np.complex64)
    received = demodulate_with_deadline(silence, LoopbackChannel(snr_db=0.0, seed=9),
                                        sync_threshold, deadline_s=45)
    phantom = delivered_bytes(received)
    assert not set(phantom) & set(REFERENCE_PACKETS)
    parse_packet = getattr(link, "parse_packet", None)
    if parse_packet is not None:
        for data in phantom:
            with pytest.raises(link.PacketError):
                parse_packet(data)


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.2, 1.5])
def test_sync_threshold_must_lie_strictly_between_0_and_1(threshold):
    with pytest.raises(ValueError):
        OfdmBurstRx(sync_threshold=threshold)


@pytest.mark.parametrize("threshold", [0.05, 0.5, 0.95])
def test_sync_threshold_inside_range_is_accepted(threshold):
    OfdmBurstRx(sync_threshold=threshold)


def test_unknown_mcs_is_rejected():
    with pytest.raises(ValueError):
        OfdmBurstTx("8psk")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mcs", ["bpsk-1/2", "64qam-3/4"])
def test_longest_packet_crosses_and_an_oversized_one_is_refused(mcs):
    """1500 bytes at the lowest rate is the longest burst the buffers are
    sized for; one byte more is refused before anything is sent."""
    rng = np.random.default_rng(9)
    longest = bytes(rng.integers(0, 256, 1500, dtype=np.uint8))
    oversized = bytes(rng.integers(0, 256, 1501, dtype=np.uint8))
    result = run_phy_loopback([longest, b"after"], mcs, LoopbackChannel(30, 0.002))
    assert [pdu.data for pdu in result.received] == [longest, b"after"]
    with pytest.raises(ValueError, match="packet 1 is 1501 bytes"):
        run_phy_loopback([longest, oversized, b"after"], mcs, LoopbackChannel(30, 0.002))
