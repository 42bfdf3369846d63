"""Choosing image token ids by the decoded picture's error (tokens/id_search.py)."""

import numpy as np
import pytest
import torch

from tokencom_sdr.data.image_data import load_image
from tokencom_sdr.metrics.image_quality import psnr
from tokencom_sdr.tokens.id_search import search_ids
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
