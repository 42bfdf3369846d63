"""A recording's metadata read strictly (issue 16): every problem one line
naming the file and the field, through ``read_recording`` and ``tokencom rx
--replay``; and fuzzing of the reader (``TOKENCOM_FUZZ_EXAMPLES`` raises the
counts)."""

import contextlib
import io
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import fuzz
from tokencom_sdr.cli.main import main
from tokencom_sdr.radio.sigmf_file import RecordingError, read_recording
from tokencom_sdr.radio.sigmf_meta import SigmfMeta, parse_sigmf_meta

GOOD = {"global": {"core:datatype": "cf32_le", "core:sample_rate": 2e6, "core:version": "1.0.0",
                   "core:hw": "test", "tokencom:mcs": "qpsk-1/2", "tokencom:sync_threshold": 0.3},
        "captures": [{"core:sample_start": 0, "core:frequency": 2.45e9}], "annotations": []}


def _recording(tmp_path, meta) -> str:
    (tmp_path / "r.sigmf-data").write_bytes(np.zeros(64, np.complex64).tobytes())
    path = tmp_path / "r.sigmf-meta"
    path.write_bytes(meta if isinstance(meta, bytes) else json.dumps(meta).encode())
    return str(path)


def _with(section: str, **fields) -> dict:
    meta = json.loads(json.dumps(GOOD))
    if section == "global":
        meta["global"].update(fields)
    else:
        meta.update(fields)
    return meta


@pytest.mark.timeout(30)
def test_good_metadata_reads():
    meta = parse_sigmf_meta(json.dumps(GOOD).encode(), "r.sigmf-meta")
    assert meta == SigmfMeta("cf32_le", 2e6, 1, 2.45e9, "test", "qpsk-1/2", 0.3, [])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("meta, words", [
    (_with("top", captures=[5]), "captures[0]: must be a JSON object, got 5"),
    (_with("top", captures="all"), "captures: must be a list"),
    (_with("global", **{"core:num_channels": "two"}),
     "global.core:num_channels: must be a whole number >= 1, got 'two'"),
    (_with("global", **{"core:num_channels": 2}), "core:num_channels: 2 channels; replay needs 1"),
    (_with("global", **{"core:sample_rate": "fast"}), "global.core:sample_rate: must be a finite"),
    (_with("global", **{"core:sample_rate": -1}), "global.core:sample_rate: must be > 0"),
    (_with("global", **{"core:datatype": 7}), "global.core:datatype: must be a string"),
    (_with("global", **{"tokencom:sync_threshold": [0.3]}), "global.tokencom:sync_threshold"),
    (_with("top", annotations=[{}, "x"]), "annotations[1]: must be a JSON object"),
    ({"global": "x" * 500}, "global: must be a JSON object, got 'xxx"),
    ([1, 2], "must be a JSON object, got [1, 2]"),
    (b'{"global": {"core:hw": "caf\xe9"}}', "not UTF-8 (byte 27)"),
    (b"{not json", "not JSON"),
    (b"[" * 100_000, "not JSON"),
])
def test_bad_metadata_is_one_line_naming_file_and_field(tmp_path, meta, words):
    path = _recording(tmp_path, meta)
    with pytest.raises(RecordingError) as error:
        read_recording(path)
    line = str(error.value)
    assert words in line and path in line and "\n" not in line and len(line) < 1000, line


@pytest.mark.timeout(60)
def test_rx_replay_of_bad_metadata_is_one_line(tmp_path):
    """``"captures": [5]`` was an AttributeError traceback."""
    path = _recording(tmp_path, _with("top", captures=[5]))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["rx", "--replay", path])
    assert code == 1
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and "captures[0]" in lines[0] and path in lines[0], lines


# ---------------------------------------------------------------- fuzzing

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**64, 2**64),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
json_values = st.recursive(json_scalars,
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=10), inner,
                                                                   max_size=3)),
                           max_leaves=10)
GLOBAL_KEYS = ["core:datatype", "core:sample_rate", "core:num_channels", "core:hw", "core:version",
               "tokencom:mcs", "tokencom:sync_threshold"]


def _assert_parses_or_one_line(data: bytes):
    try:
        meta = parse_sigmf_meta(data, "fuzz.sigmf-meta", RecordingError)
    except RecordingError as error:
        line = str(error)
        assert line.startswith("fuzz.sigmf-meta: ") and "\n" not in line and len(line) < 1000
        return
    assert isinstance(meta.datatype, str) and math.isfinite(meta.sample_rate_hz)
    assert meta.sample_rate_hz > 0 and isinstance(meta.num_channels, int)
    assert meta.num_channels >= 1 and isinstance(meta.hardware, str)
    assert meta.center_freq_hz is None or math.isfinite(meta.center_freq_hz)
    assert meta.sync_threshold is None or math.isfinite(meta.sync_threshold)
    assert all(isinstance(a, dict) for a in meta.annotations)


@fuzz(400, ms_per_example=15)
@given(glob=st.dictionaries(st.sampled_from(GLOBAL_KEYS), json_values, max_size=7),
       captures=json_values, annotations=json_values,
       drop=st.sets(st.sampled_from(["captures", "annotations"])))
def test_sigmf_meta_field_fuzz(glob, captures, annotations, drop):
    """Metadata with the right keys and values of any JSON type."""
    meta = {"global": glob, "captures": captures, "annotations": annotations}
    for key in drop:
        del meta[key]
    _assert_parses_or_one_line(json.dumps(meta).encode())


@fuzz(400, ms_per_example=5)
@given(data=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                      st.builds(lambda good, cut, junk: good[:cut] + junk,
                                st.just(json.dumps(GOOD).encode()), st.integers(0, 400),
                                st.binary(max_size=20))))
def test_sigmf_meta_byte_fuzz(data):
    """Any bytes, any JSON, and the good file cut anywhere with junk after."""
    _assert_parses_or_one_line(data)
