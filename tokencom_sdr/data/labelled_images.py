"""Labelled images for cross-modal context: scikit-learn's handwritten digits.

No captioned photographs ship offline (PyPI's and Debian's photo sets carry
no labels; every labelled set on PyPI that we found downloads its data at
run time). scikit-learn bundles the UCI optical-recognition digits: 1,797
greyscale 8x8 images with their class, 0 to 9. These are coarse labels, and
the caption of an image is its class written as a word (``"seven"``), as
TokCom conditions MaskGIT on an ImageNet class label.

Each 8x8 image is scaled to 32x32 (bilinear) and repeated into RGB, so the
standard tokenizer (f = 4) gives an 8x8 token grid. The split is fixed: the
first 70 % of the set trains, the last 30 % (539 images) is held out.
scikit-learn records no writer ids, so writers may appear on both sides.

A machine without scikit-learn (a GPU trainer) reads the same arrays from
``$TOKENCOM_CACHE/digits/digits.npz``, which :func:`save_digits_arrays`
writes (``scripts/gpu_pack.py`` packs it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple, Union

import numpy as np

__all__ = ["LabelledImage", "DIGIT_WORDS", "digit_images", "IMAGE_SIDE", "save_digits_arrays",
           "digits_cache_path"]

#: The caption of each class.
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

#: Side of the scaled images, in pixels.
IMAGE_SIDE = 32

_TRAIN_SHARE = 0.7


@dataclass(frozen=True)
class LabelledImage:
    """An image with its class and caption.

    Attributes
    ----------
    image : np.ndarray, shape ``(32, 32, 3)``, dtype ``uint8``
    label : int
    caption : str
    index : int
        Position in scikit-learn's digits set.
    """

    image: np.ndarray
    label: int
    caption: str
    index: int


def digits_cache_path() -> Path:
    """Where a machine without scikit-learn looks for the digits arrays."""
    from .corpus import cache_root

    return cache_root() / "digits" / "digits.npz"


def _digits_arrays() -> Tuple[np.ndarray, np.ndarray]:
    """``(images (1797, 8, 8) float, grey levels 0..16; target (1797,) int)``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        path = digits_cache_path()
        if not path.is_file():
            raise RuntimeError(f"the labelled digits need scikit-learn, or {path} "
                               f"(written by scripts/gpu_pack.py)") from None
        with np.load(path) as arrays:
            return arrays["images"], arrays["target"]
    digits = load_digits()
    return digits.images, digits.target


def save_digits_arrays(path: Union[str, Path]) -> Path:
    """Write scikit-learn's digits to ``path`` (npz) for a machine without it."""
    images, target = _digits_arrays()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=images, target=target)
    return path


def digit_images(split: str) -> List[LabelledImage]:
    """The ``train`` or ``heldout`` digits, scaled to RGB 32x32.

    Raises
    ------
    ValueError
        Unknown split.
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    import torch
    import torch.nn.functional as F

    images, target = _digits_arrays()
    cut = int(round(_TRAIN_SHARE * len(target)))
    chosen = range(cut) if split == "train" else range(cut, len(target))
    # The set's grey levels run 0..16.
    small = torch.from_numpy(images[list(chosen)] / 16.0).float()[:, None]
    big = F.interpolate(small, size=(IMAGE_SIDE, IMAGE_SIDE), mode="bilinear",
                        align_corners=False).clamp(0, 1)
    pixels = np.rint(big[:, 0].numpy() * 255).astype(np.uint8)
    return [LabelledImage(np.repeat(p[..., None], 3, axis=2), int(target[i]),
                          DIGIT_WORDS[int(target[i])], i)
            for p, i in zip(pixels, chosen)]
