#!/usr/bin/env python3
"""Would a richer caption reach 1 dB? Class words against measured attributes.

Text-guided TokCom (Liu et al., ICCC 2025) captions each picture at the
sender. Our only offline labelled set, scikit-learn's digits, has a class
and nothing else, and the class word gains under 1 dB at 30 and 50 % loss
(docs/results/caption/ablations.md). This bench gives the sender a richer
captioner: the class word, then one word for each of six measured
attributes where the picture lies in that attribute's lower or upper third
over the training digits (ink, slant, width, height, horizontal and
vertical centre of mass), e.g. ``"seven thin leaning left wide"``.

Two caption models continue the embedded one with the same steps, seed and
schedule, in parallel (one torch thread each): the control reads class
words, the other attribute captions. Each is then measured on held-out
digits with its own captions, paired against itself without a caption, and
each caption's bits (12 per text token) count in the equal-quality
comparison. Writes JSON (``models.<captions>``: what ``caption-eval``
writes, plus ``efficiency`` at 30 and 50 % loss) and prints the gains.

Usage: .venv/bin/python bench/caption_attributes.py [--steps 4000]
       [--images 150] [--out-dir out/caption_attributes]
       [--json docs/results/caption/attributes.json] [--reuse]
"""

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache, partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np

#: Captioners compared: the control first.
CAPTIONS = ("class", "attributes")

#: Per attribute, the words for its lower and upper third.
ATTRIBUTE_WORDS = (("thin", "thick"), ("leaning left", "leaning right"), ("narrow", "wide"),
                   ("short", "tall"), ("left", "right"), ("high", "low"))

LOSSES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
REFERENCE_LOSSES = (0.3, 0.5)


def attributes(image: np.ndarray) -> np.ndarray:
    """Ink (mean grey level), slant (mu11 / mu02), width and height (spread
    of the ink, pixels) and the centre of mass (x, y) of a ``(H, W, 3)``
    uint8 picture, as ``(6,)`` float."""
    grey = np.asarray(image, dtype=np.float64).mean(axis=2) / 255.0
    mass = grey.sum() + 1e-9
    ys, xs = np.mgrid[0:grey.shape[0], 0:grey.shape[1]]
    cx, cy = (grey * xs).sum() / mass, (grey * ys).sum() / mass
    mu20 = (grey * (xs - cx) ** 2).sum() / mass
    mu02 = (grey * (ys - cy) ** 2).sum() / mass
    mu11 = (grey * (xs - cx) * (ys - cy)).sum() / mass
    return np.array([mass / grey.size, mu11 / mu02, np.sqrt(mu20), np.sqrt(mu02), cx, cy])


@lru_cache(maxsize=1)
def attribute_thirds() -> np.ndarray:
    """``(2, 6)``: each attribute's 1/3 and 2/3 quantiles over the training digits."""
    from tokencom_sdr.data.labelled_images import digit_images

    table = np.stack([attributes(item.image) for item in digit_images("train")])
    return np.quantile(table, [1 / 3, 2 / 3], axis=0)


def describe(item, captions: str = "attributes") -> str:
    """The sender's caption of a LabelledImage: its class word, and with
    ``attributes`` a word per attribute outside its middle third."""
    if captions == "class":
        return item.caption
    low, high = attribute_thirds()
    words = [item.caption]
    for value, lo, hi, (below, above) in zip(attributes(item.image), low, high, ATTRIBUTE_WORDS):
        if value < lo:
            words.append(below)
        elif value > hi:
            words.append(above)
    return " ".join(words)


def _train(captions: str, path: str, steps: int, seed: int) -> str:
    import torch

    from tokencom_sdr.context.image_maskgit import default_caption_context_path
    from tokencom_sdr.training.caption_context import train_caption_context

    torch.set_num_threads(1)
    train_caption_context(path, steps=steps, batch=32, lr=3e-4, caption_len=16, variants=4,
                          seed=seed, progress=False, init=default_caption_context_path(),
                          film=True, describe=partial(describe, captions=captions))
    return path


def _evaluate(captions: str, path: str, images: int) -> dict:
    import dataclasses

    import torch

    from tokencom_sdr.context.image_maskgit import ImageContextModel
    from tokencom_sdr.data.labelled_images import digit_images
    from tokencom_sdr.experiments.caption_eval import (digit_classifier, efficiency_at_quality,
                                                       evaluate_captions)
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    torch.set_num_threads(1)
    held_out = [dataclasses.replace(item, caption=describe(item, captions))
                for item in digit_images("heldout")[:images]]
    model = ImageContextModel.from_file(path)
    result = evaluate_captions(model, ImageTokenizer.default("standard"), held_out, LOSSES,
                               tokens_per_packet=4, steps=2, seed=0, classify=digit_classifier())
    result["efficiency"] = [row for loss in REFERENCE_LOSSES
                            for row in efficiency_at_quality(result, loss)]
    result["example_captions"] = [item.caption for item in held_out[:5]]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="training steps per model")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--images", type=int, default=150, help="held-out digits (of 539)")
    parser.add_argument("--out-dir", type=Path, default=Path("out/caption_attributes"),
                        help="where the two models' weights go")
    parser.add_argument("--json", type=Path, default=Path("docs/results/caption/attributes.json"))
    parser.add_argument("--reuse", action="store_true",
                        help="evaluate the weights already in --out-dir, train nothing")
    args = parser.parse_args()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    paths = {c: str(args.out_dir / f"digits_caption_{c}.safetensors") for c in CAPTIONS}
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        if not args.reuse:
            for done in [pool.submit(_train, c, paths[c], args.steps, args.seed) for c in CAPTIONS]:
                done.result()
        jobs = {c: pool.submit(_evaluate, c, paths[c], args.images) for c in CAPTIONS}
        models = {c: job.result() for c, job in jobs.items()}

    thirds = attribute_thirds()
    report = {"settings": {"steps": args.steps, "seed": args.seed, "images": args.images,
                           "packet_tokens": 4, "maskgit_steps": 2, "caption_len": 16,
                           "init": "embedded caption model", "losses": list(LOSSES)},
              "attribute_thirds": {words[0] + "/" + words[1]: [float(thirds[0, k]),
                                                               float(thirds[1, k])]
                                   for k, words in enumerate(ATTRIBUTE_WORDS)},
              "models": models}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    for captions, result in models.items():
        gains = {g["loss"]: g for g in result["paired_gains"]}
        cells = "  ".join(f"{loss:.0%}: {gains[loss]['caption_gain_db']:+.2f} "
                          f"± {gains[loss]['caption_gain_sem_db']:.2f} dB"
                          for loss in (0.3, 0.5, 0.7))
        print(f"{captions:>10}: {result['caption_bits']:.0f} caption bits  {cells}")
        for row in result["efficiency"]:
            if row["recovery"] == "context+caption" and "gain_over_context" in row:
                print(f"{'':>12}equal quality at {row['reference_loss']:.0%} loss: "
                      f"{row['gain_over_context']:+.1%} bandwidth over the same model "
                      f"without the caption")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
