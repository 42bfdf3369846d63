"""Radio profiles: the shipped YAML files validate, every bad field gets its
own message, and the UHD-style flags override fields before validation."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tokencom_sdr.radio.profile import (
    ProfileError,
    apply_overrides,
    load_profile,
    overrides_from_args,
    parse_si,
    profile_from_dict,
)

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "tokencom_sdr" / "radio" / "profiles"
SHIPPED = ["pluto", "usrp_b210", "usrp_x310", "zmq", "loopback"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_validates(name):
    profile = load_profile(name)
    assert profile.name == name
    # Found through ./hw_configs (a link) or the package's own folder: the same file.
    assert Path(profile.source).resolve() == PROFILES / f"{name}.yaml"
    # Re-validating what to_dict() reports gives the same profile back.
    again = profile_from_dict(profile.to_dict())
    assert again.to_dict() == profile.to_dict()


def _raw(name):
    return yaml.safe_load((PROFILES / f"{name}.yaml").read_text())


# (profile, changes, field named in the error, words the message must contain)
BAD_FIELDS = [
    ("pluto", {"center_freq_hz": 5.0e9}, "center_freq_hz", ["stock LO", "extended_tuning"]),
    ("pluto", {"center_freq_hz": 100e6}, "center_freq_hz", ["below", "325 MHz"]),
    ("pluto", {"center_freq_hz": 6.5e9, "extended_tuning": True}, "center_freq_hz",
     ["extended LO", "6 GHz"]),
    ("pluto", {"sample_rate_hz": 1.0e6, "fir_filter": "off"}, "sample_rate_hz",
     ["2.084 MS/s", "fir_filter: auto"]),
    ("pluto", {"sample_rate_hz": 400e3}, "sample_rate_hz", ["400 kS/s", "520.833 kS/s"]),
    ("pluto", {"sample_rate_hz": 70e6}, "sample_rate_hz", ["above", "61.44 MS/s"]),
    ("pluto", {"rf_bandwidth_hz": 30e6}, "rf_bandwidth_hz", ["RF bandwidth", "20 MHz"]),
    ("pluto", {"tx_gain_db": 3.0}, "tx_gain_db", ["above", "-89.75"]),
    ("pluto", {"tx_gain_db": -90.0}, "tx_gain_db", ["below", "-89.75"]),
    ("pluto", {"tx_gain_db": -10.1}, "tx_gain_db", ["0.25 dB", "step"]),
    ("pluto", {"rx_gain_db": 72.0}, "rx_gain_db", ["71 dB", "2.45 GHz"]),
    ("pluto", {"rx_gain_db": 63.0, "center_freq_hz": 5.0e9, "extended_tuning": True},
     "rx_gain_db", ["62 dB", "5 GHz"]),
    ("pluto", {"rx_gain_mode": "auto"}, "rx_gain_mode", ["slow_attack"]),
    ("pluto", {"uri": "192.168.2.1"}, "uri", ["IIO context URI", "ip:HOST"]),
    ("pluto", {"fir_filter": "design"}, "fir_filter", ["auto", "off"]),
    ("pluto", {"buffer_size": 100}, "buffer_size", ["1024"]),
    ("pluto", {"mcs": "qpsk-7/8"}, "mcs", ["unknown MCS"]),
    ("pluto", {"sync_threshold": 1.2}, "sync_threshold", ["(0, 1)"]),
    ("pluto", {"tx_amplitude": 1.5}, "tx_amplitude", ["clipping"]),
    ("pluto", {"gap_len": 10}, "gap_len", [">= 100"]),
    ("pluto", {"burst_padding": -1}, "burst_padding", [">= 0"]),
    ("pluto", {"message_timeout_s": 0}, "message_timeout_s", ["> 0"]),
    ("pluto", {"center_freq_hz": "two GHz"}, "center_freq_hz", ["must be a number"]),
    ("pluto", {"extended_tuning": "yes"}, "extended_tuning", ["true or false"]),
    ("pluto", {"buffer_size": 1024.5}, "buffer_size", ["integer"]),
    ("pluto", {"sampl_rate_hz": 2e6}, "sampl_rate_hz", ["unknown field", "sample_rate_hz"]),
    ("pluto", {"args": "type=b200"}, "args", ["does not apply", "pluto"]),
    ("usrp_b210", {"tx_gain_db": 95.0}, "tx_gain_db", ["B210 TX gain", "89.75"]),
    ("usrp_b210", {"rx_gain_db": 80.0}, "rx_gain_db", ["B210 RX gain", "76"]),
    ("usrp_b210", {"center_freq_hz": 50e6}, "center_freq_hz", ["B210 tuning", "70 MHz"]),
    ("usrp_b210", {"args": "type b200"}, "args", ["UHD device address"]),
    ("usrp_b210", {"model": "n210"}, "model", ["b200", "x310"]),
    ("usrp_x310", {"sample_rate_hz": 3.0e6}, "sample_rate_hz", ["divided by an integer"]),
    ("usrp_x310", {"tx_gain_db": 40.0}, "tx_gain_db", ["X310 TX gain", "31.5"]),
    ("usrp_x310", {"master_clock_rate_hz": 100e6}, "master_clock_rate_hz", ["200 MHz"]),
    ("zmq", {"address": "127.0.0.1:5555"}, "address", ["ZMQ endpoint", "tcp://"]),
    ("zmq", {"address": "tcp://127.0.0.1:70000"}, "address", ["65535"]),
    ("zmq", {"hwm": 0}, "hwm", [">= 1"]),
    ("zmq", {"drain_timeout_s": 0}, "drain_timeout_s", ["> 0"]),
    ("loopback", {"cfo": 0.6}, "cfo", ["(-0.5, 0.5)"]),
    ("loopback", {"taps": ["1", "x"]}, "taps", ["cannot read tap"]),
    ("loopback", {"sco_ppm": 2e5}, "sco_ppm", ["plausible"]),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name, changes, field, words", BAD_FIELDS,
                         ids=[f"{n}-{f}-{i}" for i, (n, _, f, _) in enumerate(BAD_FIELDS)])
def test_each_bad_field_has_its_own_message(name, changes, field, words):
    raw = _raw(name)
    raw.update(changes)
    raw["name"] = name
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(raw)
    error = caught.value
    assert error.field == field, str(error)
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{name}: {field}: ")
    for word in words:
        assert word in message, message


@pytest.mark.timeout(30)
def test_band_dependent_rx_gain_limits():
    # 72 dB is too much at 2.45 GHz (-3..71) but fine at 1 GHz (-1..73).
    raw = _raw("pluto")
    raw.update(rx_gain_db=72.0, center_freq_hz=1.0e9)
    assert profile_from_dict(raw).rx_gain_db == 72.0
    # Extended tuning admits 6 GHz, which the stock LO range refuses.
    raw = _raw("pluto")
    raw.update(center_freq_hz=6.0e9, extended_tuning=True, rx_gain_db=50)
    assert profile_from_dict(raw).center_freq_hz == 6.0e9


@pytest.mark.timeout(30)
def test_missing_and_unknown_backend():
    with pytest.raises(ProfileError, match="backend: missing"):
        profile_from_dict({"name": "x", "uri": "ip:1.2.3.4"})
    with pytest.raises(ProfileError, match="unknown backend 'hackrf'"):
        profile_from_dict({"name": "x", "backend": "hackrf"})


@pytest.mark.timeout(30)
def test_file_level_errors(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ProfileError, match="the file is empty"):
        load_profile(empty)
    listing = tmp_path / "list.yaml"
    listing.write_text("- backend\n- pluto\n")
    with pytest.raises(ProfileError, match="expected a mapping"):
        load_profile(listing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("backend: pluto\nuri: [unclosed\n")
    with pytest.raises(ProfileError, match="not valid YAML at line"):
        load_profile(broken)
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile(tmp_path / "missing.yaml")
    with pytest.raises(ProfileError, match="did you mean 'pluto'"):
        load_profile("plutoo")


@pytest.mark.timeout(30)
def test_uhd_style_overrides():
    pluto = load_profile("pluto")
    tx = apply_overrides(pluto, args="ip:127.0.0.1", freq="2.4G", rate="3M", gain="-10",
                         direction="tx")
    assert (tx.uri, tx.center_freq_hz, tx.sample_rate_hz, tx.tx_gain_db) == \
        ("ip:127.0.0.1", 2.4e9, 3e6, -10.0)
    assert tx.rx_gain_db == pluto.rx_gain_db
    rx = apply_overrides(pluto, gain="20", direction="rx")
    assert (rx.rx_gain_db, rx.tx_gain_db) == (20.0, pluto.tx_gain_db)
    usrp = apply_overrides(load_profile("usrp_b210"), args="type=b200,serial=ABC")
    assert usrp.args == "type=b200,serial=ABC"
    zmq = apply_overrides(load_profile("zmq"), args="tcp://127.0.0.1:6000")
    assert zmq.address == "tcp://127.0.0.1:6000"
    # An override is validated like a YAML value.
    with pytest.raises(ProfileError, match="center_freq_hz: 7 GHz is above"):
        apply_overrides(pluto, freq="7e9")
    with pytest.raises(ProfileError, match="-g does not apply to the zmq backend"):
        overrides_from_args("zmq", gain="10")
    with pytest.raises(ProfileError, match="cannot read 'fast'"):
        overrides_from_args("pluto", rate="fast")


def test_parse_si():
    assert parse_si("2.45G") == 2.45e9
    assert parse_si("521k") == 521e3
    assert parse_si("915e6") == 915e6
    assert parse_si(3) == 3.0
    with pytest.raises(ValueError):
        parse_si("abc")


@pytest.mark.timeout(30)
def test_cli_rejects_out_of_range_override_before_touching_a_device():
    # 7 GHz is outside the Pluto's range: the profile check must fail before
    # any driver is called (so no device is contacted at all).
    result = subprocess.run(
        [sys.executable, "-m", "tokencom_sdr.cli", "rx", "--radio", "pluto", "-a", "ip:127.0.0.1",
         "-f", "7G", "--duration", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=25)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "tokencom: error: pluto: center_freq_hz: 7 GHz is above" in result.stderr


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text, message", [
    # The alias bomb of issue 16: 9 levels of anchors, 10 aliases each.
    ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8))
     + "backend: zmq\nname: *i\n", "aliases"),
    ("backend: zmq\ngap_len: 100\ngap_len: 200\n", "given twice"),
    ("backend: zmq\nname: [unclosed\n", "not valid YAML at line"),
])
def test_profile_yaml_is_read_strictly(tmp_path, text, message):
    import resource
    import time

    path = tmp_path / "bad.yaml"
    path.write_text(text)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    assert time.monotonic() - started < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    line = str(error.value)
    assert message in line and str(path) in line and "\n" not in line and len(line) < 1000


@pytest.mark.timeout(30)
def test_profile_that_is_not_text_or_too_big_is_refused(tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"backend: zmq\nname: \xff\xfe\n")
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(binary)
    big = tmp_path / "big.yaml"
    big.write_text("backend: zmq\n" + "# padding\n" * 10000)
    with pytest.raises(ProfileError, match="too large"):
        load_profile(big)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("line, field", [
    ("gap_len: 1000000000", "gap_len"), ("gap_len: .inf", "gap_len"), ("gap_len: 1e18", "gap_len"),
    ("gap_len: .nan", "gap_len"), ("taps: ['1e308', '1e308']", "taps"), ("snr_db: -.inf", "snr_db"),
    ("snr_db: .nan", "snr_db"), ("snr_db: -4000", "snr_db"), ("hwm: 99999999999", "hwm"),
    ("name: " + "x" * 5000, "name"), ("address: tcp://127.0.0.1:" + "9" * 3000, "address"),
])
def test_bad_profile_numbers_are_one_line_naming_the_field(tmp_path, line, field):
    """The profiles of issue 16 through the command line: non-zero exit
    within seconds, one line, no traceback, under 1 kB, naming the field."""
    backend = "loopback" if field in ("snr_db", "taps") else "zmq"
    path = tmp_path / "bad.yaml"
    path.write_text(f"backend: {backend}\n{line}\n")
    result = subprocess.run([sys.executable, "-m", "tokencom_sdr.cli", "tx", "--radio", str(path),
                             "--text", "hello"], capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output and len(output.encode()) < 1024, output[-1500:]
    assert field in output
