"""Image tokenizer: shapes and dtypes, round trips, weight-file errors, the
tiny training run, the embedded defaults, and the quality metrics."""

import math

import numpy as np
import pytest
import torch

from tokencom_sdr.metrics.image_quality import ms_ssim, psnr, ssim
from tokencom_sdr.tokens.frame import Modality, TokenFrame
from tokencom_sdr.data.image_data import HELDOUT_IMAGES, TRAIN_IMAGES, load_image, to_rgb_uint8
from tokencom_sdr.tokens.image_vq import (ImageTokenizer, VQConfig, VQVAE, WeightFileError,
                                          default_weight_path)
from tokencom_sdr.training.image_tokenizer import train_image_tokenizer

TINY = VQConfig(downsample=4, codebook_size=64, latent_dim=8, channels=(8, 16), res_blocks=1)



# Every test has a timeout (the slow ones set their own below) and runs
# torch on one thread (see conftest.one_torch_thread).
pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("one_torch_thread")]

@pytest.fixture(scope="module")
def tiny_tokenizer():
    torch.manual_seed(0)
    return ImageTokenizer(VQVAE(TINY), "tiny")


def _image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / max(w, 1), y / max(h, 1), (x + y) / max(h + w, 1)], axis=2) * 200
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("size", [(32, 32), (37, 50), (5, 3), (64, 17)])
def test_shapes_and_dtypes(tiny_tokenizer, size):
    image = _image(*size)
    grid = tiny_tokenizer.encode(image)
    rows, cols = math.ceil(size[0] / 4), math.ceil(size[1] / 4)
    assert grid.shape == (rows, cols) and grid.dtype == np.int64
    assert grid.min() >= 0 and grid.max() < 64
    frame = tiny_tokenizer.encode_frame(image)
    assert isinstance(frame, TokenFrame) and frame.modality == Modality.IMAGE
    assert frame.shape == (rows, cols) and frame.bits_per_token == 6 == int(math.log2(64))
    out = tiny_tokenizer.decode_frame(frame, size)
    assert out.shape == (*size, 3) and out.dtype == np.uint8
    full = tiny_tokenizer.decode(grid)
    assert full.shape == (rows * 4, cols * 4, 3)
    assert tiny_tokenizer.bits_per_pixel(size) == pytest.approx(rows * cols * 6 / (size[0] * size[1]))


@pytest.mark.timeout(30)
def test_decode_is_deterministic_and_reencodes_stably(tiny_tokenizer):
    image = _image(48, 40, seed=3)
    grid = tiny_tokenizer.encode(image)
    a = tiny_tokenizer.decode(grid, image.shape[:2])
    b = tiny_tokenizer.decode(grid, image.shape[:2])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(tiny_tokenizer.encode(image), grid)


@pytest.mark.timeout(30)
def test_grey_and_rgba_inputs(tiny_tokenizer):
    grey = _image(20, 24)[:, :, 0]
    rgba = np.dstack([_image(20, 24), np.full((20, 24), 128, np.uint8)])
    assert tiny_tokenizer.encode(grey).shape == (5, 6)
    assert tiny_tokenizer.encode(rgba).shape == (5, 6)
    assert to_rgb_uint8(np.zeros((4, 4), bool)).shape == (4, 4, 3)


@pytest.mark.timeout(30)
def test_decode_rejects_bad_ids_and_frames(tiny_tokenizer):
    with pytest.raises(ValueError, match="token ids"):
        tiny_tokenizer.decode(np.full((2, 2), 64))
    with pytest.raises(ValueError, match="grid"):
        tiny_tokenizer.decode(np.zeros(4, np.int64))
    text = TokenFrame(ids=np.zeros(4), modality=Modality.TEXT, shape=(4,), bits_per_token=6)
    with pytest.raises(ValueError, match="not an image frame"):
        tiny_tokenizer.decode_frame(text)
    wrong_bits = TokenFrame(ids=np.zeros(4), modality=Modality.IMAGE, shape=(2, 2), bits_per_token=9)
    with pytest.raises(ValueError, match="bit"):
        tiny_tokenizer.decode_frame(wrong_bits)


@pytest.mark.timeout(30)
def test_save_load_round_trip(tiny_tokenizer, tmp_path):
    path = tiny_tokenizer.save(tmp_path / "tok.safetensors", {"note": "test"})
    loaded = ImageTokenizer.from_file(path)
    assert loaded.cfg == TINY
    image = _image(40, 36, seed=5)
    grid = tiny_tokenizer.encode(image)
    # Files hold float16: nearly every id and pixel survives the rounding...
    assert np.mean(loaded.encode(image) == grid) > 0.9
    diff = np.abs(loaded.decode(grid).astype(int) - tiny_tokenizer.decode(grid).astype(int))
    assert diff.max() <= 3
    # ...and a second save/load changes nothing at all.
    again = ImageTokenizer.from_file(loaded.save(tmp_path / "again.safetensors"))
    np.testing.assert_array_equal(again.encode(image), loaded.encode(image))
    np.testing.assert_array_equal(again.decode(grid), loaded.decode(grid))


@pytest.mark.timeout(30)
def test_corrupt_and_truncated_files_give_clear_errors(tiny_tokenizer, tmp_path):
    path = tiny_tokenizer.save(tmp_path / "tok.safetensors")
    data = path.read_bytes()

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightFileError, match="truncated.safetensors"):
        ImageTokenizer.from_file(truncated)

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    with pytest.raises(WeightFileError, match="not a readable safetensors"):
        ImageTokenizer.from_file(garbage)

    with pytest.raises(WeightFileError, match="not found"):
        ImageTokenizer.from_file(tmp_path / "missing.safetensors")

    # A valid safetensors file of another kind.
    from tokencom_sdr.context.image_maskgit import ContextConfig, ImageContextModel
    other = ImageContextModel(ContextConfig(codebook_size=64, window=4, d_model=16, layers=1,
                                            heads=2)).save(tmp_path / "ctx.safetensors")
    with pytest.raises(WeightFileError, match="expected 'tokencom-image-vq"):
        ImageTokenizer.from_file(other)

    # Right kind, weights that do not match the config.
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    state = load_file(str(path))
    state.pop(next(iter(state)))
    broken = tmp_path / "missing_tensor.safetensors"
    save_file(state, str(broken), metadata=meta)
    with pytest.raises(WeightFileError, match="do not match"):
        ImageTokenizer.from_file(broken)


@pytest.mark.timeout(60)
def test_tiny_training_run_writes_a_usable_file(tmp_path):
    out = tmp_path / "vq.safetensors"
    images = [load_image("chelsea")[:128, :128], load_image("coffee")[:96, :160]]
    tok = train_image_tokenizer(out, preset="tiny", steps=25, batch=4, progress=False,
                                images=images)
    assert out.is_file()
    loaded = ImageTokenizer.from_file(out)
    image = _image(32, 32)
    assert loaded.encode(image).shape == (8, 8)
    # The k-means seeding spreads the codebook: more than one code in use.
    assert len(np.unique(loaded.encode(load_image("chelsea")[:64, :64]))) > 1
    assert np.mean(loaded.encode(image) == tok.encode(image)) > 0.9


@pytest.mark.timeout(90)
def test_fine_tuning_the_decoder_alone_keeps_every_token_id(tmp_path):
    images = [load_image("chelsea")[:128, :128], load_image("coffee")[:96, :160]]
    first = tmp_path / "first.safetensors"
    train_image_tokenizer(first, preset="tiny", steps=20, batch=4, progress=False, images=images)
    before = ImageTokenizer.from_file(first)
    probe = load_image("astronaut")[:64, :64]

    decoder = tmp_path / "decoder.safetensors"
    tuned = train_image_tokenizer(decoder, preset="tiny", steps=15, batch=4, lr=3e-3,
                                  progress=False, images=images, init=first, train="decoder")
    after = ImageTokenizer.from_file(decoder)
    # Same ids on an unseen image, same codebook, but a decoder that moved.
    assert np.array_equal(after.encode(probe), before.encode(probe))
    assert torch.equal(after.model.quantizer.codebook, before.model.quantizer.codebook)
    assert not torch.equal(after.model.decoder.net[0].weight, before.model.decoder.net[0].weight)
    assert np.array_equal(tuned.encode(probe), before.encode(probe))

    everything = tmp_path / "all.safetensors"
    train_image_tokenizer(everything, preset="tiny", steps=15, batch=4, lr=3e-3,
                          progress=False, images=images, init=first, train="all")
    moved = ImageTokenizer.from_file(everything)
    # Training the encoder and the codebook as well moves codewords.
    assert not torch.equal(moved.model.quantizer.codebook, before.model.quantizer.codebook)


def test_fine_tuning_refuses_a_tokenizer_of_another_preset(tmp_path):
    first = tmp_path / "first.safetensors"
    ImageTokenizer(VQVAE(VQConfig(downsample=8, codebook_size=64, latent_dim=8,
                                  channels=(8, 8, 16), res_blocks=1))).save(first)
    with pytest.raises(ValueError, match="not the 'tiny' preset"):
        train_image_tokenizer(None, preset="tiny", steps=5, progress=False, init=first)
    with pytest.raises(ValueError, match="give --init"):
        train_image_tokenizer(None, preset="tiny", steps=5, progress=False, train="decoder")


def test_batch_encoding_gives_each_image_its_own_ids(tiny_tokenizer):
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (5, 30, 22, 3), dtype=np.uint8)
    grids = tiny_tokenizer.encode_batch(images, chunk=2)
    assert grids.shape == (5, 8, 6) and grids.dtype == np.int64
    for image, grid in zip(images, grids):
        assert np.array_equal(grid, tiny_tokenizer.encode(image))
    assert tiny_tokenizer.encode_batch(images[:0]).shape == (0, 8, 6)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\) uint8"):
        tiny_tokenizer.encode_batch(images[0])


def test_held_out_images_are_not_in_training():
    assert set(HELDOUT_IMAGES) == {"astronaut", "flower", "peppers"}
    assert not set(HELDOUT_IMAGES) & set(TRAIN_IMAGES)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name,min_psnr,max_bpp", [("standard", 24.0, 0.6), ("low-rate", 20.0, 0.16)])
def test_embedded_tokenizers(name, min_psnr, max_bpp):
    # Committed files: a missing one is a broken checkout, not a reason to skip.
    assert default_weight_path(name).is_file(), \
        f"the committed {name} tokenizer weights are missing (git checkout tokencom_sdr)"
    tok = ImageTokenizer.default(name)
    assert tok.bits_per_token == int(math.log2(tok.codebook_size))
    # A 128x128 held-out crop: a quick check that the committed weights work
    # (the full benchmark is bench/image_tokcom.py).
    image = load_image("astronaut")[64:192, 160:288]
    assert tok.bits_per_pixel(image.shape[:2]) <= max_bpp
    assert psnr(image, tok.reconstruct(image)) >= min_psnr


def test_psnr_and_ms_ssim():
    a = load_image("astronaut")[:128, :128]
    rng = np.random.default_rng(0)
    noisy = lambda s: np.clip(a + rng.normal(0, s, a.shape), 0, 255).astype(np.uint8)
    assert psnr(a, a) == float("inf")
    assert ms_ssim(a, a) == pytest.approx(1.0)
    light, heavy = noisy(5), noisy(30)
    assert psnr(a, light) > psnr(a, heavy)
    assert 1.0 > ms_ssim(a, light) > ms_ssim(a, heavy) > 0.0
    mse = np.mean((a.astype(float) - light.astype(float)) ** 2)
    assert psnr(a, light) == pytest.approx(10 * np.log10(255 ** 2 / mse))
    # Agrees with scikit-image's Gaussian SSIM (which crops the 5 border
    # pixels its padding touches: the same 'valid' region as ours).
    # tests/metrics/test_image_quality.py pins both metrics to pytorch-msssim.
    from skimage.metrics import structural_similarity
    ref = structural_similarity(a, heavy, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, data_range=255)
    assert ssim(a, heavy) == pytest.approx(ref, abs=1e-4)
    with pytest.raises(ValueError):
        psnr(a, a[:10])
    with pytest.raises(ValueError):
        ms_ssim(a[:5, :5], a[:5, :5])
