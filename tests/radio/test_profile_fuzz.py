"""Fuzzing of the radio-profile loader (issue 16): random fields and values,
and random bytes. ``TOKENCOM_FUZZ_EXAMPLES`` raises every count.

The invariant: every input gives a valid profile or one line of
``ProfileError`` naming the file, never anything else.
"""

import string

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from fuzzing import fuzz
from tokencom_sdr.radio.checks import ProfileError
from tokencom_sdr.radio.profile import RadioProfile, load_profile


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


@pytest.fixture(scope="module")
def fuzz_profile_path(tmp_path_factory):
    """One file that every example overwrites: a directory per example made
    the 10**5-case run slow (pytest numbers each new directory by listing
    all the earlier ones, so the cost grew with every case)."""
    return tmp_path_factory.mktemp("profiles") / "fuzz.yaml"


def _assert_one_line_error_or_profile(path, label: str = ""):
    """``label``: what a field error must start with (the profile's name).
    An error in the YAML itself starts with the file and the line instead."""
    try:
        profile = load_profile(path)
    except ProfileError as error:
        line = str(error)
        assert "\n" not in line and len(line) <= 1000, line
        assert line.startswith(label[:77]) or line.startswith(f"{path}: line "), line
        return
    assert isinstance(profile, RadioProfile)


@fuzz(300, ms_per_example=30)
@given(fields=st.dictionaries(st.sampled_from(FIELDS), values, max_size=8))
@example(fields={"backend": {" ": None, "\x85": None}})  # a YAML error: named by file and line
def test_profile_loader_field_fuzz(fuzz_profile_path, fields):
    """Well-formed YAML with any fields of any type: a profile or one line."""
    path = fuzz_profile_path
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
def test_profile_loader_byte_fuzz(fuzz_profile_path, data):
    """Any bytes (YAML syntax characters weighted in): a profile or one line."""
    path = fuzz_profile_path
    path.write_bytes(b"backend: zmq\n" + data)
    _assert_one_line_error_or_profile(path)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text, named_by_file", [
    ("backend: zmq\n{}:\n", True),         # a mapping as a field name: was a TypeError traceback
    ("backend: []\n", False),               # a list as the backend: was a TypeError traceback
    ("backend: zmq\nname: [null]\n", True),  # was labelled "[None]"
    # PyYAML's safe_dump of {' ': None, '\x85': None}: NEL reads back as a space,
    # so the two keys are one given twice (yaml.safe_load keeps the last silently)
    ("backend:\n  ' ': null\n  ? '\x85    '\n  : null\n", True),
])
def test_profiles_the_fuzzing_found(tmp_path, text, named_by_file):
    path = tmp_path / "found.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    line = str(error.value)
    assert line.startswith(str(path) if named_by_file else "found: backend:") and "\n" not in line
