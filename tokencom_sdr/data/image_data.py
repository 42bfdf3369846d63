"""Offline images for training and evaluating the image tokenizer and the
image context model, plus the augmentation that stretches them.

Every image here ships inside a PyPI package the project installs
(``scikit-image``, ``scikit-learn``, ``matplotlib``, ``pygame-ce``), so nothing
is downloaded at run time. Three images are held out for evaluation and never
used in training: scikit-image's ``astronaut``, scikit-learn's ``flower`` and
pygame-ce's ``peppers``.

Images are ``np.ndarray`` of shape ``(H, W, 3)`` and dtype ``uint8`` (RGB).
Grey images are replicated to three channels; an alpha channel is composited
over white.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple, Union

import numpy as np

__all__ = ["TRAIN_IMAGES", "HELDOUT_IMAGES", "load_image", "load_images", "read_image_file",
           "shrink_to_side", "to_rgb_uint8", "ImageUnavailableError", "CropSampler"]


class ImageUnavailableError(RuntimeError):
    """A named image's package is not installed, or its file is unreadable."""


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Any grey, RGB or RGBA image -> ``(H, W, 3)`` ``uint8``.

    Parameters
    ----------
    image : np.ndarray, shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``
        ``uint8``, ``bool``, or floats in ``[0, 1]``.
    """
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    elif np.issubdtype(image.dtype, np.floating):
        image = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        if image.max(initial=0) > 255:
            # 16-bit and wider images: keep the top 8 bits of their range.
            image = (image.astype(np.float64) / float(np.iinfo(image.dtype).max) * 255.0)
            image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        else:
            image = image.astype(np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), "
                         f"got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"empty image of shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        image = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def read_image_file(path) -> np.ndarray:
    """Read PNG, JPEG, TIFF, ... with Pillow.

    Returns
    -------
    np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``

    Raises
    ------
    ValueError
        The file is missing or is not an image Pillow can read.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as handle:
            handle.load()
            if handle.mode not in ("RGB", "RGBA", "L"):
                handle = handle.convert("RGBA" if "A" in handle.getbands() else "RGB")
            return to_rgb_uint8(np.asarray(handle))
    except FileNotFoundError:
        raise ValueError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"cannot read {path} as an image: {error}") from None


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        try:
            import skimage.data
        except ImportError as error:
            raise ImageUnavailableError(
                "scikit-image is not installed (pip install -c constraints.txt scikit-image)"
            ) from error
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(skimage.data, name)()
    return load


def _package_dir(module: str, distribution: str) -> Path:
    """Install folder of a package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImageUnavailableError(
            f"{distribution} is not installed (pip install -c constraints.txt {distribution})")
    return Path(list(spec.submodule_search_locations)[0])


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        # Read the bundled JPEG directly: importing sklearn.datasets is slow.
        return read_image_file(_package_dir("sklearn", "scikit-learn")
                               / "datasets" / "images" / filename)
    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        try:
            import matplotlib
        except ImportError as error:
            raise ImageUnavailableError("matplotlib is not installed") from error
        return read_image_file(Path(matplotlib.get_data_path()) / "sample_data" / filename)
    return load


def _pygame(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        # Located without importing pygame, which would print a banner and
        # initialise SDL for nothing.
        return read_image_file(_package_dir("pygame", "pygame-ce") / "examples" / "data" / filename)
    return load


#: Name -> loader. The colour photographs carry most of the weight; grey
#: textures and documents add edges and texture statistics.
_LOADERS: Dict[str, Callable[[], np.ndarray]] = {
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "retina": _skimage("retina"),
    "colorwheel": _skimage("colorwheel"),
    "logo": _skimage("logo"),
    "camera": _skimage("camera"),
    "brick": _skimage("brick"),
    "grass": _skimage("grass"),
    "gravel": _skimage("gravel"),
    "moon": _skimage("moon"),
    "coins": _skimage("coins"),
    "clock": _skimage("clock"),
    "cell": _skimage("cell"),
    "page": _skimage("page"),
    "text": _skimage("text"),
    "china": _sklearn("china.jpg"),
    "grace_hopper": _matplotlib("grace_hopper.jpg"),
    "minduka": _matplotlib("Minduka_Present_Blue_Pack.png"),
    # Held out: never used for training.
    "astronaut": _skimage("astronaut"),
    "flower": _sklearn("flower.jpg"),
    "peppers": _pygame("peppers3.tif"),
}

#: Evaluation images (the issue's held-out set).
HELDOUT_IMAGES: Tuple[str, ...] = ("astronaut", "flower", "peppers")
#: Training images: everything else.
TRAIN_IMAGES: Tuple[str, ...] = tuple(n for n in _LOADERS if n not in HELDOUT_IMAGES)


def load_image(name: str) -> np.ndarray:
    """One bundled image by name.

    Returns
    -------
    np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
    """
    try:
        loader = _LOADERS[name]
    except KeyError:
        raise ValueError(f"unknown image {name!r}; known: {sorted(_LOADERS)}") from None
    return to_rgb_uint8(loader())


#: ``--image digit:N`` names the N-th held-out labelled digit.
DIGIT_PREFIX = "digit:"


def _heldout_digit(value: str) -> np.ndarray:
    from .labelled_images import digit_images

    digits = digit_images("heldout")
    index = value[len(DIGIT_PREFIX):]
    if not index.isdigit() or int(index) >= len(digits):
        raise ValueError(f"image {value!r}: expected digit:N with N from 0 to {len(digits) - 1}")
    return digits[int(index)].image


def load_image_source(value: str, max_side: int = 0) -> np.ndarray:
    """An image file, or the name of a bundled image (e.g. ``astronaut``).

    Parameters
    ----------
    value : str
        A path, a name of :func:`load_image`, or ``digit:N``: the ``N``-th
        held-out labelled digit (:mod:`tokencom_sdr.data.labelled_images`).
    max_side : int
        When > 0, shrink the image (keeping its aspect) so that neither side
        exceeds it: a big photograph is many packets.

    Returns
    -------
    np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``

    Raises
    ------
    ValueError
        Neither a readable image file nor a bundled image that loads.
    """
    path = Path(value).expanduser()
    if path.exists():
        image = read_image_file(path)
    elif str(value).startswith(DIGIT_PREFIX):
        image = _heldout_digit(str(value))
    else:
        try:
            image = load_image(str(value))
        except ValueError:
            raise ValueError(f"image {value!r}: no such file, and not a bundled image name "
                             f"(known: {', '.join(sorted(_LOADERS))})") from None
        except ImageUnavailableError as error:
            raise ValueError(f"image {value!r}: {error}") from None
    if max_side and max(image.shape[:2]) > max_side:
        image = shrink_to_side(image, max_side)
    return image


def shrink_to_side(image: np.ndarray, side: int) -> np.ndarray:
    """Resize (Lanczos) so that the longer side is ``side`` pixels.

    Parameters
    ----------
    image : np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``

    Returns
    -------
    np.ndarray, shape ``(H', W', 3)``, dtype ``uint8``, ``max(H', W') == side``
    """
    from PIL import Image

    scale = side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))


def load_images(names: Sequence[str], skip_missing: bool = False) -> Dict[str, np.ndarray]:
    """Several bundled images, by name, in the order given.

    Parameters
    ----------
    skip_missing : bool
        Leave out images whose package is missing instead of raising.
    """
    out = {}
    for name in names:
        try:
            out[name] = load_image(name)
        except (ImageUnavailableError, ValueError):
            if not skip_missing:
                raise
    return out


class CropSampler:
    """Random augmented crops of a set of images, as training batches.

    Augmentation: a random rescale (so that objects appear at several sizes),
    a random crop, horizontal and vertical flips, 90 degree rotations, and a
    colour jitter (brightness, contrast, saturation, channel permutation,
    which also gives grey images a random tint through the saturation term).

    Parameters
    ----------
    images : sequence of np.ndarray, each ``(H, W, 3)`` ``uint8``
    crop : int
        Side of the square crops, in pixels.
    scales : sequence of float
        Downscale factors applied once up front (a pyramid per image).
    seed : int
    colour_jitter : bool
    """

    def __init__(self, images: Sequence[np.ndarray], crop: int,
                 scales: Sequence[float] = (1.0, 0.75, 0.5), seed: int = 0,
                 colour_jitter: bool = True):
        import torch
        import torch.nn.functional as F

        if crop < 1:
            raise ValueError(f"crop must be positive, got {crop}")
        self.crop = int(crop)
        self.colour_jitter = colour_jitter
        self.generator = np.random.default_rng(seed)
        self.pool: List["torch.Tensor"] = []
        for image in images:
            tensor = torch.from_numpy(np.array(to_rgb_uint8(image))).permute(2, 0, 1).float().div(255.0)
            for scale in scales:
                h, w = tensor.shape[1:]
                size = (int(round(h * scale)), int(round(w * scale)))
                if min(size) < crop:
                    continue
                scaled = tensor if scale == 1.0 else F.interpolate(
                    tensor[None], size=size, mode="bilinear", align_corners=False,
                    antialias=True)[0].clamp(0, 1)
                self.pool.append(scaled.contiguous())
        if not self.pool:
            raise ValueError(f"no image is at least {crop} pixels on each side")
        # Larger images hold more distinct crops, but weighting by area would
        # let the 1411x1411 retina drown the rest: weight by the side length.
        # Colour images count double, since grey ones teach no chroma.
        weights = np.array([np.sqrt(p.shape[1] * p.shape[2])
                            * (2.0 if float((p - p.mean(0)).abs().mean()) > 0.01 else 1.0)
                            for p in self.pool], dtype=np.float64)
        self.weights = weights / weights.sum()

    def sample(self, batch: int):
        """Draw a batch.

        Returns
        -------
        torch.Tensor, shape ``(batch, 3, crop, crop)``, dtype ``float32``
            Values in ``[0, 1]``.
        """
        import torch

        rng = self.generator
        out = torch.empty(batch, 3, self.crop, self.crop)
        picks = rng.choice(len(self.pool), size=batch, p=self.weights)
        for b, index in enumerate(picks):
            image = self.pool[index]
            y = int(rng.integers(0, image.shape[1] - self.crop + 1))
            x = int(rng.integers(0, image.shape[2] - self.crop + 1))
            patch = image[:, y:y + self.crop, x:x + self.crop]
            if rng.random() < 0.5:
                patch = patch.flip(2)
            if rng.random() < 0.3:
                patch = patch.flip(1)
            k = int(rng.integers(0, 4)) if rng.random() < 0.3 else 0
            if k:
                patch = torch.rot90(patch, k, dims=(1, 2))
            out[b] = patch
        if self.colour_jitter:
            out = self._jitter(out)
        return out

    def _jitter(self, x):
        import torch

        rng = self.generator
        b = x.shape[0]
        perm = [list(rng.permutation(3)) if rng.random() < 0.3 else [0, 1, 2] for _ in range(b)]
        x = torch.stack([x[i, perm[i]] for i in range(b)])
        grey = x.mean(dim=1, keepdim=True)
        sat = torch.from_numpy(rng.uniform(0.6, 1.4, (b, 1, 1, 1))).float()
        tint = torch.from_numpy(rng.uniform(-0.08, 0.08, (b, 3, 1, 1))).float()
        x = grey + (x - grey) * sat + tint * (grey > 0) * (sat > 0)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        contrast = torch.from_numpy(rng.uniform(0.7, 1.3, (b, 1, 1, 1))).float()
        bright = torch.from_numpy(rng.uniform(-0.1, 0.1, (b, 1, 1, 1))).float()
        return ((x - mean) * contrast + mean + bright).clamp(0, 1)


#: File types :func:`load_image_files` picks up in a folder.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}


def load_image_files(paths: Sequence[Union[str, Path, np.ndarray]]) -> List[np.ndarray]:
    """Image files, folders of them, or arrays -> list of ``(H, W, 3)`` uint8."""
    images = []
    for path in paths:
        if isinstance(path, np.ndarray):
            images.append(to_rgb_uint8(path))
            continue
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) \
            if path.is_dir() else [path]
        images += [read_image_file(p) for p in files]
    if not images:
        raise ValueError(f"no images found in {[str(p) for p in paths]}")
    return images
