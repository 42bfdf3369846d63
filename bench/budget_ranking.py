#!/usr/bin/env python3
"""How the sender ranks image tokens for a token budget: quality against cost.

A budget sends the share ``alpha`` of a picture's tokens and the receiver's
context model fills the rest (:mod:`tokencom_sdr.context.token_importance`).
Each photograph is shrunk to ``--side`` pixels, tokenized by the standard
tokenizer with one round of the id refinement, ranked, and the unsent tokens
are filled in ``--steps`` MaskGIT rounds; the figure is the PSNR of what the
receiver draws, and the ranking's seconds on one thread.

* ``--part calibrate`` (the 20 *train* photographs): the ``checkerboard``
  ranking with each neighbour penalty of ``--penalties`` and each round
  share of ``--round-shares``.
* ``--part compare`` (the held-out source no model saw): the ``checkerboard``
  and ``greedy`` rankings and a random choice.

Usage: .venv/bin/python bench/budget_ranking.py --part compare
       [--side 384] [--alphas 0.25,0.5,0.625,0.75] [--json docs/results/budget_ranking.json]
"""

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from json_report import emit_json  # bench/, first on sys.path when a bench runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("calibrate", "compare"), required=True)
    parser.add_argument("--side", type=int, default=384, help="longer side after shrinking")
    parser.add_argument("--alphas", default="0.25,0.5,0.625,0.75", metavar="A,A",
                        help="shares of the tokens sent")
    parser.add_argument("--penalties", default="2,3,4", metavar="P,P",
                        help="calibrate: neighbour penalties tried")
    parser.add_argument("--round-shares", default="1,0.4,0.3", metavar="S,S",
                        help="calibrate: round shares tried")
    parser.add_argument("--steps", type=int, default=1, metavar="N",
                        help="MaskGIT rounds of the receiver")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)

    import torch

    from tokencom_sdr.context.image_recovery import ImageRecovery
    from tokencom_sdr.data.datasets import photo_paths
    from tokencom_sdr.data.debian_sources import ROLE_HELDOUT
    from tokencom_sdr.data.image_data import read_image_file, shrink_to_side
    from tokencom_sdr.link.budget import budget_size
    from tokencom_sdr.metrics.image_quality import psnr
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    torch.set_num_threads(1)
    started = time.perf_counter()
    alphas = _floats(args.alphas)
    tokenizer = ImageTokenizer.default("standard")
    tokenizer.refine = 1
    recovery = ImageRecovery("context", tokenizer, steps=args.steps)
    photos = (photo_paths("train") if args.part == "calibrate"
              else photo_paths("heldout", role=ROLE_HELDOUT))
    rankers = (calibration_rankers(recovery.model, _floats(args.penalties),
                                   _floats(args.round_shares))
               if args.part == "calibrate" else comparison_rankers(recovery.model))
    rows = []
    for source, paths in photos.items():
        for path in paths:
            image = shrink_to_side(read_image_file(path), args.side)
            frame = tokenizer.encode_frame(image)
            grid = frame.ids.reshape(frame.shape)
            for alpha in alphas:
                keep = budget_size(grid.size, alpha)
                for name, rank in rankers.items():
                    start = time.perf_counter()
                    importance = rank(grid, keep)
                    seconds = time.perf_counter() - start
                    erased = np.ones(grid.size, dtype=bool)
                    erased[np.argsort(-importance, kind="stable")[:keep]] = False
                    received = dataclasses.replace(frame, erased=erased)
                    drawn = recovery.draw(recovery.recover(received), image.shape[:2])
                    rows.append({"source": source, "photo": path.name, "alpha": alpha,
                                 "ranking": name, "psnr_db": psnr(image, drawn),
                                 "ranking_s": seconds})
                    print(f"{path.name} alpha {alpha:g} {name}: {rows[-1]['psnr_db']:.2f} dB, "
                          f"ranked in {seconds:.2f} s", file=sys.stderr)
    summary = {}
    for alpha in alphas:
        for name in rankers:
            mine = [r for r in rows if r["alpha"] == alpha and r["ranking"] == name]
            summary[f"{name}@{alpha:g}"] = {
                "psnr_db_mean": float(np.mean([r["psnr_db"] for r in mine])),
                "ranking_s_mean": float(np.mean([r["ranking_s"] for r in mine])),
                "photos": len(mine)}
    emit_json({"command": "python bench/budget_ranking.py " + shlex.join(argv or sys.argv[1:]),
               "part": args.part, "side": args.side, "steps": args.steps, "id_refine": 1,
               "summary": summary, "rows": rows,
               "elapsed_s": time.perf_counter() - started}, args.json)
    return 0


def _floats(text):
    return [float(v) for v in text.split(",") if v.strip()]


def calibration_rankers(model, penalties, shares):
    """``{"penalty-P/share-S": rank}``: the checkerboard ranking at each setting."""
    from tokencom_sdr.context.token_importance import image_budget_importance

    def ranker(penalty, share):
        return lambda grid, keep: image_budget_importance(
            model, grid, keep, penalty=penalty, round_share=share)
    return {f"penalty-{p:g}/share-{s:g}": ranker(p, s) for p in penalties for s in shares}


def comparison_rankers(model):
    """``checkerboard``, ``greedy`` and ``random`` (seeded per photograph size)."""
    from tokencom_sdr.context.token_importance import image_budget_importance

    def ranking(name):
        return lambda grid, keep: image_budget_importance(model, grid, keep, name)
    return {"checkerboard": ranking("checkerboard"), "greedy": ranking("greedy"),
            "random": lambda grid, keep:
                np.random.default_rng([grid.size, keep]).random(grid.size)}


if __name__ == "__main__":
    sys.exit(main())
