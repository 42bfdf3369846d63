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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

__all__ = ["LabelledImage", "DIGIT_WORDS", "digit_images", "IMAGE_SIDE"]

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
    from sklearn.datasets import load_digits

    digits = load_digits()
    cut = int(round(_TRAIN_SHARE * len(digits.target)))
    chosen = range(cut) if split == "train" else range(cut, len(digits.target))
    # The set's grey levels run 0..16.
    small = torch.from_numpy(digits.images[list(chosen)] / 16.0).float()[:, None]
    big = F.interpolate(small, size=(IMAGE_SIDE, IMAGE_SIDE), mode="bilinear",
                        align_corners=False).clamp(0, 1)
    pixels = np.rint(big[:, 0].numpy() * 255).astype(np.uint8)
    return [LabelledImage(np.repeat(p[..., None], 3, axis=2), int(digits.target[i]),
                          DIGIT_WORDS[int(digits.target[i])], i)
            for p, i in zip(pixels, chosen)]
