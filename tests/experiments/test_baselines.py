"""The conventional baselines beside the token figures: JPEG at the tokens'
bit budget (images) and UTF-8 + zlib (text)."""

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from tokencom_sdr.data.image_data import load_image
from tokencom_sdr.metrics.image_quality import psnr
from tokencom_sdr.metrics.jpeg_baseline import jpeg_at_bit_budget, jpeg_same_bpp_scores
from tokencom_sdr.metrics.text_baseline import (mean_text_baseline_sizes, text_baseline_sizes,
                                                zlib_bytes)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def photo():
    return load_image("chelsea")[:256, :256]  # a real photograph, 256 x 256


def _jpeg_size(image, quality):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality, optimize=True)
    return len(buffer.getvalue())


@pytest.mark.parametrize("bpp", [0.3, 0.5625, 1.5])
def test_jpeg_is_the_largest_file_within_the_budget(photo, bpp):
    budget_bits = bpp * photo.shape[0] * photo.shape[1]
    chosen = jpeg_at_bit_budget(photo, budget_bits)
    assert chosen is not None
    assert 8 * chosen.num_bytes <= budget_bits  # never above the token bits
    assert chosen.bits_per_pixel == pytest.approx(8 * chosen.num_bytes / photo[..., 0].size)
    assert chosen.num_bytes == _jpeg_size(photo, chosen.quality)
    # One quality step up no longer fits: the bisection found the largest.
    if chosen.quality < 95:
        assert 8 * _jpeg_size(photo, chosen.quality + 1) > budget_bits
    assert chosen.decoded.shape == photo.shape and chosen.decoded.dtype == np.uint8
    assert 20.0 < psnr(photo, chosen.decoded) < 50.0  # plausible for a photo at these rates


def test_more_bits_give_a_better_jpeg(photo):
    pixels = photo.shape[0] * photo.shape[1]
    low = jpeg_same_bpp_scores(photo, 0.25 * pixels)
    high = jpeg_same_bpp_scores(photo, 1.0 * pixels)
    assert low["jpeg_quality"] < high["jpeg_quality"]
    assert low["psnr_jpeg_same_bpp_db"] < high["psnr_jpeg_same_bpp_db"]
    assert 0 < low["ms_ssim_jpeg_same_bpp"] < high["ms_ssim_jpeg_same_bpp"] <= 1
    assert high["jpeg_bits_per_pixel"] <= 1.0


def test_no_jpeg_fits_a_budget_below_its_headers(photo):
    assert jpeg_at_bit_budget(photo, 8 * 300) is None
    scores = jpeg_same_bpp_scores(photo, 8 * 300)
    assert scores["psnr_jpeg_same_bpp_db"] is None and scores["ms_ssim_jpeg_same_bpp"] is None


def test_image_erasure_eval_reports_jpeg_at_the_token_budget(photo):
    from tokencom_sdr.experiments.image_erasure_eval import evaluate_erasures
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    image = photo[:128, :128]
    tokenizer = ImageTokenizer.default("standard")
    result = evaluate_erasures(image, tokenizer, [0.0], methods=("none",), draws=1)
    assert result["jpeg_bits_per_pixel"] <= result["bits_per_pixel"]
    expected = jpeg_same_bpp_scores(image, result["bits_per_pixel"] * 128 * 128)
    assert result["psnr_jpeg_same_bpp_db"] == pytest.approx(expected["psnr_jpeg_same_bpp_db"])
    assert np.isfinite(result["psnr_jpeg_same_bpp_db"])
    assert result["bits_sent_per_pixel"] == result["bits_per_pixel"]


def test_with_a_budget_jpeg_gets_the_bits_actually_sent(photo):
    from tokencom_sdr.app.token_budget import TokenBudget
    from tokencom_sdr.experiments.image_erasure_eval import evaluate_erasures
    from tokencom_sdr.link import BudgetedAggregation
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    image = photo[:96, :96]
    tokenizer = ImageTokenizer.default("standard")
    budget = TokenBudget(0.5, order="random")
    result = evaluate_erasures(image, tokenizer, [0.0], methods=("none",), draws=1,
                               budget=budget)
    # 288 of 576 tokens at 9 bits, plus the bitmaps of the packets' positions
    kept = np.flatnonzero(np.random.default_rng([0, 18]).permutation(576) < 288)
    bits = 288 * 9 + BudgetedAggregation(kept, 576, 32).position_bits()
    assert result["tokens_sent"] == 288
    assert result["bits_sent_per_pixel"] * 96 * 96 == pytest.approx(bits, abs=8 * 9)
    assert result["bits_sent_per_pixel"] < 0.65 * result["bits_per_pixel"]
    expected = jpeg_same_bpp_scores(image, result["bits_sent_per_pixel"] * 96 * 96)
    assert result["psnr_jpeg_same_bpp_db"] == pytest.approx(expected["psnr_jpeg_same_bpp_db"])


def test_zlib_baseline_sizes():
    text = "The quick brown fox jumps over the lazy dog. " * 3 + "Naïve café ☕"
    assert zlib_bytes(text) == len(zlib.compress(text.encode("utf-8"), 9))
    sizes = text_baseline_sizes(text, tokens=40, bits_per_token=12)
    assert sizes["utf8_bytes"] == len(text.encode("utf-8"))  # bytes, not characters
    assert sizes["zlib_bytes"] == len(zlib.compress(text.encode("utf-8"), 9))
    assert sizes["bpe_bytes"] == 40 * 12 / 8
    assert sizes["bpe_over_zlib"] == pytest.approx(60 / sizes["zlib_bytes"])
    means = mean_text_baseline_sizes(["abc def", text], [3, 40], 12)
    assert means["zlib_bytes_per_message"] == pytest.approx(
        (zlib_bytes("abc def") + zlib_bytes(text)) / 2)
    assert means["bpe_bytes_per_message"] == pytest.approx((3 + 40) * 1.5 / 2)
    with pytest.raises(ValueError):
        mean_text_baseline_sizes(["a"], [1, 2], 12)
