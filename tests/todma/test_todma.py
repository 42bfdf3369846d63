"""ToDMA (issue 17): OFDM frames with preamble, timing and CFO; detection,
clustering with K estimated, joint detection, collision masking and fill,
scoring by content, and the CLI."""

import json

import numpy as np
import pytest

from tokencom_sdr.channel import DeviceOffsets, superpose_devices
from tokencom_sdr.todma import (FrameLayout, ToDMAReceiver, align_sequences, aligned,
                                collision_positions, detect_frame_start, detect_tokens,
                                detect_with_channels, devices_in_clouds, frame_waveforms,
                                gaussian_codebook, noise_variance, rayleigh_gains,
                                synchronise_frame, transmit_frame, transmit_ofdm_frame)

VOCAB = 4096


@pytest.fixture(scope="module")
def codebook():
    return gaussian_codebook(64, VOCAB, seed=0)


def _assignment(result, tokens):
    """Non-colliding tokens on their own device before any fill, and the
    aligned (tokens, masked) arrays."""
    order = align_sequences(result.sequences.tokens, ~result.sequences.erased, tokens)
    got = aligned(result.sequences.tokens, order, -1)
    masked = aligned(result.sequences.erased, order, True)
    colliding = collision_positions(tokens)
    return ((got == tokens) & ~masked)[~colliding].mean(), got, masked


@pytest.mark.timeout(20)
def test_codebook_columns_have_unit_norm_and_depend_on_the_seed(codebook):
    assert codebook.shape == (64, VOCAB)
    np.testing.assert_allclose(np.linalg.norm(codebook, axis=0), 1.0, rtol=1e-5)
    assert not np.allclose(codebook, gaussian_codebook(64, VOCAB, seed=1))


@pytest.mark.timeout(20)
def test_omp_recovers_a_known_sparse_combination_at_high_snr(codebook):
    rng = np.random.default_rng(3)
    slots, active = 40, 5
    tokens = np.stack([rng.choice(VOCAB, active, replace=False) for _ in range(slots)], axis=1)
    gains = np.array([1.0, -0.8j, 0.6 + 0.6j, -0.5, 0.3 - 0.4j])
    uplink = transmit_frame(codebook, tokens, gains, snr_db=40.0, rng=rng)
    found = detect_tokens(uplink.received, codebook, uplink.noise_var, max_tokens=8)
    assert np.all(found.counts == active)  # the stopping rule took no spurious atom
    for slot in range(slots):
        got = dict(zip(found.tokens[slot][found.valid[slot]], found.gains[slot][found.valid[slot]]))
        assert set(got) == set(tokens[:, slot])
        estimated = np.array([got[t] for t in tokens[:, slot]])
        np.testing.assert_allclose(estimated, gains, atol=0.02)


@pytest.mark.timeout(20)
def test_omp_detects_nothing_in_noise_alone(codebook):
    rng = np.random.default_rng(4)
    noise = (rng.standard_normal((50, 64)) + 1j * rng.standard_normal((50, 64))) * np.sqrt(0.5e-3)
    assert detect_tokens(noise, codebook, 1e-3, max_tokens=4).counts.sum() == 0


# --- The multi-device channel and the OFDM frame --------------------------------------------


@pytest.mark.timeout(20)
def test_multi_device_channel_delays_rotates_and_adds_noise():
    rng = np.random.default_rng(7)
    waveform = rng.standard_normal((2, 300)) + 1j * rng.standard_normal((2, 300))
    offsets = DeviceOffsets(delays=np.array([3.0, 0.0]), cfos=np.array([0.0, 0.01]))
    out = superpose_devices(waveform, np.array([1.0, 0.0]), offsets, 0.0, rng, lead=5, tail=10)
    assert out.shape == (315,)
    # An integer delay is a plain shift; the silent device adds nothing.
    np.testing.assert_allclose(out[8:305], waveform[0, :297], atol=1e-5)
    np.testing.assert_allclose(out[:8], 0, atol=1e-6)
    out = superpose_devices(waveform, np.array([0.0, 2.0]), offsets, 0.0, rng)
    np.testing.assert_allclose(out, 2 * waveform[1] * np.exp(2j * np.pi * 0.01 * np.arange(300)),
                               atol=1e-4)
    noise = superpose_devices(np.zeros((1, 20000)), np.ones(1), DeviceOffsets.none(1), 0.3, rng)
    assert np.mean(np.abs(noise) ** 2) == pytest.approx(0.3, rel=0.05)
    with pytest.raises(ValueError, match="one gain, delay and CFO per device"):
        superpose_devices(waveform, np.ones(3), offsets, 0.0, rng)


@pytest.mark.timeout(30)
def test_frame_layout_counts_the_preamble_and_the_prefixes(codebook):
    layout = FrameLayout(slots=64, codeword_len=64)
    # 4096 symbols on 48 data carriers: 86 symbols (the last partly empty), 2 preamble symbols.
    assert layout.data_symbols == 86 and layout.samples == 88 * 80
    tokens = np.random.default_rng(1).integers(0, VOCAB, (3, 64))
    waves = frame_waveforms(codebook, tokens, layout)
    assert waves.shape == (3, layout.samples)
    # Unit-norm codewords on a unitary IFFT: each data symbol carries about 48/L of power per
    # FFT sample, the preamble the same per active carrier.
    data = waves[:, 160:].reshape(3, -1, 80)[:, :-1, 16:]
    assert np.mean(np.abs(data) ** 2) * 64 == pytest.approx((48 + 4) / 64, rel=0.1)
    with pytest.raises(ValueError, match="token ids"):
        frame_waveforms(codebook, tokens + VOCAB, layout)
    with pytest.raises(ValueError, match=r"need tokens \(K, N\) and gains \(K,\)"):
        transmit_ofdm_frame(codebook, tokens, np.ones(2), 20.0, np.random.default_rng(0))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("delay, cfo, excess", [(0.0, 0.0, 1.5), (2.0, 3e-4, 1.5),
                                               (0.0, -1.2e-3, 1.5), (2.4, 0.0, 2.0)])
def test_frame_sync_finds_the_frame_and_takes_off_common_timing_and_cfo(codebook, delay, cfo,
                                                                        excess):
    """Every device equally late and off frequency: the preamble and pilots
    remove it, and the slots match the devices' codewords to the noise. (A
    fractional delay rings across the symbol edges: about half the noise
    more at 40 dB, hence the larger bound.)"""
    rng = np.random.default_rng(11)
    layout = FrameLayout(slots=32, codeword_len=64)
    tokens = rng.integers(0, VOCAB, (4, 32))
    gains = np.array([1.0, 0.5j, -0.7, 0.3 + 0.3j])
    offsets = DeviceOffsets(delays=np.full(4, delay), cfos=np.full(4, cfo))
    noise_var = noise_variance(40.0, 64)
    samples = superpose_devices(frame_waveforms(codebook, tokens, layout), gains, offsets,
                                noise_var, rng, lead=300, tail=200)
    start = detect_frame_start(samples)
    assert abs(start - (300 + delay)) <= 3
    frame = synchronise_frame(samples, start, layout)
    assert frame.cfo == pytest.approx(cfo, abs=2e-6)
    clean = np.einsum("k,knl->nl", gains, codebook.T[tokens].astype(complex))
    phase = np.vdot(clean, frame.slots) / np.vdot(clean, clean)
    assert abs(abs(phase) - 1) < 0.02
    error = np.mean(np.abs(frame.slots - phase * clean) ** 2)
    assert error < excess * noise_var  # the synchronisation adds less than the noise itself


@pytest.mark.timeout(30)
def test_silence_has_no_frame_and_noise_has_no_device(codebook):
    with pytest.raises(ValueError, match="no ToDMA frame preamble"):
        detect_frame_start(np.zeros(3000, dtype=np.complex64))
    # The receiver reports no device instead: nothing was heard.
    nothing = ToDMAReceiver(codebook).receive_samples(
        np.zeros(3000, dtype=np.complex64), 1e-4, FrameLayout(slots=16, codeword_len=64))
    assert nothing.devices == 0 and nothing.frame is None
    # Noise alone may trigger the low-threshold detector, but no device comes out of it.
    rng = np.random.default_rng(2)
    layout = FrameLayout(slots=16, codeword_len=64)
    noise = superpose_devices(np.zeros((1, layout.samples)), np.zeros(1), DeviceOffsets.none(1),
                              noise_variance(20.0, 64), rng, lead=200, tail=200)
    result = ToDMAReceiver(codebook).receive_samples(noise, noise_variance(20.0, 64), layout,
                                                     start=200)
    assert result.devices == 0 and result.sequences.tokens.shape == (0, 16)


# --- Clustering, K, joint detection, collisions -------------------------------------------


@pytest.mark.timeout(20)
def test_cloud_sizes_count_devices_and_drop_collision_sums():
    # N = 64 slots: a device gives about 64 estimates, two merged devices about 128,
    # collision sums and spurious atoms a handful.
    counts = devices_in_clouds(np.array([63, 58, 40, 120, 31, 5, 2]), slots=64)
    assert counts.tolist() == [1, 1, 1, 2, 0, 0, 0]


@pytest.mark.timeout(60)
def test_receiver_estimates_k_and_assigns_non_colliding_tokens_at_20_db(codebook):
    rng = np.random.default_rng(5)
    devices, slots = 6, 128
    tokens = rng.integers(0, VOCAB, (devices, slots))
    tokens[1, :10] = tokens[0, :10]  # two-device collisions
    tokens[2, 10:14] = tokens[3, 10:14] = tokens[4, 10:14]  # three-device collisions
    gains = np.array([1.2, -0.9j, 0.7 + 0.6j, -0.6 + 0.2j, 0.4 - 0.5j, -1.1 - 0.8j])
    uplink = transmit_frame(codebook, tokens, gains, 20.0, rng)
    result = ToDMAReceiver(codebook).receive(uplink.received, uplink.noise_var)
    assert result.devices == devices  # K was not given
    rate, got, masked = _assignment(result, tokens)
    assert rate >= 0.99
    colliding = collision_positions(tokens)
    # Every collision, of two devices or of three, is masked for all of them and passed
    # on as no token.
    assert np.all(masked[colliding])
    assert masked[2:5, 10:14].all()
    assert np.all(result.sequences.tokens[result.sequences.erased] == 0)


@pytest.mark.timeout(20)
def test_joint_detection_completes_devices_a_collision_left_without_a_token(codebook):
    rng = np.random.default_rng(8)
    channels = np.array([1.0, 0.6j, -0.5 + 0.3j])
    tokens = rng.integers(0, VOCAB, (3, 20))
    tokens[:, 5] = 77  # all three send token 77 in slot 5
    tokens[1, 9] = tokens[0, 9]
    received = np.einsum("k,knl->nl", channels, codebook.T[tokens].astype(complex))
    start = tokens.copy()
    start[:, 5] = -1  # one atom with the sum of three channels: no device took it
    start[1, 9] = -1
    decided = detect_with_channels(received, codebook, channels, start)
    np.testing.assert_array_equal(decided, tokens)
    assert collision_positions(decided)[:, 5].all() and collision_positions(decided)[:2, 9].all()


@pytest.mark.timeout(20)
def test_scoring_pairs_sequences_by_content_and_counts_a_missing_device_wrong():
    sent = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 9, 9]])
    received = np.array([[5, 6, 0, 8], [1, 2, 3, 0]])  # device 2 not found, the rest swapped
    usable = received > 0
    order = align_sequences(received, usable, sent)
    assert order.tolist() == [1, 0, -1]
    assert aligned(received, order, -1).tolist() == [[1, 2, 3, 0], [5, 6, 0, 8], [-1] * 4]


# --- The OFDM path end to end, with per-device offsets ----------------------------------


@pytest.mark.timeout(60)
def test_ofdm_frames_with_a_common_timing_and_cfo_error_keep_the_assignment(codebook):
    rng = np.random.default_rng(9)
    devices = 6
    tokens = rng.integers(0, VOCAB, (devices, 64))
    gains = np.array([1.2, -0.9j, 0.7 + 0.6j, -0.6 + 0.2j, 0.4 - 0.5j, -1.1 - 0.8j])
    offsets = DeviceOffsets(delays=np.full(devices, 5.3), cfos=np.full(devices, 8e-4))
    uplink = transmit_ofdm_frame(codebook, tokens, gains, 20.0, rng, offsets)
    assert uplink.channel_uses == uplink.layout.samples == (2 + 86) * 80
    result = ToDMAReceiver(codebook).receive_samples(uplink.samples, uplink.noise_var,
                                                     uplink.layout)
    assert result.devices == devices
    assert result.frame.start == 205  # the frame guard and the whole samples of the delay
    assert result.frame.cfo == pytest.approx(8e-4, abs=1e-5)
    assert _assignment(result, tokens)[0] >= 0.99


@pytest.mark.timeout(20)
def test_offset_draws_share_the_common_part():
    rng = np.random.default_rng(3)
    offsets = DeviceOffsets.draw(5, 0.0, 0.0, rng, common_delay=4.0, common_cfo=1e-3)
    assert np.ptp(offsets.delays) == 0 and np.ptp(offsets.cfos) == 0
    assert 0 <= offsets.delays[0] <= 4 and abs(offsets.cfos[0]) <= 1e-3
    spread = DeviceOffsets.draw(5, 0.5, 1e-5, rng)
    assert np.all((spread.delays >= 0) & (spread.delays <= 0.5)) and np.ptp(spread.cfos) > 0
    with pytest.raises(ValueError, match="must be >= 0"):
        DeviceOffsets.draw(2, -1.0, 0.0, rng)


@pytest.mark.timeout(60)
def test_text_collisions_are_masked_and_filled_from_context(codebook, text_recovery, tokenizer):
    from tokencom_sdr.data.heldout_messages import heldout_messages

    devices, slots = 4, 48
    texts = heldout_messages(devices, tokenizer, slots, 128, seed=0)
    tokens = np.stack([tokenizer.encode(text)[:slots] for text in texts])
    colliding = collision_positions(tokens)
    assert colliding.sum() >= 4  # held-out text collides on its own (",", " the", ...)
    rng = np.random.default_rng(6)
    uplink = transmit_ofdm_frame(codebook, tokens, rayleigh_gains(devices, rng), 30.0, rng)
    result = ToDMAReceiver(codebook).receive_samples(
        uplink.samples, uplink.noise_var, uplink.layout, text_recovery=text_recovery,
        bits_per_token=tokenizer.bits_per_token)
    _, _, masked = _assignment(result, tokens)
    order = align_sequences(result.sequences.tokens, ~result.sequences.erased, tokens)
    filled = aligned(result.filled, order, -1)
    assert np.all(masked[colliding])
    assert np.array_equal(filled[~masked], tokens[~masked])
    assert np.mean(filled[colliding] == tokens[colliding]) >= 0.8


@pytest.mark.timeout(60)
def test_cli_writes_the_json_fields(tmp_path):
    from tokencom_sdr.cli.main import main

    out = tmp_path / "todma.json"
    assert main(["todma", "--devices", "2", "--messages", "1", "--slots", "32",
                 "--schemes", "todma,todma-no-context,tdma", "--no-semantic",
                 "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["scheme"] for r in rows] == ["todma", "todma-no-context", "tdma"]
    for row in rows:
        for key in ("devices", "snr_db", "scheme", "collisions", "collisions_resolved_rate",
                    "token_error_rate", "exact_rate", "semantic_similarity", "channel_uses"):
            assert key in row
        assert row["devices"] == 2 and row["snr_db"] == 20.0
    todma, tdma = rows[0], rows[2]
    # 32 slots x 64 symbols on 48 carriers: 43 data symbols and 2 preamble symbols of 80 samples.
    assert todma["channel_uses"] == 45 * 80 and todma["channel_uses_symbols"] == 32 * 64
    assert tdma["channel_uses"] > todma["channel_uses"]  # from the real PHY's samples
    assert todma["channel_use_ratio_vs_tdma"]["samples"] == pytest.approx(
        todma["channel_uses"] / tdma["channel_uses"])
    assert todma["known_devices"] is False and todma["devices_estimated"] == 2.0
    assert 0.0 <= todma["token_error_rate"] <= 1.0


@pytest.mark.timeout(10)
def test_todma_package_imports_no_application_layer():
    import ast
    from pathlib import Path

    import tokencom_sdr.todma as package

    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.split(".")[-1] in ("app", "experiments", "cli", "training"), path


@pytest.mark.timeout(60)
def test_cli_image_rows_carry_psnr_and_context_helps(tmp_path):
    from tokencom_sdr.cli.main import main

    out = tmp_path / "todma_image.json"
    assert main(["todma", "--modality", "image", "--devices", "4", "--messages", "1",
                 "--crop", "64", "--schemes", "todma,todma-no-context", "--json", str(out)]) == 0
    rows = {r["scheme"]: r for r in json.loads(out.read_text())}
    assert rows["todma"]["slots"] == 256  # a 64-pixel crop is a 16 x 16 grid
    assert rows["todma"]["channel_uses"] == (2 + 342) * 80  # 256 x 64 symbols on 48 carriers
    assert rows["todma"]["collisions"] == rows["todma-no-context"]["collisions"] > 0
    # Filled tokens beat the neutral code wherever devices collided.
    assert rows["todma"]["token_error_rate"] < rows["todma-no-context"]["token_error_rate"]
    assert rows["todma"]["psnr_db"] <= rows["todma"]["psnr_tokens_only_db"] + 0.5


_RUN_TODMA_FLOWGRAPH = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("todma_loopback", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
tb = module.todma_loopback()
tb.start()
tb.wait()
json.dump({"messages": tb.receiver.messages,
           "sent": [tb.device_0.tokens.tolist(), tb.device_1.tokens.tolist(),
                    tb.device_2.tokens.tolist(), tb.device_3.tokens.tolist()]},
          open(sys.argv[2], "w"))
"""


@pytest.mark.timeout(180)
def test_todma_loopback_flowgraph_compiles_and_runs_headless(tmp_path, tokenizer):
    """flowgraphs/todma_loopback.grc: 4 devices on OFDM frames, each through
    its own gr-channels Rayleigh fader, the air (Add), noise, the ToDMA
    receiver (frame sync, K estimated); every device's text arrives, in some
    cluster order."""
    import subprocess
    import sys
    from pathlib import Path

    grc = Path(__file__).resolve().parents[2] / "flowgraphs" / "todma_loopback.grc"
    compiled = subprocess.run([sys.executable, "/usr/bin/grcc", "-o", str(tmp_path), str(grc)],
                              capture_output=True, text=True, timeout=60)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    out = tmp_path / "run.json"
    run = subprocess.run([sys.executable, "-c", _RUN_TODMA_FLOWGRAPH,
                          str(tmp_path / "todma_loopback.py"), str(out)],
                         capture_output=True, text=True, timeout=150)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert len(result["sent"]) == 4 and all(len(tokens) == 16 for tokens in result["sent"])
    sent = sorted(tokenizer.decode(np.array(tokens)) for tokens in result["sent"])
    received = sorted(message["text"] for message in result["messages"])
    assert len(result["messages"]) == 4
    assert received == sent
