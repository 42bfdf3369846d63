"""Choosing image token ids by the decoded picture's error (tokens/id_search.py)."""

import numpy as np
import pytest
import torch

from tokencom_sdr.data.image_data import load_image
from tokencom_sdr.metrics.image_quality import psnr
from tokencom_sdr.tokens.id_search import REFINE_CURVATURE, refine_ids, search_ids
from tokencom_sdr.tokens.image_vq import ImageTokenizer

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def tokenizer():
    return ImageTokenizer.default("standard")


# 64x64 crops of the held-out images, which no tokenizer trained on.
CROPS = {"astronaut": (slice(64, 128), slice(160, 224)),
         "peppers": (slice(100, 164), slice(100, 164))}


@pytest.mark.parametrize("name", sorted(CROPS))
def test_searched_ids_decode_closer_to_the_image_at_the_same_bits(tokenizer, name):
    image = load_image(name)[CROPS[name]]
    nearest = tokenizer.encode(image)
    tokenizer.search_candidates = 4
    try:
        searched = tokenizer.encode(image)
        frame = tokenizer.encode_frame(image)
    finally:
        tokenizer.search_candidates = 0
    assert searched.shape == nearest.shape == (16, 16) and searched.dtype == np.int64
    assert searched.min() >= 0 and searched.max() < tokenizer.codebook_size
    # Ordinary ids: the unchanged receiver decodes them, at the same bits
    # (measured +0.5 dB on astronaut's crop, +0.9 dB on peppers').
    assert np.array_equal(frame.ids.reshape(16, 16), searched)
    assert frame.bits_per_token == tokenizer.bits_per_token
    plain = psnr(image, tokenizer.decode(nearest, image.shape[:2]))
    better = psnr(image, tokenizer.decode_frame(frame, image.shape[:2]))
    assert better > plain + 0.3, (plain, better)


def test_one_candidate_or_no_sweep_is_the_nearest_codeword(tokenizer):
    image = load_image("astronaut")[CROPS["astronaut"]]
    x = tokenizer._to_tensor(image)
    nearest = torch.from_numpy(tokenizer.encode(image))
    assert torch.equal(search_ids(tokenizer.model, x, candidates=1), nearest)
    assert torch.equal(search_ids(tokenizer.model, x, candidates=4, sweeps=0), nearest)


def test_the_search_is_never_worse_than_the_nearest_codewords(tokenizer):
    # Spacing 1 changes every position at once, against neighbours that
    # change too: the guard at the end must keep the nearest codewords
    # whenever that decodes closer.
    rng = np.random.default_rng(3)
    for _ in range(3):
        image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        x = tokenizer._to_tensor(image)
        nearest = torch.from_numpy(tokenizer.encode(image))
        searched = search_ids(tokenizer.model, x, candidates=6, spacing=1)
        with torch.no_grad():
            error = [float(((tokenizer.model.decode_latent(tokenizer.model.embed(ids[None])) - x)
                            ** 2).sum()) for ids in (nearest, searched)]
        assert error[1] <= error[0]


def test_bad_settings_are_refused(tokenizer):
    x = torch.zeros(1, 3, 16, 16)
    with pytest.raises(ValueError, match="candidates >= 1"):
        search_ids(tokenizer.model, x, candidates=0)
    with pytest.raises(ValueError, match="search_candidates must be 0"):
        tokenizer.search_candidates = -1
    assert tokenizer.search_candidates == 0


# ---------------------------------------------------------------- refine_ids

def _squared_error(tokenizer, x, ids):
    with torch.no_grad():
        decoded = tokenizer.model.decode_latent(tokenizer.model.embed(ids[None]))
    return float(((decoded - x) ** 2).sum())


@pytest.mark.parametrize("name", sorted(CROPS))
def test_refined_ids_decode_closer_to_the_image_at_the_same_bits(tokenizer, name):
    image = load_image(name)[CROPS[name]]
    nearest = tokenizer.encode(image)
    tokenizer.refine = True
    try:
        refined = tokenizer.encode(image)
        frame = tokenizer.encode_frame(image)
        batch = tokenizer.encode_batch(image[None])
    finally:
        tokenizer.refine = False
    assert refined.shape == nearest.shape == (16, 16) and refined.dtype == np.int64
    assert np.array_equal(frame.ids.reshape(16, 16), refined)
    assert np.array_equal(batch[0], refined)
    # Each changed id is one of the position's 4 nearest codewords.
    x = tokenizer._to_tensor(image)
    z = tokenizer.model.encode_latent(x)[0].permute(1, 2, 0).reshape(-1, 32)
    options = torch.cdist(z, tokenizer.model.quantizer.codebook).topk(4, largest=False).indices
    assert all(int(i) in options[p].tolist() for p, i in enumerate(refined.reshape(-1)))
    assert (refined != nearest).any()
    plain = psnr(image, tokenizer.decode(nearest, image.shape[:2]))
    better = psnr(image, tokenizer.decode_frame(frame, image.shape[:2]))
    # Measured +0.38 dB on astronaut's crop, +0.48 dB on peppers'.
    assert better > plain + 0.2, (plain, better)


def test_the_banded_gradient_gives_the_whole_images_choice(tokenizer):
    # 40 latent rows in bands of 8 with their halos: every band boundary
    # cuts the picture, yet each position must see the same gradient.
    image = load_image("astronaut")[:160, :96]
    x = tokenizer._to_tensor(image)
    curvature = REFINE_CURVATURE["standard"]
    whole = refine_ids(tokenizer.model, x, curvature, band_rows=64)
    banded = refine_ids(tokenizer.model, x, curvature, band_rows=8)
    assert torch.equal(whole, banded)
    assert (whole != torch.from_numpy(tokenizer.encode(image))).any()


def test_the_refinement_gains_whatever_the_curvature(tokenizer):
    # Only the best of neighbouring predicted changes is made, so even a
    # curvature far below the calibrated one (which changes most positions
    # in the prediction) must not decode worse than the nearest codewords.
    image = load_image("peppers")[CROPS["peppers"]]
    x = tokenizer._to_tensor(image)
    nearest = torch.from_numpy(tokenizer.encode(image))
    plain = _squared_error(tokenizer, x, nearest)
    for curvature in (1e-3, 0.05, REFINE_CURVATURE["standard"], 2.0):
        assert _squared_error(tokenizer, x, refine_ids(tokenizer.model, x, curvature)) < plain
    assert torch.equal(refine_ids(tokenizer.model, x, 0.35, candidates=1), nearest)
    assert torch.equal(refine_ids(tokenizer.model, x, 0.35, rounds=0), nearest)


def test_each_refinement_round_decodes_closer(tokenizer):
    image = load_image("astronaut")[CROPS["astronaut"]]
    x = tokenizer._to_tensor(image)
    errors = [_squared_error(tokenizer, x, refine_ids(tokenizer.model, x, 0.35, rounds=rounds))
              for rounds in range(4)]
    assert errors == sorted(errors, reverse=True) and len(set(errors)) == 4, errors
    tokenizer.refine = 3
    try:
        assert np.array_equal(tokenizer.encode(image),
                              refine_ids(tokenizer.model, x, 0.35, rounds=3).numpy())
    finally:
        tokenizer.refine = 0


def test_bad_refinement_settings_are_refused(tokenizer):
    x = torch.zeros(1, 3, 16, 16)
    for bad in ({"curvature": 0.0}, {"curvature": 1.0, "candidates": 0},
                {"curvature": 1.0, "band_rows": 0}, {"curvature": 1.0, "rounds": -1}):
        with pytest.raises(ValueError, match="curvature > 0"):
            refine_ids(tokenizer.model, x, **bad)
    with pytest.raises(ValueError, match="refine must be 0"):
        tokenizer.refine = -1
    assert tokenizer.refine == 0
    assert set(REFINE_CURVATURE) == {"standard", "low-rate"}
