"""The receiver's burst decoder block on its own: buffering, triggers, errors.

The block's work() is called directly with chunks of samples and a trigger
stream placed where the detector would put it, so that chunk boundaries and
trigger patterns are chosen by the test, not by the scheduler.
"""

import numpy as np
import pytest

import tokencom_sdr.phy.burst_decoder_block as burst_decoder_block
from tokencom_sdr.phy.burst_decoder_block import BurstDecoderBlock, _SampleBuffer
from tokencom_sdr.phy.burst_mapping import burst_length
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.phy.modem import modulate

PARAMS = OfdmParams()
LAG = PARAMS.symbol_len - 12  # as OfdmBurstRx sets it
PACKETS = [bytes([i]) * (20 + 13 * i) for i in range(6)]


@pytest.fixture(scope="module")
def air():
    """Six bursts (qpsk-1/2) and the index of each burst's first sample."""
    iq = modulate(PACKETS, "qpsk-1/2")
    starts = np.cumsum([0] + [burst_length(len(p), "qpsk-1/2", PARAMS) for p in PACKETS[:-1]])
    return iq, starts


def run_block(iq, triggers, chunk_sizes, block=None):
    """Feed ``iq`` and a trigger stream with ones at ``triggers`` through
    ``block.work`` in chunks; return the block and the bytes it delivered."""
    block = block or BurstDecoderBlock(PARAMS, trigger_lag=LAG)
    received = []
    block.listeners.append(lambda burst: received.append(burst.data))
    trigger = np.zeros(len(iq), dtype=np.uint8)
    trigger[np.asarray(triggers, dtype=int)] = 1
    position, sizes = 0, iter(chunk_sizes)
    while position < len(iq):
        size = next(sizes)
        chunk = slice(position, min(position + size, len(iq)))
        assert block.work([iq[chunk], trigger[chunk]], []) == chunk.stop - chunk.start
        position = chunk.stop
    return block, received


@pytest.mark.parametrize("chunk", [1, 37, 4096, 1 << 20])
def test_bursts_decode_whatever_the_chunk_size(air, chunk):
    iq, starts = air
    if chunk == 1:  # one sample per call: slow, so a short stretch
        iq, starts = iq[:starts[2]], starts[:2]
    block, received = run_block(iq, starts + LAG, [chunk] * len(iq))
    assert received == PACKETS[:len(starts)]
    assert (block.headers_ok, block.headers_failed) == (len(starts), 0)


def test_random_chunks_false_triggers_and_triggers_inside_bursts(air):
    iq, starts = air
    rng = np.random.default_rng(4)
    inside = starts + LAG + 5 * PARAMS.symbol_len  # echoes inside each burst: ignored
    in_gaps = starts[1:] - PARAMS.gap_len // 2      # in the silent gaps: headers fail
    triggers = np.concatenate([starts + LAG, inside, in_gaps])
    block, received = run_block(iq, triggers, rng.integers(1, 3000, size=len(iq)))
    assert received == PACKETS
    assert block.headers_ok == len(PACKETS)
    assert block.headers_failed == len(in_gaps)


def test_chunking_changes_no_decoded_value(air):
    """Headers are decoded in batches of whatever a chunk completes, yet every
    value a burst delivers is the same however the stream is chunked (a
    replay decodes exactly as live), echoes inside the headers included:
    their windows are let go while a payload is awaited, and they count as
    echoes, as they did when each was decoded on its own."""
    iq, starts = air
    rng = np.random.default_rng(8)
    noisy = (iq + 0.05 * (rng.standard_normal(iq.size) + 1j * rng.standard_normal(iq.size))).astype(np.complex64)
    triggers = np.sort(np.concatenate([starts + LAG, starts + LAG + 173]))
    runs = []
    for chunks in ([len(iq)], rng.integers(1, 3000, size=len(iq)), [700] * len(iq)):
        block = BurstDecoderBlock(PARAMS, trigger_lag=LAG)
        bursts = []
        block.listeners.append(bursts.append)
        run_block(noisy, triggers, chunks, block)
        assert [b.data for b in bursts] == PACKETS
        runs.append(bursts)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert (a.start_sample, a.snr_db, a.cfo) == (b.start_sample, b.snr_db, b.cfo)
            np.testing.assert_array_equal(a.bit_llr, b.bit_llr)


def test_a_burst_at_the_first_sample_is_decoded(air):
    iq, starts = air
    assert starts[0] == 0  # the header window reaches back before the stream
    _, received = run_block(iq[:starts[1]], [LAG], [500] * len(iq))
    assert received == PACKETS[:1]


def test_header_listeners_get_each_burst_start(air):
    iq, starts = air
    located = []
    block = BurstDecoderBlock(PARAMS, trigger_lag=LAG)
    block.header_listeners.append(lambda start, burst: located.append((start, burst)))
    # Triggers a few samples late, as the detector's mark wanders at low SNR.
    run_block(iq, starts + LAG + 5, [4096] * len(iq), block)
    assert [b.header.packet_number for _, b in located] == list(range(len(PACKETS)))
    assert np.all(np.abs(np.array([s for s, _ in located]) - starts) <= 2)


def test_each_delivered_burst_says_where_it_starts(air):
    """ReceivedBurst.start_sample is the stream index of the burst's first
    sample (what SigMF annotations and channel-use counts need)."""
    iq, starts = air
    bursts = []
    block = BurstDecoderBlock(PARAMS, trigger_lag=LAG)
    block.listeners.append(bursts.append)
    run_block(iq, starts + LAG + 5, [4096] * len(iq), block)
    assert [b.data for b in bursts] == PACKETS
    assert np.all(np.abs(np.array([b.start_sample for b in bursts]) - starts) <= 2)
    assert [b.packet_number for b in bursts] == list(range(len(PACKETS)))


@pytest.fixture(scope="module")
def same_size_air():
    """Six bursts of one size (one payload batch per chunk), and their starts."""
    packets = [bytes([i]) * 40 for i in range(6)]
    iq = modulate(packets, "qpsk-1/2")
    starts = np.arange(len(packets)) * burst_length(40, "qpsk-1/2", PARAMS)
    return packets, iq, starts


def test_a_failing_payload_decode_drops_that_burst_only(same_size_air, monkeypatch):
    # Payloads of one size are decoded in batches; a batch that fails is
    # retried burst by burst, so only the burst that fails alone is lost.
    packets, iq, starts = same_size_air
    real = burst_decoder_block.decode_payloads
    batch_sizes = []

    def failing_on_packet_1(samples, bursts, params, channel_tracking):
        batch_sizes.append(len(bursts))
        if any(burst.header.packet_number == 1 for burst in bursts):
            raise ValueError("injected failure")
        return real(samples, bursts, params, channel_tracking)

    monkeypatch.setattr(burst_decoder_block, "decode_payloads", failing_on_packet_1)
    block, received = run_block(iq, starts + LAG, [len(iq)])
    assert batch_sizes == [len(packets)] + [1] * len(packets)
    assert received == packets[:1] + packets[2:]
    assert (block.bursts_decoded, block.bursts_dropped) == (len(packets) - 1, 1)


def test_a_batch_decodes_as_its_bursts_would_one_by_one(same_size_air):
    packets, iq, starts = same_size_air
    bursts = []
    for chunks in ([len(iq)], [s1 - s0 for s0, s1 in zip(starts, list(starts[1:]) + [len(iq)])]):
        block = BurstDecoderBlock(PARAMS, trigger_lag=LAG)
        block.listeners.append(bursts.append)
        _, received = run_block(iq, starts + LAG, chunks, block)
        assert received == packets
    batched, single = bursts[:len(packets)], bursts[len(packets):]
    for a, b in zip(batched, single):
        np.testing.assert_allclose(a.bit_llr, b.bit_llr, rtol=1e-5, atol=1e-5)
        assert a.snr_db == pytest.approx(b.snr_db) and a.cfo == pytest.approx(b.cfo)
        assert a.start_sample == b.start_sample


def test_a_failing_header_decode_counts_as_a_failed_header(air, monkeypatch):
    iq, starts = air

    def broken(window, params):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(burst_decoder_block, "decode_header_windows", broken)
    block, received = run_block(iq, starts + LAG, [4096] * len(iq))
    assert received == []
    assert (block.headers_ok, block.headers_failed) == (0, len(PACKETS))


def test_sample_buffer_keeps_absolute_indices_across_growth_and_discards():
    buffer = _SampleBuffer(-3, capacity=8)
    np.testing.assert_array_equal(buffer.get(-3, 0), np.zeros(3))
    stream = np.arange(1000, dtype=np.complex64)
    for first in range(0, 1000, 7):
        buffer.append(stream[first:first + 7])
        buffer.discard_before(first - 20)
        lo, hi = max(first - 20, 0), min(first + 7, 1000)
        np.testing.assert_array_equal(buffer.get(lo, hi), stream[lo:hi])
    assert (buffer.start, buffer.stop) == (994 - 20, 1000)
    with pytest.raises(IndexError):
        buffer.get(buffer.start - 1, buffer.stop)
    with pytest.raises(IndexError):
        buffer.get(buffer.start, buffer.stop + 1)
