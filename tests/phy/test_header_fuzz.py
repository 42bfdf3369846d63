"""Fuzzing of the PHY header decoder (issue 16), from its LLRs and from raw
sample windows. The packet parser's fuzzing lives in
``tests/link/test_link_packets.py``, the profile loader's in
``tests/radio/test_profile_fuzz.py``, the SigMF reader's in
``tests/radio/test_sigmf_meta.py``. ``TOKENCOM_FUZZ_EXAMPLES`` raises every count.

The invariants: no input raises anything but the documented error; what
is accepted is valid; and a corrupted header either fails or decodes to
the header that was sent, never to another one (a wrong accept).
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuzzing import fuzz
from tokencom_sdr.phy.burst_decoding import BurstHeader, decode_header_window, header_window_length
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.phy.phy_header import (HEADER_CODED_BITS, MAX_PAYLOAD_BYTES, PhyHeader,
                                         decode_header, encode_header)

PARAMS = OfdmParams()
headers = st.builds(PhyHeader, st.integers(1, MAX_PAYLOAD_BYTES), st.integers(0, 15),
                    st.integers(0, 255))
finite_llrs = arrays(np.float32, HEADER_CODED_BITS,
                     elements=st.floats(-50, 50, allow_nan=False, width=32))
any_llrs = arrays(np.float32, HEADER_CODED_BITS, elements=st.floats(width=32))


def _assert_valid(header):
    assert header is None or isinstance(header, PhyHeader)
    if header is not None:  # the dataclass checks its fields; re-encoding must work
        assert encode_header(header).shape == (HEADER_CODED_BITS,)


@fuzz(300, ms_per_example=10)
@given(llr=st.one_of(finite_llrs, any_llrs))
def test_header_decoder_takes_any_llrs(llr):
    """Random LLRs, NaN and Inf included: None or a valid header."""
    _assert_valid(decode_header(llr))


@fuzz(400, ms_per_example=10)
@given(header=headers, data=st.data())
def test_corrupted_header_decodes_to_itself_or_fails(header, data):
    """The sent header's LLRs with random flips, erasures and noise: the
    decoder may fail, but it must never return a different header."""
    llr = (1.0 - 2.0 * encode_header(header).astype(np.float32)) * 4.0
    flips = data.draw(st.lists(st.integers(0, HEADER_CODED_BITS - 1), max_size=30))
    erasures = data.draw(st.lists(st.integers(0, HEADER_CODED_BITS - 1), max_size=40))
    noise = data.draw(st.floats(0, 6))
    seed = data.draw(st.integers(0, 2**32 - 1))
    llr[flips] *= -1
    llr[erasures] = 0
    llr += np.random.default_rng(seed).normal(0, noise, HEADER_CODED_BITS).astype(np.float32)
    decoded = decode_header(llr)
    assert decoded is None or decoded == header, f"wrong accept: sent {header}, got {decoded}"


@fuzz(100, ms_per_example=30)
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.0, 1e-6, 1.0, 1e3, 1e30]),
       poison=st.sampled_from([None, np.inf, np.nan]))
def test_header_window_takes_any_samples(seed, scale, poison):
    """Noise of any power, huge values and non-finite samples in the window
    the burst decoder synchronises on: None or a header, no exception."""
    rng = np.random.default_rng(seed)
    n = header_window_length(PARAMS)
    window = (scale * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(np.complex64)
    if poison is not None:
        window[rng.integers(0, n, 5)] = poison
    burst = decode_header_window(window, PARAMS)
    assert burst is None or isinstance(burst, BurstHeader)
