"""The conventional image baseline: JPEG (Pillow) at the token bit budget.

Every image figure of TokenCom sits beside what a plain JPEG of the same
size gives. :func:`jpeg_at_bit_budget` searches Pillow's quality setting by
bisection for the largest JPEG file whose size in bits is not above the
budget (the bits the image's tokens take); :func:`jpeg_same_bpp_scores`
turns that into the report fields ``psnr_jpeg_same_bpp_db`` and
``ms_ssim_jpeg_same_bpp``.

The bisection assumes the file grows with the quality setting, which holds
for Pillow's libjpeg encoder apart from rare one-step wobbles; whatever
quality it returns, the file it returns is never above the budget. Files are
written with optimised Huffman tables (``optimize=True``) and Pillow's
default 4:2:0 chroma subsampling, the usual settings of a careful sender.
The whole file counts: headers and tables included.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from .image_quality import ms_ssim, psnr

__all__ = ["JpegAtBudget", "encode_jpeg", "jpeg_at_bit_budget", "jpeg_same_bpp_scores"]

#: Pillow's quality range; above 95 libjpeg only grows the file.
_QUALITY_MIN, _QUALITY_MAX = 1, 95


@dataclass(frozen=True)
class JpegAtBudget:
    """The JPEG chosen for a bit budget.

    Attributes
    ----------
    quality : int
        Pillow quality setting, 1..95.
    num_bytes : int
        Size of the whole file.
    bits_per_pixel : float
        ``8 * num_bytes / (H * W)``.
    decoded : np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
        The file decoded again.
    """

    quality: int
    num_bytes: int
    bits_per_pixel: float
    decoded: np.ndarray


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """The JPEG file of ``image`` (``(H, W, 3)`` uint8) at Pillow ``quality``,
    with the settings of the module docstring."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality), optimize=True)
    return buffer.getvalue()


def jpeg_at_bit_budget(image: np.ndarray, max_bits: float) -> Optional[JpegAtBudget]:
    """The highest-quality JPEG of ``image`` whose file is at most ``max_bits`` bits.

    Parameters
    ----------
    image : np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
    max_bits : float
        The budget: the bits the image's tokens take
        (``tokens * bits_per_token``).

    Returns
    -------
    JpegAtBudget or None
        None when even quality 1 does not fit (JPEG's headers alone are
        some 600 bytes: below about 0.1 bpp on small images it breaks down).
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got shape {image.shape}")
    budget_bytes = int(max_bits // 8)
    best = None
    low, high = _QUALITY_MIN, _QUALITY_MAX
    # Largest quality whose file fits: bisection over 1..95 (7 encodes).
    while low <= high:
        quality = (low + high) // 2
        data = encode_jpeg(image, quality)
        if len(data) <= budget_bytes:
            best = (quality, data)
            low = quality + 1
        else:
            high = quality - 1
    if best is None:
        return None
    from PIL import Image

    quality, data = best
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    height, width = image.shape[:2]
    return JpegAtBudget(quality=quality, num_bytes=len(data),
                        bits_per_pixel=8.0 * len(data) / (height * width), decoded=decoded)


def jpeg_same_bpp_scores(image: np.ndarray, token_bits: float) -> Dict[str, Optional[float]]:
    """Report fields of the JPEG baseline at the tokens' bit budget.

    Parameters
    ----------
    image : np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
        The original.
    token_bits : float
        Bits the image's tokens take on the link.

    Returns
    -------
    dict
        ``psnr_jpeg_same_bpp_db``, ``ms_ssim_jpeg_same_bpp``,
        ``jpeg_quality``, ``jpeg_bytes`` and ``jpeg_bits_per_pixel``; all
        None when no JPEG fits the budget.
    """
    chosen = jpeg_at_bit_budget(image, token_bits)
    if chosen is None:
        return {"psnr_jpeg_same_bpp_db": None, "ms_ssim_jpeg_same_bpp": None,
                "jpeg_quality": None, "jpeg_bytes": None, "jpeg_bits_per_pixel": None}
    return {"psnr_jpeg_same_bpp_db": psnr(image, chosen.decoded),
            "ms_ssim_jpeg_same_bpp": ms_ssim(image, chosen.decoded),
            "jpeg_quality": chosen.quality, "jpeg_bytes": chosen.num_bytes,
            "jpeg_bits_per_pixel": chosen.bits_per_pixel}
