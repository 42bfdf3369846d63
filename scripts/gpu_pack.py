#!/usr/bin/env python3
"""Pack what ``scripts/gpu_train.sh`` needs onto a GPU machine that has no network.

A GPU machine for training typically has torch but neither the corpus
archives, the data sets of ``tokencom data fetch``, GNU Radio, nor the image
packages that the bundled training images come from. This writes one folder
(default ``.gpu/``, ignored by git) that travels with the working tree:

* ``cache.tar.xz``: the corpus text (``<cache>/corpus/text``), the
  modern-English data set (``<cache>/data/modern-english``) and
  scikit-learn's labelled digits (``<cache>/digits/digits.npz``, for the
  caption model), in the layout that ``$TOKENCOM_CACHE`` expects;
* ``images/``: the bundled training images and the photo data set's train
  split shrunk to ``--photo-side`` (the images that ``tokencom train
  image-context --photos SIDE`` trains on), as lossless WebP, so that
  ``--images .gpu/images`` trains on the same pixels.

The text goes whole: the trainers there split it as they do here and read
only the train sides. Of the photos, only the train split is packed.

Usage::

    .venv/bin/python scripts/gpu_pack.py            # after tokencom data fetch
    du -sh .gpu                                     # about 19 MB
"""

import argparse
import sys
import tarfile
import tempfile
from pathlib import Path

from PIL import Image

from tokencom_sdr.data.corpus import fetch_corpus, resolve_cache_dir
from tokencom_sdr.data.datasets import resolve_data_dir
from tokencom_sdr.data.image_data import TRAIN_IMAGES, load_images
from tokencom_sdr.data.labelled_images import save_digits_arrays
from tokencom_sdr.training.image_context import train_photos


def pack_text(out: Path) -> Path:
    """Corpus text, the modern-English data set and the digits as one ``cache.tar.xz``."""
    corpus_text = resolve_cache_dir() / "text"
    modern = resolve_data_dir() / "modern-english"
    fetch_corpus()
    if not (modern / "manifest.json").exists():
        raise SystemExit(f"{modern} is missing: run tokencom data fetch first")
    archive = out / "cache.tar.xz"
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive, "w:xz") as tar:
        tar.add(corpus_text, arcname="corpus/text")
        tar.add(modern, arcname="data/modern-english")
        tar.add(save_digits_arrays(Path(scratch) / "digits.npz"), arcname="digits/digits.npz")
    return archive


def pack_images(out: Path, photo_side: int) -> int:
    """Training images as lossless WebP under ``out/images``; returns their count."""
    folder = out / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.webp"):
        stale.unlink()
    bundled = load_images(TRAIN_IMAGES, skip_missing=True)
    for name, pixels in bundled.items():
        Image.fromarray(pixels).save(folder / f"bundled-{name}.webp", lossless=True)
    photos = train_photos(photo_side)
    for i, pixels in enumerate(photos):
        Image.fromarray(pixels).save(folder / f"photo-{i:03d}.webp", lossless=True)
    return len(bundled) + len(photos)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(".gpu"), help="folder to write")
    parser.add_argument("--photo-side", type=int, default=768,
                        help="longer side the train photos are shrunk to, in pixels")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    archive = pack_text(args.out)
    count = pack_images(args.out, args.photo_side)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{archive} ({archive.stat().st_size / 1e6:.1f} MB) and {count} training images "
          f"under {args.out / 'images'}; {size / 1e6:.1f} MB in all", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
