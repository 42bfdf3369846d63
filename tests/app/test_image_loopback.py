"""Image over the link: the packet-erasure evaluation (tiny models) and a
small image across the real GNU Radio OFDM loopback."""

import json

import numpy as np
import pytest

from tokencom_sdr.link import make_aggregation
from tokencom_sdr.experiments.image_erasure_eval import evaluate_erasures, packet_erasure_channel
from tokencom_sdr.data.image_data import load_image

K = 64  # the tiny models' codebook (conftest.TINY_IMAGE_CODEBOOK)


# Every test has a timeout (the slow ones set their own below) and runs
# torch on one thread (see conftest.one_torch_thread).
pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def tiny(tiny_image_models, tmp_path_factory):
    """The tiny models and their weight files."""
    tok, ctx = tiny_image_models
    folder = tmp_path_factory.mktemp("tiny_models")
    return tok, ctx, tok.save(folder / "tok.safetensors"), ctx.save(folder / "ctx.safetensors")


@pytest.fixture(scope="module")
def small_image():
    return load_image("chelsea")[100:164, 150:230]  # 64 x 80 pixels -> 16 x 20 tokens


@pytest.mark.timeout(30)
def test_packet_erasure_channel(tiny, small_image):
    tok = tiny[0]
    frame = tok.encode_frame(small_image)
    rng = np.random.default_rng(0)
    clean = packet_erasure_channel(frame, 0.0, 16, rng)
    assert clean.num_erased == 0
    np.testing.assert_array_equal(clean.ids, frame.ids)
    lost = packet_erasure_channel(frame, 1.0, 16, rng)
    assert lost.num_erased == len(frame) and lost.shape == frame.shape
    # Interleaving: each lost packet erases positions spaced P apart.
    num_packets = make_aggregation("interleaved", 16).num_packets(len(frame))
    some = packet_erasure_channel(frame, 0.3, 16, np.random.default_rng(3))
    erased = np.flatnonzero(some.erased)
    assert 0 < erased.size < len(frame)
    lost_packets = set(erased % num_packets)
    assert some.num_erased == sum(len(range(p, len(frame), num_packets)) for p in lost_packets)
    np.testing.assert_array_equal(some.ids[~some.erased], frame.ids[~some.erased])
    with pytest.raises(ValueError):
        packet_erasure_channel(frame, 1.5, 16, rng)


@pytest.mark.timeout(60)
def test_erasure_eval_runs_on_tiny_models(tiny, small_image):
    tok, ctx, _, _ = tiny
    result = evaluate_erasures(small_image, tok, [0.0, 0.3], draws=2, tokens_per_packet=16,
                               context_model=ctx)
    rows = result["rows"]
    assert [(r["recovery"], r["loss"]) for r in rows] == [
        (m, p) for p in (0.0, 0.3) for m in ("none", "copy", "context")]
    for row in rows:
        assert set(row) >= {"recovery", "loss", "psnr_db", "ms_ssim"}
        assert np.isfinite(row["psnr_db"]) and 0 <= row["ms_ssim"] <= 1
    # Without loss every method draws the error-free tokens.
    for row in rows[:3]:
        assert row["token_erasure_rate"] == 0
        assert row["psnr_db"] == pytest.approx(result["psnr_tokens_only_db"])
    # Every method saw the same loss draws.
    assert len({r["token_erasure_rate"] for r in rows[3:]}) == 1 and rows[3]["token_erasure_rate"] > 0


@pytest.mark.timeout(60)
def test_erasure_eval_cli(tiny, small_image, tmp_path):
    from PIL import Image

    from tokencom_sdr.cli.main import main

    _, _, tok_path, ctx_path = tiny
    image_path = tmp_path / "small.png"
    Image.fromarray(small_image).save(image_path)
    out = tmp_path / "rows.json"
    status = main(["erasure-eval", "--image", str(image_path), "--loss", "0.1,0.5",
                   "--recovery", "copy,context", "--draws", "1", "--packet-tokens", "8",
                   "--tokenizer-weights", str(tok_path), "--context-weights", str(ctx_path),
                   "--json", str(out)])
    assert status == 0
    rows = json.loads(out.read_text())
    assert [(r["recovery"], r["loss"]) for r in rows] == [
        ("copy", 0.1), ("context", 0.1), ("copy", 0.5), ("context", 0.5)]
    assert all("psnr_jpeg_same_bpp_db" in r and "ms_ssim_jpeg_same_bpp" in r for r in rows)
    assert main(["erasure-eval", "--image", str(tmp_path / "missing.png")]) == 1


@pytest.mark.timeout(60)
def test_erasure_eval_id_search_and_refine_send_better_ids_at_the_same_bits(tmp_path, one_torch_thread):
    from PIL import Image

    from tokencom_sdr.cli.main import main
    from tokencom_sdr.data.image_data import load_image

    image_path = tmp_path / "peppers_crop.png"
    Image.fromarray(load_image("peppers")[100:164, 100:164]).save(image_path)
    results = {}
    for name, options in (("plain", []), ("search", ["--id-search", "4"]),
                          ("refine", ["--id-refine"])):
        out = tmp_path / f"{name}.json"
        assert main(["erasure-eval", "--image", str(image_path), "--loss", "0",
                     "--recovery", "copy", "--draws", "1", *options,
                     "--json", str(out)]) == 0
        results[name] = json.loads(out.read_text())[0]
    assert results["search"]["bits_per_pixel"] == results["plain"]["bits_per_pixel"]
    assert results["refine"]["bits_per_pixel"] == results["plain"]["bits_per_pixel"]
    # Error-free tokens (no loss): measured +0.9 dB on this crop with the
    # search, +0.48 dB with the refinement.
    assert results["search"]["psnr_db"] > results["plain"]["psnr_db"] + 0.5
    assert results["refine"]["psnr_db"] > results["plain"]["psnr_db"] + 0.3
    assert main(["erasure-eval", "--image", str(image_path), "--id-search", "-1"]) == 1
    assert main(["erasure-eval", "--image", str(image_path), "--id-refine", "-1"]) == 1


@pytest.mark.timeout(90)
def test_small_image_crosses_ofdm_loopback_without_token_errors(tiny, small_image, tmp_path):
    pytest.importorskip("gnuradio")
    from tokencom_sdr.app.loopback import run_image_loopback
    from tokencom_sdr.app.loopback import LinkConfig

    tok, ctx, _, _ = tiny
    config = LinkConfig(snr_db=30.0, cfo=0.002, tokens_per_packet=32, seed=1)
    report = run_image_loopback(small_image, config, tok, "context", tmp_path, ctx)
    assert report["packets_received"] == report["packets_sent"] == 10
    assert report["token_error_rate"] == 0.0 and report["token_erasure_rate"] == 0.0
    assert report["psnr_db"] == pytest.approx(report["psnr_tokens_only_db"])
    assert report["grid"] == [16, 20] and report["bits_per_token"] == 6
    assert report["bits_per_pixel"] == pytest.approx(16 * 20 * 6 / (64 * 80))
    # 240 bytes of tokens: less than a JPEG's headers, so no JPEG baseline fits.
    assert report["psnr_jpeg_same_bpp_db"] is None and report["jpeg_quality"] is None
    for key in ("received", "no_recovery", "tokens_only", "comparison"):
        assert (tmp_path / f"{key}.png").is_file()
    json.dumps(report)  # the report is JSON-serialisable


@pytest.mark.timeout(90)
def test_loopback_cli_image(tiny, small_image, tmp_path):
    pytest.importorskip("gnuradio")
    from PIL import Image

    from tokencom_sdr.cli.main import main

    _, _, tok_path, ctx_path = tiny
    image_path = tmp_path / "small.png"
    Image.fromarray(small_image).save(image_path)
    report_path = tmp_path / "report.json"
    status = main(["loopback", "--image", str(image_path), "--snr", "30", "--recovery", "copy",
                   "--packet-tokens", "40", "--tokenizer-weights", str(tok_path),
                   "--context-weights", str(ctx_path), "--out", str(tmp_path / "pics"),
                   "--json", str(report_path)])
    assert status == 0
    report = json.loads(report_path.read_text())
    for key in ("psnr_db", "ms_ssim", "psnr_tokens_only_db", "token_erasure_rate",
                "bits_per_pixel"):
        assert key in report
    assert report["packets_sent"] == 8 and report["recovery"] == "copy"
    assert (tmp_path / "pics" / "received.png").is_file()
    assert (tmp_path / "pics" / "comparison.png").is_file()
    # --text and --image exclude each other.
    with pytest.raises(SystemExit):
        main(["loopback", "--text", "hi", "--image", str(image_path)])


def test_cli_method_list_matches_library():
    from tokencom_sdr.cli.image_options import IMAGE_RECOVERY_METHODS as cli_methods
    from tokencom_sdr.context.image_recovery import IMAGE_RECOVERY_METHODS
    from tokencom_sdr.cli.train_image import CONTEXT_PRESETS, TOKENIZER_PRESETS
    from tokencom_sdr.training.image_context import PRESETS as CTX
    from tokencom_sdr.training.image_tokenizer import PRESETS as TOK

    assert cli_methods == IMAGE_RECOVERY_METHODS
    assert TOKENIZER_PRESETS == tuple(TOK) and CONTEXT_PRESETS == tuple(CTX)
