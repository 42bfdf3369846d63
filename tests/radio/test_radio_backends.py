"""The radio backend interface: every shipped profile validates through its
backend, the flags map onto each backend's own fields, and the SigMF and
loopback backends carry real IQ (a SigMF recording written by its sink
decodes, through its source, to the packets that were sent).

Nothing here contacts an address other than 127.0.0.1 (Pluto at
``ip:127.0.0.1``, USRP with ``type=b200``: USB only, ZMQ on 127.0.0.1)."""

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tokencom_sdr.radio.backend import RadioBackend, TxSink
from tokencom_sdr.radio.backends import BACKENDS, backend_names, get_backend
from tokencom_sdr.radio.checks import ProfileError
from tokencom_sdr.radio.errors import RadioUnavailableError
from tokencom_sdr.radio.loopback import IqCollector
from tokencom_sdr.radio.profile import (PACKAGE_PROFILES, RadioProfile, apply_overrides,
                                        load_profile, overrides_from_args, profile_from_dict,
                                        profile_search_path, replay_profile)
from tokencom_sdr.radio.sigmf_backend import RecordingSink, SigmfBackend
from tokencom_sdr.radio.sigmf_file import read_recording, recording_paths, validate_recording

REPO = Path(__file__).resolve().parents[2]
PACKAGE_YAML = sorted(PACKAGE_PROFILES.glob("*.yaml"))
RADIO_SOURCES = REPO / "tokencom_sdr" / "radio"
BACKEND_MODULES = ["backend.py", "backends.py", "checks.py", "pluto.py", "usrp.py",
                   "zmq_radio.py", "sigmf_backend.py", "loopback.py", "array_source.py",
                   "flowgraph_sink.py", "errors.py", "sigmf_file.py"]


# ----------------------------------------------------------------------------- registry


def test_the_package_ships_a_profile_for_every_backend():
    assert {p.stem for p in PACKAGE_YAML} >= {"pluto", "usrp_b210", "usrp_x310", "zmq",
                                              "loopback", "sigmf"}
    backends = {load_profile(p).backend for p in PACKAGE_YAML}
    assert backends == set(backend_names())


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", PACKAGE_YAML, ids=[p.stem for p in PACKAGE_YAML])
def test_every_packaged_profile_loads_and_validates(path):
    by_path = load_profile(path)
    by_name = load_profile(path.stem)
    assert Path(by_name.source).resolve() == path.resolve()
    assert by_name.to_dict() == by_path.to_dict()
    backend = get_backend(by_path.backend)
    # to_dict() holds exactly the common fields and the backend's own.
    assert backend.fields <= set(by_path.to_dict())
    other = set().union(*(b.fields for b in BACKENDS.values())) - backend.fields
    assert not other & set(by_path.to_dict())
    # Re-validating what to_dict() reports gives the same profile back.
    assert profile_from_dict(by_path.to_dict()).to_dict() == by_path.to_dict()
    assert by_path.hardware_label() == backend.hardware_label(by_path)
    assert by_path.device_address == backend.device_address(by_path)


def test_unknown_backend_is_a_clear_value_error():
    with pytest.raises(ValueError) as caught:
        get_backend("hackrf")
    message = str(caught.value)
    assert "unknown radio backend 'hackrf'" in message
    for name in ("pluto", "usrp", "zmq", "sigmf", "loopback"):
        assert name in message
    with pytest.raises(ProfileError, match="backend: unknown backend 'hackrf'"):
        profile_from_dict({"name": "x", "backend": "hackrf"})


@pytest.mark.parametrize("name", ["pluto", "usrp", "zmq", "sigmf", "loopback"])
def test_each_backend_declares_real_profile_fields(name):
    backend = get_backend(name)
    assert isinstance(backend, RadioBackend) and backend.name == name
    profile_fields = {f.name for f in RadioProfile.__dataclass_fields__.values()}
    assert backend.fields <= profile_fields
    if backend.address_field is not None:
        assert backend.address_field in backend.fields
    if backend.has_gain:
        assert {"tx_gain_db", "rx_gain_db"} <= backend.fields


# ----------------------------------------------------------------------------- flags


def test_args_flag_sets_each_backends_address_field():
    assert overrides_from_args("pluto", args="ip:127.0.0.1") == {"uri": "ip:127.0.0.1"}
    assert overrides_from_args("usrp", args="type=b200") == {"args": "type=b200"}
    assert overrides_from_args("zmq", args="tcp://127.0.0.1:0") == {"address": "tcp://127.0.0.1:0"}
    assert overrides_from_args("sigmf", args="x.sigmf-meta") == {"path": "x.sigmf-meta"}
    sigmf = apply_overrides(load_profile("sigmf"), args="out/other.sigmf-meta")
    assert sigmf.path == "out/other.sigmf-meta" and sigmf.device_address == sigmf.path


def test_flags_a_backend_lacks_name_the_flag():
    with pytest.raises(ProfileError) as caught:
        overrides_from_args("loopback", args="ip:127.0.0.1")
    assert caught.value.field == "args"
    assert "-a/--args does not apply to the loopback backend" in str(caught.value)
    for name in ("zmq", "sigmf", "loopback"):
        with pytest.raises(ProfileError) as caught:
            overrides_from_args(name, gain="10", direction="tx")
        assert caught.value.field == "gain"
        assert f"-g does not apply to the {name} backend" in str(caught.value)
    assert overrides_from_args("usrp", gain="30", direction="tx") == {"tx_gain_db": 30.0}
    assert overrides_from_args("pluto", gain="20") == {"rx_gain_db": 20.0}


@pytest.mark.parametrize("path, words", [
    ("", ["path: missing", ".sigmf-meta"]),
    ("out/recording.wav", ["not a SigMF file name", ".sigmf-data"]),
])
def test_sigmf_profile_needs_a_sigmf_file_name(path, words):
    with pytest.raises(ProfileError) as caught:
        profile_from_dict({"backend": "sigmf", "name": "rec", "path": path})
    assert caught.value.field == "path"
    for word in words:
        assert word in str(caught.value)


# ----------------------------------------------------------------------------- profile search


def test_profile_search_path_order_and_user_profiles(tmp_path, monkeypatch):
    env_dir, home = tmp_path / "env", tmp_path / "home"
    user_dir = home / ".config" / "tokencom" / "profiles"
    user_dir.mkdir(parents=True)
    monkeypatch.setenv("TOKENCOM_HW_CONFIGS", str(env_dir))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert profile_search_path() == [env_dir, tmp_path / "hw_configs", user_dir, PACKAGE_PROFILES]
    # A user's own profile is found by name; the packaged ones still are.
    (user_dir / "bench.yaml").write_text("backend: zmq\naddress: tcp://127.0.0.1:6001\n")
    assert load_profile("bench").address == "tcp://127.0.0.1:6001"
    assert Path(load_profile("pluto").source) == PACKAGE_PROFILES / "pluto.yaml"
    # The earlier folder wins over the package for the same name.
    (user_dir / "zmq.yaml").write_text("backend: zmq\naddress: tcp://127.0.0.1:6002\n")
    assert load_profile("zmq").address == "tcp://127.0.0.1:6002"


@pytest.mark.timeout(60)
def test_packaged_profiles_are_found_from_any_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TOKENCOM_HW_CONFIGS"}
    env["HOME"] = str(tmp_path)
    code = ("from tokencom_sdr.radio.profile import load_profile; "
            "print(load_profile('zmq').source)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=50)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == PACKAGE_PROFILES / "zmq.yaml"
    help_text = subprocess.run([sys.executable, "-m", "tokencom_sdr.cli", "tx", "--help"],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=50)
    assert help_text.returncode == 0, help_text.stderr
    assert str(PACKAGE_PROFILES) in " ".join(help_text.stdout.split())


# ----------------------------------------------------------------------------- layering


@pytest.mark.parametrize("module", BACKEND_MODULES)
def test_backend_modules_stay_below_profiles_gr_and_app(module):
    """Backends validate with checks.py; profile.py looks them up, so an
    import the other way would be a cycle. gr/ and app/ are layers above."""
    tree = ast.parse((RADIO_SOURCES / module).read_text(encoding="utf-8"))
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
    for name in imported:
        assert name not in (".profile", "tokencom_sdr.radio.profile"), (module, name)
        assert not name.startswith(("..gr", "..app", "..cli", "tokencom_sdr.gr",
                                    "tokencom_sdr.app", "tokencom_sdr.cli")), (module, name)


# ----------------------------------------------------------------------------- devices


@pytest.mark.timeout(30)
def test_pluto_and_usrp_backends_report_a_missing_device():
    pluto = apply_overrides(load_profile("pluto"), args="ip:127.0.0.1")
    with pytest.raises(RadioUnavailableError, match="PlutoSDR not available at 'ip:127.0.0.1'"):
        get_backend("pluto").make_source(pluto)
    with pytest.raises(RadioUnavailableError, match="PlutoSDR not available at 'ip:127.0.0.1'"):
        get_backend("pluto").make_sink(pluto, log=lambda m: None)
    usrp = load_profile("usrp_b210")
    assert usrp.args == "type=b200"  # USB discovery only
    with pytest.raises(RadioUnavailableError, match="USRP not available at 'type=b200'"):
        get_backend("usrp").make_source(usrp)
    with pytest.raises(RadioUnavailableError, match="USRP not available at 'type=b200'"):
        get_backend("usrp").make_sink(usrp, log=lambda m: None)


@pytest.mark.timeout(30)
def test_zmq_backend_sink_to_source():
    from gnuradio import blocks, gr

    profile = apply_overrides(load_profile("zmq"), args="tcp://127.0.0.1:0")
    backend = get_backend("zmq")
    lines = []
    sink = backend.make_sink(profile, log=lines.append)
    assert isinstance(sink, TxSink)
    endpoint = sink.sender.endpoint
    assert endpoint.startswith("tcp://127.0.0.1:") and lines[0] == f"zmq: bound to {endpoint}"
    iq = ((np.arange(20000) % 97 - 48) * (1 + 0.5j)).astype(np.complex64)
    receiving = apply_overrides(profile, args=endpoint)
    tb = gr.top_block("zmq_backend", catch_exceptions=False)
    tb.source = backend.make_source(receiving)
    tb.out = blocks.vector_sink_c()
    tb.connect(tb.source, tb.out)
    tb.start()
    try:
        sink.send(iq)
        sink.close()
        # The PULL source never ends its stream: watch what has arrived.
        deadline = time.monotonic() + 10
        while len(tb.out.data()) < len(iq) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        tb.stop()
        tb.wait()
    assert np.array_equal(np.asarray(tb.out.data(), dtype=np.complex64), iq)


# ----------------------------------------------------------------------------- loopback


def test_iq_collector_keeps_what_was_sent():
    collector = get_backend("loopback").make_sink(load_profile("loopback"), log=lambda m: None)
    assert isinstance(collector, IqCollector)
    empty = collector.samples()
    assert empty.dtype == np.complex64 and empty.shape == (0,)
    first, second = np.ones(3, dtype=np.complex64), np.full(2, 1j, dtype=np.complex64)
    collector.send(first)
    collector.send(second)
    collector.close()
    assert len(collector.chunks) == 2
    assert np.array_equal(collector.samples(), np.concatenate([first, second]))
    assert collector.samples().dtype == np.complex64


def test_loopback_backend_has_a_channel_and_no_receiver_of_its_own():
    from tokencom_sdr.channel.loopback_channel import LoopbackChannel

    backend = get_backend("loopback")
    profile = load_profile("loopback")
    assert backend.loops_back and not backend.finite_source
    assert not any(get_backend(n).loops_back for n in backend_names() if n != "loopback")
    assert isinstance(backend.make_channel(profile), LoopbackChannel)
    assert get_backend("zmq").make_channel(load_profile("zmq")) is None
    with pytest.raises(ValueError, match="has no receiver of its own.*tokencom rx --replay"):
        backend.make_source(profile)


@pytest.mark.timeout(120)
def test_tx_over_the_loopback_profile_receives_the_text(tmp_path):
    summary_path = tmp_path / "summary.json"
    text = "through the software channel"
    result = subprocess.run([sys.executable, "-m", "tokencom_sdr.cli", "tx", "--radio", "loopback",
                             "--text", text, "--json", str(summary_path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, result.stderr
    assert text in result.stdout
    summary = json.loads(summary_path.read_text())
    assert summary["messages"] == 1 and len(summary["reports"]) == 1
    assert summary["reports"][0]["packets_received"] == summary["packets"]


# ----------------------------------------------------------------------------- SigMF


@pytest.fixture(scope="module")
def sent_packets():
    from tokencom_sdr.link import make_aggregation, packetize
    from tokencom_sdr.tokens.text_bpe import TextTokenizer

    frame = TextTokenizer.default().encode_frame(
        "A recording is a radio too: written by the transmitter, played to the receiver.")
    return packetize(frame, 21, make_aggregation("interleaved", 8))


@pytest.mark.timeout(120)
def test_sigmf_backend_round_trip(tmp_path, sent_packets):
    """RecordingSink writes a real modulated message; the backend's source
    plays it into the OFDM receiver, which delivers the same packet bytes."""
    from gnuradio import gr

    from tokencom_sdr.phy.modem import modulate
    from tokencom_sdr.phy.ofdm_rx import OfdmBurstRx

    assert len(sent_packets) > 1
    record = tmp_path / "sub" / "message.sigmf-data"
    profile = apply_overrides(load_profile("sigmf"), args=str(record))
    backend = get_backend("sigmf")
    assert isinstance(backend, SigmfBackend) and backend.finite_source
    iq = modulate(sent_packets, profile.mcs) * np.float32(profile.tx_amplitude)
    lines = []
    sink = backend.make_sink(profile, log=lines.append)
    assert isinstance(sink, RecordingSink)
    half = len(iq) // 2
    sink.send(iq[:half])
    sink.send(iq[half:])
    sink.close()
    assert any(str(record) in line for line in lines)

    data_path, meta_path = recording_paths(record)
    validate_recording(meta_path)
    samples, info = read_recording(meta_path)
    assert np.array_equal(samples, iq)
    assert info.sample_rate_hz == profile.sample_rate_hz
    assert info.center_freq_hz == profile.center_freq_hz
    assert info.mcs == profile.mcs and info.sync_threshold == profile.sync_threshold
    assert info.hardware == backend.hardware_label(profile)
    meta = json.loads(meta_path.read_text())
    assert meta["global"]["tokencom:direction"] == "tx"

    # Played back through the backend: -a may name either file of the pair.
    playback = apply_overrides(profile, args=str(meta_path))
    received = []
    tb = gr.top_block("sigmf_backend_playback", catch_exceptions=False)
    tb.source = backend.make_source(playback)
    tb.rx = OfdmBurstRx(playback.sync_threshold)
    # Called from the flowgraph's thread; read only after run() has joined it.
    tb.rx.decoder.listeners.append(lambda burst: received.append(burst.data))
    tb.connect(tb.source, tb.rx)
    tb.run()
    assert received == sent_packets


@pytest.mark.timeout(60)
def test_sigmf_sink_without_messages_writes_nothing(tmp_path):
    record = tmp_path / "empty.sigmf-data"
    profile = apply_overrides(load_profile("sigmf"), args=str(record))
    lines = []
    sink = get_backend("sigmf").make_sink(profile, log=lines.append)
    sink.close()
    assert not record.exists() and "nothing was sent" in lines[0]


@pytest.mark.timeout(60)
def test_replay_profile_takes_the_recordings_settings(tmp_path, sent_packets):
    from tokencom_sdr.phy.modem import modulate

    record = tmp_path / "replay.sigmf-data"
    written = apply_overrides(load_profile("sigmf"), args=str(record), rate="1M", freq="915M")
    sink = get_backend("sigmf").make_sink(written, log=lambda m: None)
    sink.send(modulate(sent_packets[:1], written.mcs))
    sink.close()
    alone = replay_profile(record)
    assert (alone.backend, alone.sample_rate_hz, alone.center_freq_hz) == ("sigmf", 1e6, 915e6)
    assert alone.path == str(recording_paths(record)[1])
    # A --radio profile adds its common settings; its device fields do not apply to a file.
    base = apply_overrides(load_profile("pluto"), args="ip:127.0.0.1")
    base.message_timeout_s = 2.5
    merged = replay_profile(recording_paths(record)[1], base)
    assert merged.backend == "sigmf" and merged.message_timeout_s == 2.5
    assert merged.sample_rate_hz == 1e6 and merged.name == "pluto"
