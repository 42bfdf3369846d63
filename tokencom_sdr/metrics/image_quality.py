"""Image quality metrics, implemented here in numpy: PSNR and MS-SSIM.

MS-SSIM follows Wang, Simoncelli and Bovik (2003): an 11-tap Gaussian window
(sigma 1.5), constants ``K1 = 0.01``, ``K2 = 0.03``, five scales with the
published exponents ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``, and a 2x2
average pool between scales. The mean contrast-structure term is taken at
every scale but the coarsest, which contributes its full SSIM (luminance
times contrast-structure, averaged per pixel), as in the authors' reference
code. RGB images are scored per channel and averaged. Images too small for
five scales use as many scales as fit (each at least the window size), with
the exponents renormalised.

``tests/metrics/test_image_quality.py`` pins SSIM and MS-SSIM to PyPI's
``pytorch-msssim`` (an independent implementation) within 1e-4.
"""

from __future__ import annotations

import numpy as np

__all__ = ["psnr", "ms_ssim", "ssim"]

_MS_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def _as_float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3:
        raise ValueError(f"expected (H, W) or (H, W, C) images, got shape {image.shape}")
    return image.astype(np.float64)


def _check_pair(a: np.ndarray, b: np.ndarray):
    a, b = _as_float(a), _as_float(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a, b


def psnr(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB.

    Parameters
    ----------
    reference, test : np.ndarray, shape ``(H, W)`` or ``(H, W, C)``
        Same shape; ``uint8`` (peak 255) or floats with ``peak`` given.

    Returns
    -------
    float
        ``10 log10(peak^2 / MSE)``; ``inf`` for identical images.
    """
    a, b = _check_pair(reference, test)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(peak ** 2 / mse))


def _gaussian_kernel(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _filter(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of ``(H, W, C)`` along H and W."""
    from scipy.ndimage import correlate1d

    n = len(g)
    y = correlate1d(x, g, axis=0, mode="constant")
    y = correlate1d(y, g, axis=1, mode="constant")
    lo = n // 2
    return y[lo:x.shape[0] - (n - 1 - lo), lo:x.shape[1] - (n - 1 - lo)]


def _ssim_terms(a: np.ndarray, b: np.ndarray, peak: float, g: np.ndarray):
    c1 = (0.01 * peak) ** 2
    c2 = (0.03 * peak) ** 2
    mu_a, mu_b = _filter(a, g), _filter(b, g)
    var_a = _filter(a * a, g) - mu_a ** 2
    var_b = _filter(b * b, g) - mu_b ** 2
    cov = _filter(a * b, g) - mu_a * mu_b
    luminance = (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1)
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    # Per-channel means, shape (C,). SSIM is the mean of the per-pixel product
    # (Wang et al.), not the product of the two means.
    return (luminance * cs).mean(axis=(0, 1)), cs.mean(axis=(0, 1))


def ssim(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Single-scale SSIM (Gaussian window), averaged over channels."""
    a, b = _check_pair(reference, test)
    if min(a.shape[:2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {a.shape[:2]}")
    ssim_per_channel, _ = _ssim_terms(a, b, peak, _gaussian_kernel())
    return float(np.mean(ssim_per_channel))


def ms_ssim(reference: np.ndarray, test: np.ndarray, peak: float = 255.0,
            max_scales: int = 5) -> float:
    """Multi-scale SSIM, averaged over channels.

    Parameters
    ----------
    reference, test : np.ndarray, shape ``(H, W)`` or ``(H, W, C)``
        At least 11x11 pixels.
    peak : float
        Dynamic range (255 for ``uint8``).
    max_scales : int
        At most 5.

    Returns
    -------
    float
        In ``[0, 1]`` for natural images (1 for identical ones).
    """
    a, b = _check_pair(reference, test)
    g = _gaussian_kernel()
    scales = 0
    h = min(a.shape[:2])
    while scales < min(max_scales, 5) and h >= len(g):
        scales += 1
        h //= 2
    if scales == 0:
        raise ValueError(f"MS-SSIM needs images of at least 11x11 pixels, got {a.shape[:2]}")
    weights = _MS_WEIGHTS[:scales] / _MS_WEIGHTS[:scales].sum()
    values = []
    for s in range(scales):
        ssim_per_channel, cs = _ssim_terms(a, b, peak, g)
        # Negative contrast-structure (anti-correlated images) would make the
        # fractional power undefined: clip as common implementations do.
        values.append(np.maximum(cs, 0.0))
        if s < scales - 1:
            a = _pool(a)
            b = _pool(b)
    # The coarsest scale contributes its full SSIM (luminance included).
    values[-1] = np.maximum(ssim_per_channel, 0.0)
    score = np.prod([v ** w for v, w in zip(values, weights)], axis=0)
    return float(np.mean(score))


def _pool(x: np.ndarray) -> np.ndarray:
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    x = x[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])
