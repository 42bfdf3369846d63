"""The receiver's Schmidl & Cox detector (running sums, and a plateau stage
that keeps its state across work() calls) against gr-digital's
``ofdm_sync_sc_cfb`` (FIR sums, gr-blocks' plateau detector), which it
replaces: the same marks, each burst's once however the stream is cut."""

import numpy as np
import pytest
from gnuradio import blocks, digital, gr

from tokencom_sdr.phy.burst_mapping import burst_length
from tokencom_sdr.phy.modem import modulate
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.phy.schmidl_cox import PlateauDetector, PlateauMarker, SchmidlCoxDetector

PARAMS = OfdmParams()
THRESHOLD = 0.3
#: The receiver's plateau stage: cp_len skipped after a mark, runs from
#: fft_len + 2 cp_len samples on marked without waiting for their end.
MAX_LEN, LONGEST = PARAMS.cp_len, PARAMS.fft_len + 2 * PARAMS.cp_len
LOOKAHEAD = (LONGEST - 1) // 2 + 2


def _bursts(snr_db):
    """30 bursts of growing length, 0.003 cycles/sample of frequency offset and
    noise at ``snr_db``: (samples, each burst's first sample)."""
    packets = [bytes([i]) * (40 + 9 * i) for i in range(30)]
    rng = np.random.default_rng(int(snr_db))
    iq = modulate(packets, "qpsk-1/2")
    iq = iq * np.exp(2j * np.pi * 0.003 * np.arange(iq.size))
    noise = rng.standard_normal(iq.size) + 1j * rng.standard_normal(iq.size)
    iq = (iq + np.sqrt(10 ** (-snr_db / 10) / 2) * noise).astype(np.complex64)
    starts = np.cumsum([0] + [burst_length(len(p), "qpsk-1/2", PARAMS) for p in packets[:-1]])
    return iq, starts


def _run(source, block, sink, max_items=None):
    """Output of ``block`` (its last output port) with ``max_items`` per work()
    call of the plateau stage (None: as the scheduler pleases)."""
    tb = gr.top_block()
    tb.source, tb.block, tb.sink = source, block, sink
    if isinstance(block, digital.ofdm_sync_sc_cfb):
        tb.frequency = blocks.null_sink(gr.sizeof_float)
        tb.connect(tb.source, tb.block, tb.frequency)
        tb.connect((tb.block, 1), tb.sink)
    else:
        tb.connect(tb.source, tb.block, tb.sink)
    if max_items:
        (block.plateau if isinstance(block, SchmidlCoxDetector) else block).set_max_noutput_items(
            max_items)
    tb.run()
    return np.array(sink.data(), dtype=np.uint8)


def _marks(iq, detector, max_items=None) -> np.ndarray:
    return np.flatnonzero(_run(blocks.vector_source_c(iq.tolist(), False), detector,
                               blocks.vector_sink_b(), max_items))


def _plateau_marks(metric, detector, max_items=None) -> np.ndarray:
    return _run(blocks.vector_source_f(metric.tolist(), False), detector, blocks.vector_sink_b(),
                max_items)


def _reference_plateaus(metric, max_len=MAX_LEN, threshold=THRESHOLD, longest=LONGEST):
    """What the plateau stage should output, one sample at a time over the
    whole stream: gr-blocks' ``plateau_detector_fb`` in one work() call, with
    runs of ``longest`` or more marked ``longest // 2`` in."""
    above = metric >= threshold
    marks = np.zeros(metric.size, dtype=np.uint8)
    i = 0
    while i < metric.size:
        if not above[i]:
            i += 1
            continue
        start = i
        while i < metric.size and above[i]:
            i += 1
        if i - start > 1:
            marks[start + min(i - start, longest) // 2] = 1
            i += max_len + 1
    return marks


def _metric(run_lengths, gaps, seed):
    """A stand-in timing metric: runs at or above THRESHOLD (exactly it,
    sometimes) with the given lengths, separated by gaps below it (some NaN),
    and a tail of zeros."""
    rng = np.random.default_rng(seed)
    pieces = [np.zeros(10, dtype=np.float32)]
    for length, gap in zip(run_lengths, gaps):
        run = rng.uniform(THRESHOLD, 1.0, length).astype(np.float32)
        run[rng.random(length) < 0.1] = THRESHOLD
        below = rng.uniform(0.0, THRESHOLD - 0.01, gap).astype(np.float32)
        below[rng.random(gap) < 0.05] = np.nan
        pieces += [run, below]
    pieces.append(np.zeros(3 * LONGEST, dtype=np.float32))
    return np.concatenate(pieces)


def _plateau_counts(marks, starts, tolerance=24):
    """How many marks fall where each burst's plateau is (the receiver's
    trigger: one symbol after the burst's first sample, less 12)."""
    return np.array([np.count_nonzero(np.abs(marks - (start + PARAMS.symbol_len - 12)) <= tolerance)
                     for start in starts])


def _assert_marks_begin(marks, expected, left_out=LOOKAHEAD):
    """``marks`` are ``expected``, but for fewer than ``left_out`` samples at
    the end, which a finite stream may leave out."""
    assert expected.size - left_out < marks.size <= expected.size
    np.testing.assert_array_equal(marks, expected[:marks.size])


@pytest.mark.timeout(120)
def test_plateau_stage_is_gr_blocks_where_its_work_calls_cannot_matter():
    """Runs shorter than max_len - 1 fit in gr-blocks' lookahead of 2 max_len
    with their skip: its marks then do not depend on its work() calls, and
    ours are the same, skips within skips included."""
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, MAX_LEN - 1, 600)
    gaps = rng.choice([1, 2, 3, MAX_LEN - 1, MAX_LEN, MAX_LEN + 1, MAX_LEN + 2, 3 * MAX_LEN, 300],
                      600)
    metric = _metric(lengths, gaps, seed=2)
    expected = _reference_plateaus(metric)
    assert np.count_nonzero(expected) > 300
    for max_items in (None, 2 * MAX_LEN, 97):
        stock = _plateau_marks(metric, blocks.plateau_detector_fb(MAX_LEN, THRESHOLD), max_items)
        ours = _plateau_marks(metric, PlateauDetector(MAX_LEN, THRESHOLD, LONGEST), max_items)
        _assert_marks_begin(ours, expected)
        _assert_marks_begin(stock, expected, 2 * MAX_LEN)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("max_items", [None, 7, LOOKAHEAD, 97, 4093])
def test_plateau_stage_marks_do_not_depend_on_its_work_calls(max_items):
    """Runs of every length, long ones straddling work() calls of any size,
    runs starting inside a skip that straddles one: the marks of one pass
    over the whole stream, nothing else (gr-blocks' detector marks such a run
    once in each call it spans, and skips less after a run ending near the
    end of a call)."""
    rng = np.random.default_rng(3)
    lengths = rng.choice([1, 2, 3, MAX_LEN - 1, MAX_LEN, 2 * MAX_LEN, 50, 52, LONGEST // 2,
                          LONGEST - 1, LONGEST, LONGEST + 1, 3 * LONGEST], 400)
    gaps = rng.choice([1, 2, MAX_LEN - 1, MAX_LEN, MAX_LEN + 1, MAX_LEN + 2, 2 * MAX_LEN, 500], 400)
    metric = _metric(lengths, gaps, seed=4)
    expected = _reference_plateaus(metric)
    assert np.count_nonzero(expected) > 200
    ours = _plateau_marks(metric, PlateauDetector(MAX_LEN, THRESHOLD, LONGEST), max_items)
    _assert_marks_begin(ours, expected)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [5, 6])
def test_plateau_marks_do_not_depend_on_how_the_stream_is_offered(seed):
    """The plateau stage's state machine offered the stream as a scheduler
    may offer it: at least ``lookahead`` samples (all that is left at the
    end), room for any number of outputs from 1; the samples it did not
    output are offered again, with more or fewer after them."""
    rng = np.random.default_rng(seed)
    lengths = rng.choice([1, 2, 3, MAX_LEN, 50, LONGEST - 1, LONGEST, 3 * LONGEST], 300)
    gaps = rng.choice([1, 2, MAX_LEN, MAX_LEN + 1, MAX_LEN + 2, 300], 300)
    metric = _metric(lengths, gaps, seed=seed)
    marker = PlateauMarker(MAX_LEN, THRESHOLD, LONGEST)
    assert marker.lookahead == LOOKAHEAD
    marks = np.zeros(metric.size, dtype=np.uint8)
    position = 0
    while metric.size - position >= LOOKAHEAD:
        offered = min(LOOKAHEAD + int(rng.choice([0, 1, 5, 30, 400])), metric.size - position)
        out = np.full(int(rng.choice([1, 2, 7, 40, offered])), 7, dtype=np.uint8)
        out = out[:offered]
        produced = marker.mark(metric[position:position + offered], out)
        assert 1 <= produced <= out.size
        assert set(out[:produced].tolist()) <= {0, 1}
        marks[position:position + produced] = out[:produced]
        position += produced
    _assert_marks_begin(marks[:position], _reference_plateaus(metric))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("tail", [1, 5, 20, LOOKAHEAD, LONGEST, 3 * LONGEST])
def test_a_stream_that_ends_in_a_plateau_ends(tail):
    """The end of a finite stream inside a run: the block finishes, leaving
    out the samples it could not resolve (a sync block that returned 0 items
    there would be called again and again)."""
    rng = np.random.default_rng(7)
    metric = np.concatenate([_metric(rng.choice([2, 50], 20), rng.choice([MAX_LEN, 300], 20), 8),
                             np.full(tail, 0.9, dtype=np.float32)])
    ours = _plateau_marks(metric, PlateauDetector(MAX_LEN, THRESHOLD, LONGEST))
    _assert_marks_begin(ours, _reference_plateaus(metric))


@pytest.mark.timeout(120)
def test_each_burst_is_marked_once_however_the_plateau_stage_is_called():
    """At 25 dB the timing metric's plateau is about 50 samples long, longer
    than gr-blocks' lookahead (2 cp_len): with its plateau detector, calls of
    97 samples marked 8 of 30 bursts twice, and the scheduler alone did it
    to a burst now and then under CPU load (the former flake of
    test_marks_match_gr_digitals_detector[25.0])."""
    iq, starts = _bursts(25.0)
    runs = [_marks(iq, SchmidlCoxDetector(PARAMS.fft_len, PARAMS.cp_len, THRESHOLD), max_items)
            for max_items in (None, 60, 97, 1000)]
    for marks in runs:
        assert _plateau_counts(marks, starts).tolist() == [1] * len(starts)
        assert len(marks) == len(starts)
        # the metric is the same up to float rounding (the running sums
        # restart at each of their own work() calls)
        assert np.max(np.abs(marks - runs[0])) <= 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("snr_db", [2.0, 25.0])
def test_marks_match_gr_digitals_detector(snr_db):
    iq, starts = _bursts(snr_db)
    ours = _marks(iq, SchmidlCoxDetector(PARAMS.fft_len, PARAMS.cp_len, THRESHOLD))
    stock = _marks(iq, digital.ofdm_sync_sc_cfb(PARAMS.fft_len, PARAMS.cp_len, False, THRESHOLD))
    # Each burst is marked where gr-digital marks it, and only then (at 2 dB
    # both miss some).
    marked = _plateau_counts(ours, starts) > 0
    assert marked.tolist() == (_plateau_counts(stock, starts) > 0).tolist()
    if snr_db < 10:
        assert np.count_nonzero(marked) >= 20
    else:
        assert _plateau_counts(ours, starts).tolist() == [1] * len(starts)
        assert len(ours) == len(starts)
    # gr-digital's plateau detector marks a plateau that straddles two of its
    # work() calls once in each piece (a piece of 1 sample is not marked:
    # its one mark is then at most 1 sample from the middle), wherever the
    # scheduler cut the stream that run. Marks closer than a preamble's
    # longest plateau are one plateau's (at 2 dB a plateau can also break in
    # two, in both detectors); where gr-digital marked one twice, ours is
    # between its two marks.
    def plateaus(marks):
        return np.split(marks, np.flatnonzero(np.diff(marks) > PARAMS.fft_len + PARAMS.cp_len) + 1)

    groups = plateaus(stock)
    assert abs(len(groups) - len(plateaus(ours))) <= (2 if snr_db < 10 else 0)

    def distance(mark):
        group = min(groups, key=lambda g: np.min(np.abs(g - mark)))
        if len(group) > 1 and group[0] <= mark <= group[-1]:
            return 0
        return np.min(np.abs(group - mark))

    distances = np.array([distance(mark) for mark in ours])
    if snr_db < 10:
        assert np.mean(distances == 0) >= 0.95
        assert np.mean(distances <= 3) >= 0.98
    else:
        assert np.max(distances) <= 1
