"""SSIM and MS-SSIM pinned to an independent implementation.

The reference is PyPI's ``pytorch-msssim`` (installed by the setup with
``--no-deps``), run in float64: the same definition (Wang et al.'s 11-tap
Gaussian window, K1 = 0.01, K2 = 0.03, the five published exponents, 2x2
average pooling) written by other people in torch. Our numpy code must agree
within 1e-4, which the classic wrong variants (a uniform 7x7 window, a
missing luminance term, equal scale weights) each miss by far more.
"""

import numpy as np
import pytest
import torch
from pytorch_msssim import ms_ssim as reference_ms_ssim
from pytorch_msssim import ssim as reference_ssim
from scipy.ndimage import gaussian_filter
from skimage import data

from tokencom_sdr.metrics.image_quality import ms_ssim, psnr, ssim

pytestmark = pytest.mark.timeout(60)
TOLERANCE = 1e-4


def _distortions():
    """(name, reference, distorted) image pairs, uint8-valued float64.

    224x192 keeps every one of MS-SSIM's five scales even-sized (224, 112,
    56, 28, 14), where both implementations pool the same way, and is above
    pytorch-msssim's minimum of 160 pixels for five scales."""
    rgb = data.astronaut()[:224, 100:292].astype(np.float64)
    gray = data.camera()[100:324, 150:342].astype(np.float64)
    rng = np.random.default_rng(19)
    pairs = []
    for name, image in (("rgb", rgb), ("gray", gray)):
        blur_sigma = (1.5, 1.5, 0)[:image.ndim]  # across pixels, not across colours
        pairs += [
            (f"{name}-noise", image, np.clip(image + rng.normal(0, 12, image.shape), 0, 255)),
            (f"{name}-blur", image, gaussian_filter(image, sigma=blur_sigma)),
            # A brightness and contrast change: what the luminance term sees.
            (f"{name}-dimmed", image, np.clip(0.7 * image + 10, 0, 255)),
            (f"{name}-blocky", image, np.repeat(np.repeat(image[::4, ::4], 4, 0), 4, 1)),
            # Anti-correlated: negative contrast-structure, which MS-SSIM clips to 0.
            (f"{name}-inverted", image, 255.0 - image),
        ]
    return pairs


PAIRS = _distortions()


def _as_tensor(image: np.ndarray) -> torch.Tensor:
    image = image if image.ndim == 3 else image[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].double()


@pytest.mark.parametrize("name, reference, distorted", PAIRS, ids=[p[0] for p in PAIRS])
def test_ssim_matches_pytorch_msssim(name, reference, distorted):
    expected = float(reference_ssim(_as_tensor(reference), _as_tensor(distorted), data_range=255))
    assert ssim(reference, distorted) == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize("name, reference, distorted", PAIRS, ids=[p[0] for p in PAIRS])
def test_ms_ssim_matches_pytorch_msssim(name, reference, distorted):
    expected = float(reference_ms_ssim(_as_tensor(reference), _as_tensor(distorted),
                                       data_range=255))
    assert ms_ssim(reference, distorted) == pytest.approx(expected, abs=TOLERANCE)


def test_distortions_span_the_scale():
    """The pairs are far from trivially similar, so a 1e-4 agreement means something."""
    assert min(ssim(reference, distorted) for _, reference, distorted in PAIRS) < 0.65
    assert max(ms_ssim(reference, distorted) for _, reference, distorted in PAIRS) < 0.98


def test_identical_images_score_one_and_psnr_is_exact():
    image = PAIRS[0][1]
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    assert ms_ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    assert psnr(image, image) == float("inf")
    # A constant error of 5 grey levels: 10 log10(255^2 / 25), no approximation.
    assert psnr(image, image + 5.0) == pytest.approx(10 * np.log10(255.0 ** 2 / 25.0), abs=1e-9)


def test_the_scale_count_follows_the_smallest_side():
    """At 11x11 (one scale, the window's size) MS-SSIM is SSIM with its full
    weight; below it both refuse, naming the size; five scales is the cap,
    whatever ``max_scales`` says (360 px would allow a sixth)."""
    reference, distorted = PAIRS[0][1], PAIRS[0][2]
    small, small_distorted = reference[:11, :11], distorted[:11, :11]
    assert ms_ssim(small, small_distorted) == pytest.approx(ssim(small, small_distorted),
                                                            abs=1e-12)
    for metric, name in ((ssim, "SSIM"), (ms_ssim, "MS-SSIM")):
        with pytest.raises(ValueError, match=rf"{name} needs .* got \(10, 11\)"):
            metric(reference[:10, :11], distorted[:10, :11])
    big = data.astronaut()[:360, :360].astype(np.float64)
    # Dimmed, so that the coarsest scale's luminance term matters.
    dimmed = np.clip(0.7 * big + 10, 0, 255)
    expected = float(reference_ms_ssim(_as_tensor(big), _as_tensor(dimmed), data_range=255))
    assert ms_ssim(big, dimmed) == pytest.approx(expected, abs=TOLERANCE)
    assert ms_ssim(big, dimmed, max_scales=9) == ms_ssim(big, dimmed)


def test_odd_sizes_pool_by_dropping_the_last_row_and_column():
    reference, distorted = PAIRS[0][1][:45, :47], PAIRS[0][2][:45, :47]
    even = ms_ssim(reference[:44, :46], distorted[:44, :46])
    odd = ms_ssim(reference, distorted)
    assert 0.0 < odd < 1.0 and abs(odd - even) < 0.05


def test_bad_shapes_are_named():
    image = PAIRS[0][1]
    with pytest.raises(ValueError,
                       match=r"images differ in shape: \(224, 192, 3\) vs \(224, 191, 3\)"):
        ssim(image, image[:, :191])
    with pytest.raises(ValueError,
                       match=r"expected \(H, W\) or \(H, W, C\) images, got shape \(2, 2, 2, 2\)"):
        psnr(np.zeros((2, 2, 2, 2)), np.zeros((2, 2, 2, 2)))
