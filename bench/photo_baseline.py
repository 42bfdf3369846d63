#!/usr/bin/env python3
"""Image tokens against JPEG on held-out real photographs (``tokencom data fetch``).

For every held-out photograph of the photo data set (by default only the
source held out completely, ``plasma-photos``, which no model has seen),
shrunk so that its longer side is ``--side`` pixels, and for each embedded
tokenizer: PSNR / MS-SSIM of the error-free tokens and their bits per pixel,
JPEG (Pillow, quality bisected to the largest file within the tokens' bit
budget) at that budget, and at 30 % packet loss (interleaved, 32 tokens a
packet) PSNR with ``none``, ``copy`` and ``context`` recovery. Means over the
photographs are in ``summary``: per tokenizer with the nearest codewords
(``standard``, ``low-rate``), again with the transmitter's id refinement
(``standard+refine``, ``low-rate+refine``; ``+refineN`` with
``--refine-rounds N``: gradients of the decoded picture's error replace
nearest codewords where they predict a closer picture) and with its id
search (``standard+search4``, ``low-rate+search4``: each token chosen among
its 4 nearest codewords by decoding), both in
:mod:`tokencom_sdr.tokens.id_search`; same bits, same receiver. With
``--budgets``, also ``standard+refineN@A`` and ``low-rate+refineN@A``: only
the share ``A`` of the refined tokens is sent (those the context model would
restore worst, ranked by ``--budget-ranking``), without loss; the receiver
fills the rest with ``--budget-steps`` MaskGIT rounds, and JPEG gets the
bits that were sent, the position bitmaps included.

Usage: .venv/bin/python bench/photo_baseline.py [--side 384] [--draws 2]
       [--id-search 4] [--refine-rounds 1] [--budgets 0.75,0.625]
       [--budget-ranking checkerboard] [--budget-steps 1] [--all-heldout]
       [--json docs/results/photo_baseline.json]
"""

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from json_report import emit_json  # bench/, first on sys.path when a bench runs

from tokencom_sdr.link.budget import IMAGE_RANKINGS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=384, help="longer side after shrinking")
    parser.add_argument("--draws", type=int, default=2, help="loss draws per photo")
    parser.add_argument("--id-search", type=int, default=4, metavar="N",
                        help="also with the id search among N candidates (0: not)")
    parser.add_argument("--refine-rounds", type=int, default=1, metavar="N",
                        help="rounds of the id refinement in its rows (0: leave those rows out)")
    parser.add_argument("--budgets", default="", metavar="A,A",
                        help="also send only the share A of each tokenizer's tokens (with the id "
                             "refinement's ids), ranked by the context model, no loss, and "
                             "compare with JPEG at the bits sent (kept tokens and their "
                             "position bitmaps)")
    parser.add_argument("--budget-ranking", choices=IMAGE_RANKINGS, default=IMAGE_RANKINGS[0],
                        help="how the budget rows rank the tokens")
    parser.add_argument("--budget-steps", type=int, default=1, metavar="N",
                        help="MaskGIT rounds of the budget rows' receiver (the unsent tokens "
                             "are spread out, and one round filled them as well as two)")
    parser.add_argument("--all-heldout", action="store_true",
                        help="also the held-out photos of the sources that are trained on")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)

    import torch

    from tokencom_sdr.app.token_budget import TokenBudget
    from tokencom_sdr.data.datasets import photo_paths
    from tokencom_sdr.data.debian_sources import ROLE_HELDOUT
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    torch.set_num_threads(1)
    started = time.perf_counter()
    photos = photo_paths("heldout", role=None if args.all_heldout else ROLE_HELDOUT)
    out = {"command": "python bench/photo_baseline.py " + shlex.join(argv or sys.argv[1:]),
           "side": args.side, "loss": 0.3, "tokens_per_packet": 32, "photos": [],
           "summary": {}}
    # (label suffix, search candidates, refine)
    refine = args.refine_rounds
    settings = [("", 0, 0)] + ([("+refine" + (str(refine) if refine > 1 else ""), 0, refine)]
                               if refine > 0 else []) \
        + ([(f"+search{args.id_search}", args.id_search, 0)] if args.id_search > 1 else [])
    for suffix, search, refine in settings:
        for tokenizer_name in ("standard", "low-rate"):
            tokenizer = ImageTokenizer.default(tokenizer_name)
            tokenizer.search_candidates = search
            tokenizer.refine = refine
            label = tokenizer_name + suffix
            rows = [measure_photo(tokenizer, label, source, path, args.side, args.draws)
                    for source, paths in photos.items() for path in paths]
            out["photos"].extend(rows)
            out["summary"][label] = summarise(rows)
    out["budget_ranking"], out["budget_steps"] = args.budget_ranking, args.budget_steps
    for alpha in [float(value) for value in args.budgets.split(",") if value]:
        for tokenizer_name in ("standard", "low-rate"):
            tokenizer = ImageTokenizer.default(tokenizer_name)
            tokenizer.refine = max(1, args.refine_rounds)
            label = f"{tokenizer_name}+refine{tokenizer.refine}@{alpha:g}"
            budget = TokenBudget(alpha, image_ranking=args.budget_ranking)
            rows = [measure_budget(tokenizer, label, budget, args.budget_steps, source, path,
                                   args.side)
                    for source, paths in photos.items() for path in paths]
            out["photos"].extend(rows)
            out["summary"][label] = summarise_budget(rows)
    out["elapsed_s"] = time.perf_counter() - started
    emit_json(out, args.json)
    return 0


def measure_photo(tokenizer, label: str, source: str, path, side: int, draws: int) -> dict:
    """One photograph's row: error-free tokens, JPEG at their bits, 30 % loss."""
    from tokencom_sdr.data.image_data import read_image_file, shrink_to_side
    from tokencom_sdr.experiments.image_erasure_eval import evaluate_erasures

    image = shrink_to_side(read_image_file(path), side)
    result = evaluate_erasures(image, tokenizer, [0.3], draws=draws, tokens_per_packet=32)
    psnr_at_30 = {r["recovery"]: r["psnr_db"] for r in result["rows"]}
    row = {"tokenizer": label, "id_search": tokenizer.search_candidates,
           "id_refine": tokenizer.refine, "source": source,
           "photo": path.name, "size": list(image.shape[:2]),
           "bits_per_pixel": result["bits_per_pixel"],
           "psnr_tokens_db": result["psnr_tokens_only_db"],
           "ms_ssim_tokens": result["ms_ssim_tokens_only"],
           "psnr_jpeg_same_bpp_db": result["psnr_jpeg_same_bpp_db"],
           "ms_ssim_jpeg_same_bpp": result["ms_ssim_jpeg_same_bpp"],
           "jpeg_bits_per_pixel": result["jpeg_bits_per_pixel"],
           "psnr_30pct_loss_db": psnr_at_30}
    print(f"{label:>17} {source}/{path.name}: tokens {row['psnr_tokens_db']:.2f} dB at "
          f"{row['bits_per_pixel']:.3f} bpp, JPEG {row['psnr_jpeg_same_bpp_db']} dB, "
          f"30% loss {psnr_at_30}", file=sys.stderr)
    return row


def measure_budget(tokenizer, label: str, budget, steps: int, source: str, path,
                   side: int) -> dict:
    """One photograph sent with a token budget and no loss: the receiver's
    context model fills the unsent tokens; JPEG gets the bits that were sent."""
    from tokencom_sdr.data.image_data import read_image_file, shrink_to_side
    from tokencom_sdr.experiments.image_erasure_eval import evaluate_erasures

    image = shrink_to_side(read_image_file(path), side)
    start = time.perf_counter()
    result = evaluate_erasures(image, tokenizer, [0.0], methods=("context",), draws=1,
                               budget=budget, steps=steps)
    row = {"tokenizer": label, "budget": budget.alpha, "id_refine": tokenizer.refine,
           "ranking": budget.image_ranking, "steps": steps,
           "seconds": time.perf_counter() - start,
           "source": source, "photo": path.name, "size": list(image.shape[:2]),
           "bits_sent_per_pixel": result["bits_sent_per_pixel"],
           "psnr_context_db": result["rows"][0]["psnr_db"],
           "ms_ssim_context": result["rows"][0]["ms_ssim"],
           "psnr_jpeg_same_bpp_db": result["psnr_jpeg_same_bpp_db"],
           "ms_ssim_jpeg_same_bpp": result["ms_ssim_jpeg_same_bpp"],
           "jpeg_bits_per_pixel": result["jpeg_bits_per_pixel"]}
    print(f"{label:>17} {source}/{path.name}: context {row['psnr_context_db']:.2f} dB at "
          f"{row['bits_sent_per_pixel']:.3f} bpp sent, JPEG {row['psnr_jpeg_same_bpp_db']} dB",
          file=sys.stderr)
    return row


def summarise_budget(rows) -> dict:
    """Means over the photographs of one budget."""
    fitted = [r for r in rows if r["psnr_jpeg_same_bpp_db"] is not None]
    return {
        "photos": len(rows),
        "bits_sent_per_pixel_mean": float(np.mean([r["bits_sent_per_pixel"] for r in rows])),
        "psnr_context_db_mean": float(np.mean([r["psnr_context_db"] for r in rows])),
        "seconds_mean": float(np.mean([r["seconds"] for r in rows])),
        "psnr_jpeg_same_bpp_db_mean": (float(np.mean([r["psnr_jpeg_same_bpp_db"] for r in fitted]))
                                       if fitted else None),
        "photos_where_no_jpeg_fits": len(rows) - len(fitted),
        "context_minus_jpeg_db_mean": (float(np.mean(
            [r["psnr_context_db"] - r["psnr_jpeg_same_bpp_db"] for r in fitted]))
            if fitted else None),
    }


def summarise(rows) -> dict:
    """Means over the photographs of one tokenizer setting."""
    jpeg = [r["psnr_jpeg_same_bpp_db"] for r in rows if r["psnr_jpeg_same_bpp_db"] is not None]
    at_30 = [r["psnr_30pct_loss_db"] for r in rows]
    return {
        "photos": len(rows),
        "bits_per_pixel_mean": float(np.mean([r["bits_per_pixel"] for r in rows])),
        "psnr_tokens_db_mean": float(np.mean([r["psnr_tokens_db"] for r in rows])),
        "psnr_jpeg_same_bpp_db_mean": float(np.mean(jpeg)) if jpeg else None,
        "photos_where_no_jpeg_fits": len(rows) - len(jpeg),
        "tokens_minus_jpeg_db_mean": (float(np.mean(
            [r["psnr_tokens_db"] - r["psnr_jpeg_same_bpp_db"] for r in rows
             if r["psnr_jpeg_same_bpp_db"] is not None])) if jpeg else None),
        "psnr_30pct_loss_db_mean": {method: float(np.mean([p[method] for p in at_30]))
                                    for method in at_30[0]},
        "context_minus_copy_at_30pct_db_mean": float(np.mean(
            [p["context"] - p["copy"] for p in at_30])),
        "context_minus_none_at_30pct_db_mean": float(np.mean(
            [p["context"] - p["none"] for p in at_30])),
    }


if __name__ == "__main__":
    sys.exit(main())
