"""Fuzzing of what reads untrusted input (issue 16): the PHY header decoder
(LLRs and raw sample windows) and the radio-profile loader. The packet
parser's fuzzing lives in ``test_link_packets.py``, the SigMF reader's in
``test_sigmf_meta.py``. ``TOKENCOM_FUZZ_EXAMPLES`` raises every count.

The invariants: no input raises anything but the documented error; what
is accepted is valid; and a corrupted header either fails or decodes to
the header that was sent, never to another one (a wrong accept).
"""

import string

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuzzing import fuzz
from tokencom_sdr.phy.burst_decoding import BurstHeader, decode_header_window, header_window_length
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.phy.phy_header import (HEADER_CODED_BITS, MAX_PAYLOAD_BYTES, PhyHeader,
                                         decode_header, encode_header)
from tokencom_sdr.radio.checks import ProfileError
from tokencom_sdr.radio.profile import RadioProfile, load_profile

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


# ---------------------------------------------------------------- profiles

FIELDS = ["backend", "name", "mcs", "sync_threshold", "gap_len", "tx_amplitude", "snr_db", "cfo",
          "sco_ppm", "taps", "seed", "address", "hwm", "sample_rate_hz", "center_freq_hz",
          "message_timeout_s", "uri", "buffer_size", "rx_gain_db", "unknown_field"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=40), st.sampled_from(["zmq", "loopback", "pluto", "usrp",
                                                           "sigmf", "qpsk-1/2", "2.45G", "1e308"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner,
                                                                       max_size=3)),
                      max_leaves=8)


def _assert_one_line_error_or_profile(path, label: str = ""):
    """``label``: what the line must start with (the profile's name)."""
    try:
        profile = load_profile(path)
    except ProfileError as error:
        line = str(error)
        assert "\n" not in line and len(line) <= 1000 and line.startswith(label[:77]), line
        return
    assert isinstance(profile, RadioProfile)


@fuzz(300, ms_per_example=30)
@given(fields=st.dictionaries(st.sampled_from(FIELDS), values, max_size=8))
def test_profile_loader_field_fuzz(tmp_path_factory, fields):
    """Well-formed YAML with any fields of any type: a profile or one line."""
    path = tmp_path_factory.mktemp("profiles") / "fuzz.yaml"
    try:
        text = yaml.safe_dump(fields, allow_unicode=True)
    except yaml.YAMLError:
        return
    path.write_text(text, encoding="utf-8")
    name = fields.get("name")
    # The errors name the profile: its name, else its file (whose stem is the default name).
    label = name if isinstance(name, str) and name else str(path) if "name" in fields else "fuzz"
    _assert_one_line_error_or_profile(path, label.replace("\n", " "))


@fuzz(300, ms_per_example=10)
@given(data=st.one_of(st.binary(max_size=300),
                      st.text(alphabet=string.printable + "&*!|>-:{}[]'\"", max_size=300)
                      .map(lambda t: t.encode("utf-8"))))
def test_profile_loader_byte_fuzz(tmp_path_factory, data):
    """Any bytes (YAML syntax characters weighted in): a profile or one line."""
    path = tmp_path_factory.mktemp("profiles") / "fuzz.yaml"
    path.write_bytes(b"backend: zmq\n" + data)
    _assert_one_line_error_or_profile(path)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text, named_by_file", [
    ("backend: zmq\n{}:\n", True),         # a mapping as a field name: was a TypeError traceback
    ("backend: []\n", False),               # a list as the backend: was a TypeError traceback
    ("backend: zmq\nname: [null]\n", True),  # was labelled "[None]"
])
def test_profiles_the_fuzzing_found(tmp_path, text, named_by_file):
    path = tmp_path / "found.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    line = str(error.value)
    assert line.startswith(str(path) if named_by_file else "found: backend:") and "\n" not in line
