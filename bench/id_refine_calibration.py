#!/usr/bin/env python3
"""Choose the curvature of the transmitter's id refinement on the train photographs.

:func:`tokencom_sdr.tokens.id_search.refine_ids` predicts how a change of a
token's codeword changes the decoded picture's squared error from the
error's gradient and one curvature per tokenizer. This sweeps that
curvature on the *train* side of the photo data set (``tokencom data
fetch``), each photograph shrunk so that its longer side is ``--side``
pixels, and reports per tokenizer the mean and the smallest PSNR gain over
the nearest codewords at each value. The chosen value, which is what
``REFINE_CURVATURE`` holds, has the largest mean gain among those at which
no photograph decodes worse than with the nearest codewords: too small a
curvature changes more tokens, and neighbouring changes can interact. No held-out photograph is read, so the figures
``bench/photo_baseline.py`` reports on them stay out-of-sample.

Usage: .venv/bin/python bench/id_refine_calibration.py [--side 384]
       [--curvatures 0.4,0.5,...] [--json docs/results/id_refine_calibration.json]
"""

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from json_report import emit_json  # bench/, first on sys.path when a bench runs

DEFAULT_CURVATURES = "0.1,0.2,0.3,0.35,0.4,0.5,0.65,0.8,1,1.5,2,3,5,8"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=384, help="longer side after shrinking")
    parser.add_argument("--curvatures", default=DEFAULT_CURVATURES,
                        help="comma-separated curvature values to try")
    parser.add_argument("--candidates", type=int, default=4, help="nearest codewords per token")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    curvatures = [float(value) for value in args.curvatures.split(",")]

    import torch

    from tokencom_sdr.data.datasets import photo_paths
    from tokencom_sdr.data.image_data import read_image_file, shrink_to_side
    from tokencom_sdr.tokens.id_search import refine_ids
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    torch.set_num_threads(1)
    started = time.perf_counter()
    photos = [path for paths in photo_paths("train").values() for path in paths]
    if not photos:
        parser.error("no train photographs: run `tokencom data fetch` first")
    images = [shrink_to_side(read_image_file(path), args.side) for path in photos]
    out = {"command": "python bench/id_refine_calibration.py " + shlex.join(argv or sys.argv[1:]),
           "side": args.side, "candidates": args.candidates,
           "photos": [path.parent.parent.name + "/" + path.name for path in photos],
           "tokenizers": {}}
    for name in ("standard", "low-rate"):
        tokenizer = ImageTokenizer.default(name)
        gains = np.zeros((len(images), len(curvatures)))
        for row, image in enumerate(images):
            x = tokenizer._to_tensor(image)
            plain = _psnr(tokenizer, image, tokenizer._nearest_ids(x)[0])
            for col, curvature in enumerate(curvatures):
                ids = refine_ids(tokenizer.model, x, curvature, args.candidates).numpy()
                gains[row, col] = _psnr(tokenizer, image, ids) - plain
            print(f"{name:>9} {photos[row].name}: " + " ".join(
                f"{c:g}:{g:+.3f}" for c, g in zip(curvatures, gains[row])), file=sys.stderr)
        mean = gains.mean(0)
        safe = np.where(gains.min(0) >= 0, mean, -np.inf)
        out["tokenizers"][name] = {
            "psnr_gain_db_mean": dict(zip(map(str, curvatures), mean.tolist())),
            "psnr_gain_db_min": dict(zip(map(str, curvatures), gains.min(0).tolist())),
            "best_mean_curvature": curvatures[int(mean.argmax())],
            "chosen_curvature": (curvatures[int(safe.argmax())] if np.isfinite(safe.max())
                                 else None),
        }
    out["elapsed_s"] = time.perf_counter() - started
    emit_json(out, args.json)
    return 0


def _psnr(tokenizer, image, ids) -> float:
    from tokencom_sdr.metrics.image_quality import psnr

    return psnr(image, tokenizer.decode(np.asarray(ids), image.shape[:2]))


if __name__ == "__main__":
    sys.exit(main())
