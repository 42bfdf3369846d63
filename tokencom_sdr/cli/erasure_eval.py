"""``tokencom erasure-eval``: image recovery under packet loss, without the PHY."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List

from .image_options import IMAGE_RECOVERY_METHODS, add_model_options, load_image_arg, load_models
from .budget_options import add_budget_options, budget_from_args
from .loss_options import add_loss_model_options
from .options import add_aggregation_option, comma_choices, write_json_file


def loss_rates(value: str) -> List[float]:
    try:
        out = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {value!r}") from None
    if not out or any(not 0.0 <= v <= 1.0 for v in out):
        raise argparse.ArgumentTypeError(f"loss rates must lie in [0, 1], got {value!r}")
    return out


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "erasure-eval", help="image recovery vs packet loss, without the PHY",
        description="Tokenize an image, send it in interleaved packets over a packet-erasure "
                    "channel (each packet lost independently, or in bursts with --loss-model), "
                    "fill the lost tokens with each recovery method and score the images. Rows "
                    "are means over --draws loss draws, the same draws for every method. A "
                    "bursty model is followed by i.i.d. loss at the same loss rate, for "
                    "comparison.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--image", required=True, metavar="PATH",
                        help="image file (or a bundled image name, e.g. astronaut)")
    parser.add_argument("--loss", type=loss_rates, default=[0.1, 0.3, 0.5], metavar="P,P,...",
                        help="packet-loss probabilities (iid, gilbert; EP1-EP6 fix their own)")
    parser.add_argument("--recovery", type=comma_choices(IMAGE_RECOVERY_METHODS, "recovery methods"), default=list(IMAGE_RECOVERY_METHODS),
                        metavar="M,M,...", help="recovery methods (none, copy, context)")
    parser.add_argument("--draws", type=int, default=5, metavar="N", help="loss draws per rate")
    parser.add_argument("--packet-tokens", type=int, default=32, metavar="N",
                        help="tokens per packet")
    add_aggregation_option(parser)
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="loss-draw seed")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="write the rows {recovery, loss, psnr_db, ms_ssim, ..., "
                             "psnr_jpeg_same_bpp_db, ms_ssim_jpeg_same_bpp, budget} as JSON")
    parser.add_argument("--caption", metavar="TEXT",
                        help="also score context recovery conditioned on this caption "
                             "(row 'context+caption'; the context rows then use the embedded "
                             "caption model, which knows handwritten digits, e.g. --image "
                             "digit:0 --caption zero, unless --context-weights names another "
                             "caption model)")
    add_loss_model_options(parser)
    add_model_options(parser)
    add_budget_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..experiments.image_erasure_eval import evaluate_erasures

    from ..channel.loss_models import make_loss_model

    budget = budget_from_args(args, args.seed)
    image = load_image_arg(args.image)
    tokenizer, context = load_models(args)
    if args.caption is not None and context is None:
        from ..context.image_maskgit import ImageContextModel
        context = ImageContextModel.default_caption()
    runs = [(args.loss_model, args.loss)]
    if args.loss_model.startswith("ep"):
        rate = make_loss_model(args.loss_model).loss_rate()
        runs = [(args.loss_model, [rate]), ("iid", [rate])]
    elif args.loss_model == "gilbert":
        runs.append(("iid", args.loss))
    rows = []
    for loss_model, losses in runs:
        result = evaluate_erasures(image, tokenizer, losses, args.recovery, args.draws,
                                   args.packet_tokens, args.seed, context, args.steps,
                                   soft=not args.hard, aggregation=args.aggregation,
                                   budget=budget,
                                   loss_model=loss_model, burst=args.burst,
                                   caption=args.caption)
        jpeg = {k: result[k] for k in ("psnr_jpeg_same_bpp_db", "ms_ssim_jpeg_same_bpp",
                                        "jpeg_quality", "jpeg_bits_per_pixel")}
        rows += [dict(row, psnr_tokens_only_db=result["psnr_tokens_only_db"],
                      bits_per_pixel=result["bits_per_pixel"],
                      bits_sent_per_pixel=result["bits_sent_per_pixel"], tokens=tokenizer.name,
                      budget=result["budget"], **jpeg)
                 for row in result["rows"]]
    sent = ("" if budget is None else
            f" ({result['bits_sent_per_pixel']:.4f} bpp sent: the budget's tokens and positions)")
    print(f"{tokenizer.name} tokens: grid {result['grid'][0]}x{result['grid'][1]}, "
          f"{result['packets']} packets, {result['bits_per_pixel']:.4f} bpp{sent}, error-free "
          f"tokens {result['psnr_tokens_only_db']:.2f} dB")
    if jpeg["psnr_jpeg_same_bpp_db"] is None:
        print("JPEG at the same bit budget: none fits (headers alone exceed it)")
    else:
        print(f"JPEG at the same bit budget: quality {jpeg['jpeg_quality']}, "
              f"{jpeg['jpeg_bits_per_pixel']:.4f} bpp, {jpeg['psnr_jpeg_same_bpp_db']:.2f} dB, "
              f"MS-SSIM {jpeg['ms_ssim_jpeg_same_bpp']:.4f}")
    print(f"{'model':>7} {'loss':>6} {'burst':>6} {'recovery':>9} {'PSNR dB':>8} {'std dB':>7} "
          f"{'MS-SSIM':>8} {'erased':>7}")
    for row in rows:
        print(f"{row['loss_model']:>7} {row['loss']:6.3f} {row['mean_burst_length']:6.2f} "
              f"{row['recovery']:>9} {row['psnr_db']:8.2f} {row['psnr_std_db']:7.2f} "
              f"{row['ms_ssim']:8.4f} {row['token_erasure_rate']:7.3f}")
    if args.json:
        write_json_file(args.json, rows)
    return 0
