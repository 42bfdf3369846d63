"""ToDMA (issue 17): detection, clustering, collision masking and fill, and the CLI."""

import json

import numpy as np
import pytest

from tokencom_sdr.todma import (ToDMAReceiver, align_clusters, collision_positions,
                                detect_tokens, gaussian_codebook, rayleigh_gains,
                                transmit_frame)

VOCAB = 4096


@pytest.fixture(scope="module")
def codebook():
    return gaussian_codebook(64, VOCAB, seed=0)


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


@pytest.mark.timeout(20)
def test_clustering_assigns_non_colliding_tokens_to_their_devices_at_20_db(codebook):
    rng = np.random.default_rng(5)
    devices, slots = 4, 200
    tokens = rng.integers(0, VOCAB, (devices, slots))
    tokens[1, :10] = tokens[0, :10]  # some collisions among the clean slots
    uplink = transmit_frame(codebook, tokens, rayleigh_gains(devices, rng), 20.0, rng)
    result = ToDMAReceiver(codebook, devices).receive(uplink.received, uplink.noise_var)
    order = align_clusters(result.sequences.centroids, uplink.gains)
    got, erased = result.sequences.tokens[order], result.sequences.erased[order]
    colliding = collision_positions(tokens)
    correct = ((got == tokens) & ~erased)[~colliding]
    assert correct.mean() >= 0.99
    # Every collision is masked for both devices, never passed on as a token.
    assert np.all(erased[colliding]) and np.all(result.sequences.collision[order][colliding])


@pytest.fixture(scope="module")
def text_recovery():
    import torch

    from tokencom_sdr.context.text_recovery import TextRecovery

    torch.set_num_threads(1)
    return TextRecovery()


@pytest.mark.timeout(40)
def test_text_collisions_are_masked_and_filled_from_context(codebook, text_recovery):
    from tokencom_sdr.data.heldout_messages import heldout_messages
    from tokencom_sdr.tokens.text_bpe import TextTokenizer

    tokenizer = TextTokenizer.default()
    devices, slots = 4, 48
    texts = heldout_messages(devices, tokenizer, slots, 128, seed=0)
    tokens = np.stack([tokenizer.encode(text)[:slots] for text in texts])
    colliding = collision_positions(tokens)
    assert colliding.sum() >= 4  # held-out text collides on its own (",", " the", ...)
    rng = np.random.default_rng(6)
    uplink = transmit_frame(codebook, tokens, rayleigh_gains(devices, rng), 30.0, rng)
    result = ToDMAReceiver(codebook, devices).receive(
        uplink.received, uplink.noise_var, text_recovery, tokenizer.bits_per_token)
    order = align_clusters(result.sequences.centroids, uplink.gains)
    erased, filled = result.sequences.erased[order], result.filled[order]
    assert np.all(erased[colliding])
    assert np.array_equal(filled[~erased], tokens[~erased])
    assert np.mean(filled[colliding] == tokens[colliding]) >= 0.8
    assert np.all(result.sequences.tokens[order][erased] == 0)  # masked, not guessed, before the fill


@pytest.mark.timeout(40)
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
    assert todma["channel_uses"] == 32 * 64  # slots x L
    assert tdma["channel_uses"] > todma["channel_uses"]  # from the real PHY's samples
    assert todma["channel_use_ratio_vs_tdma"]["symbols"] == pytest.approx(
        todma["channel_uses"] / tdma["channel_uses"])
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


@pytest.mark.timeout(40)
def test_cli_image_rows_carry_psnr_and_context_helps(tmp_path):
    from tokencom_sdr.cli.main import main

    out = tmp_path / "todma_image.json"
    assert main(["todma", "--modality", "image", "--devices", "4", "--messages", "1",
                 "--crop", "64", "--schemes", "todma,todma-no-context", "--json", str(out)]) == 0
    rows = {r["scheme"]: r for r in json.loads(out.read_text())}
    assert rows["todma"]["slots"] == 256  # a 64-pixel crop is a 16 x 16 grid
    assert rows["todma"]["channel_uses"] == 256 * 64
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


@pytest.mark.timeout(90)
def test_todma_loopback_flowgraph_compiles_and_runs_headless(tmp_path):
    """flowgraphs/todma_loopback.grc: 4 devices, the air (Add), noise, the
    ToDMA receiver; every device's text arrives, in some cluster order."""
    import subprocess
    import sys
    from pathlib import Path

    from tokencom_sdr.tokens.text_bpe import TextTokenizer

    grc = Path(__file__).resolve().parents[2] / "flowgraphs" / "todma_loopback.grc"
    compiled = subprocess.run([sys.executable, "/usr/bin/grcc", "-o", str(tmp_path), str(grc)],
                              capture_output=True, text=True, timeout=60)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    out = tmp_path / "run.json"
    run = subprocess.run([sys.executable, "-c", _RUN_TODMA_FLOWGRAPH,
                          str(tmp_path / "todma_loopback.py"), str(out)],
                         capture_output=True, text=True, timeout=80)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    tokenizer = TextTokenizer.default()
    sent = sorted(tokenizer.decode(np.array(tokens)) for tokens in result["sent"])
    received = sorted(message["text"] for message in result["messages"])
    assert len(result["messages"]) == 4
    assert received == sent
