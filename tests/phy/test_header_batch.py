"""Headers decoded as a batch (the receiver decodes every header a chunk of
samples completes in one pass of numpy calls): each comes out exactly as it
would alone, whatever shares its batch, so that a replayed recording decodes
as it did live however the stream is cut into work() calls."""

import dataclasses

import numpy as np
import pytest

from tokencom_sdr.phy.burst_decoding import (TIMING_PADDING, decode_header_window, decode_header_windows,
                                             header_window_length)
from tokencom_sdr.phy.burst_mapping import burst_length
from tokencom_sdr.phy.modem import modulate
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.phy.phy_header import PhyHeader, decode_header, decode_headers, encode_header

PARAMS = OfdmParams()
PACKETS = [bytes([i]) * (30 + 17 * i) for i in range(5)]


@pytest.fixture(scope="module")
def windows():
    """420 header windows: the 5 bursts' own, each copy with its noise (6 to
    30 dB), frequency offset (up to 3 carriers, so that whole-carrier offsets
    differ within the batch) and timing error; and pure noise (headers that
    fail). 420 windows make arrays large enough for numpy to work in place
    on temporaries, which once rounded a burst differently in a batch."""
    rng = np.random.default_rng(11)
    iq = np.concatenate([np.zeros(100, np.complex64), modulate(PACKETS, "qpsk-1/2"), np.zeros(100, np.complex64)])
    starts = 100 + np.cumsum([0] + [burst_length(len(p), "qpsk-1/2", PARAMS) for p in PACKETS[:-1]])
    n = header_window_length(PARAMS)
    rows = []
    for k in range(420):
        if k % 10 == 9:
            rows.append(rng.standard_normal(n) + 1j * rng.standard_normal(n))
            continue
        first = starts[k % len(starts)] - TIMING_PADDING + int(rng.integers(-6, 7))
        cfo = rng.uniform(-3, 3) / PARAMS.fft_len
        noise = 10 ** (-rng.uniform(6, 30) / 20) / np.sqrt(2)
        window = iq[first:first + n] * np.exp(2j * np.pi * cfo * np.arange(n))
        rows.append(window + noise * (rng.standard_normal(n) + 1j * rng.standard_normal(n)))
    return np.array(rows, dtype=np.complex64)


def _fields(burst):
    return None if burst is None else [getattr(burst, f.name) for f in dataclasses.fields(burst)]


def _identical(a, b):
    if a is None or b is None:
        return a is b
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b))


def test_each_window_of_a_batch_decodes_exactly_as_alone(windows):
    batch = decode_header_windows(windows, PARAMS)
    decoded = sum(b is not None for b in batch)
    assert 300 <= decoded <= 378  # most decode; the noise rows (42) never do
    assert len({b.carrier_offset for b in batch if b is not None}) > 1
    for window, burst in zip(windows, batch):
        assert _identical(_fields(decode_header_window(window, PARAMS)), _fields(burst))
    # ... and in a batch of other neighbours.
    for j, burst in zip(range(0, 420, 7), decode_header_windows(windows[::7], PARAMS)):
        assert _identical(_fields(batch[j]), _fields(burst))


def test_header_windows_of_the_wrong_shape_are_refused():
    n = header_window_length(PARAMS)
    with pytest.raises(ValueError, match=f"rows of {n} samples, got shape \\(2, {n - 1}\\)"):
        decode_header_windows(np.zeros((2, n - 1), np.complex64), PARAMS)
    with pytest.raises(ValueError, match="rows of"):
        decode_header_windows(np.zeros(n, np.complex64), PARAMS)


def test_decode_headers_is_decode_header_row_by_row():
    rng = np.random.default_rng(5)
    sent = [PhyHeader(int(rng.integers(1, 1500)), int(rng.integers(0, 16)), int(rng.integers(0, 256)))
            for _ in range(20)]
    llr = np.array([(1.0 - 2.0 * encode_header(h)) * 3.0 for h in sent], dtype=np.float32)
    llr += rng.normal(0, 2.0, llr.shape).astype(np.float32)  # some need BP, some fail
    llr[::5] = rng.normal(0, 3.0, (4, llr.shape[1]))           # noise: fail
    headers = decode_headers(llr)
    assert headers == [decode_header(row) for row in llr]
    assert headers[1:5] == sent[1:5] and all(h is None for h in headers[::5])
    with pytest.raises(ValueError, match="96 LLRs per row, got shape \\(96,\\)"):
        decode_headers(llr[0])
