"""``tokencom caption-eval``: cross-modal context, image recovery with and without a caption."""

from __future__ import annotations

import argparse
from pathlib import Path

from .erasure_eval import loss_rates
from .options import add_aggregation_option, write_json_file


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "caption-eval", help="image recovery with and without a caption (cross-modal context)",
        description="Send held-out labelled images (scikit-learn's handwritten digits, captioned "
                    "with their class word) in packets (interleaved by default) over a "
                    "packet-erasure channel and recover them with none, copy, context (no "
                    "caption) and context+caption, from the same loss draws and the same "
                    "model. Then report the bits each method needs for the quality context "
                    "reaches at each "
                    "--reference-loss, the caption's bits included (bandwidth efficiency at "
                    "equal quality). Beside PSNR, a semantic score: the share of recovered "
                    "images that a digit classifier trained on the training digits (an RBF "
                    "support-vector machine) puts in the right class.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--images", type=int, default=200, metavar="N",
                        help="held-out images to use (of 539)")
    parser.add_argument("--loss", type=loss_rates, metavar="P,P,...",
                        default=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
                        help="packet-loss probabilities")
    parser.add_argument("--reference-loss", type=loss_rates, default=[0.3, 0.5], metavar="P,P",
                        help="loss rates (from --loss) whose context quality sets the targets of "
                             "the efficiency comparison")
    parser.add_argument("--packet-tokens", type=int, default=4, metavar="N",
                        help="tokens per packet (TokCom's demo uses 4)")
    add_aggregation_option(parser, help="token-to-packet mapping: sequential packets lose "
                                        "whole rows of the token grid at once")
    parser.add_argument("--steps", type=int, default=2, metavar="N", help="MaskGIT rounds")
    parser.add_argument("--context-weights", type=Path, default=None, metavar="FILE",
                        help="caption-conditioned context model (default: the embedded one)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="loss-draw seed")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the full result as JSON")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="PSNR against loss, per method")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..context.image_maskgit import ImageContextModel, default_caption_context_path
    from ..data.labelled_images import digit_images
    from ..experiments.caption_eval import (digit_classifier, efficiency_at_quality,
                                            evaluate_captions)
    from ..tokens.image_vq import ImageTokenizer
    from ..training.progress import progress_bar

    missing = [p for p in args.reference_loss if p not in args.loss]
    if missing:
        raise SystemExit(f"tokencom caption-eval: --reference-loss {missing} not in --loss")
    if args.images < 1:
        raise SystemExit("tokencom caption-eval: --images must be at least 1")
    model = ImageContextModel.from_file(args.context_weights or default_caption_context_path())
    if not model.takes_caption:
        raise SystemExit(f"tokencom caption-eval: {args.context_weights} was trained without "
                         f"captions")
    images = digit_images("heldout")[:args.images]
    bar = progress_bar(len(images) * len(args.loss), not args.quiet, "caption-eval")
    result = evaluate_captions(model, ImageTokenizer.default("standard"), images, args.loss,
                               args.packet_tokens, args.steps, args.seed,
                               progress=None if bar is None else lambda: bar.update(1),
                               classify=digit_classifier(), aggregation=args.aggregation)
    if bar is not None:
        bar.close()
    result["efficiency"] = [row for loss in args.reference_loss
                            for row in efficiency_at_quality(result, loss)]
    result["settings"] = {"images": len(images), "packet_tokens": args.packet_tokens,
                          "aggregation": args.aggregation,
                          "steps": args.steps, "seed": args.seed,
                          "context_weights": str(args.context_weights or "embedded")}
    print(f"{len(images)} held-out digits, grid {result['grid'][0]}x{result['grid'][1]}, "
          f"{result['image_bits']} bits of tokens, caption {result['caption_bits']:.1f} bits; "
          f"error-free tokens {result['psnr_tokens_only_db']:.2f} dB, digit classifier right on "
          f"{result['class_accuracy_tokens_only']:.1%}")
    print(f"{'loss':>5} " + " ".join(f"{m:>16}" for m in ("none", "copy", "context",
                                                            "context+caption")) + "   gain dB")
    gains = {g["loss"]: g for g in result["paired_gains"]}
    for loss in args.loss:
        row = {r["recovery"]: r for r in result["rows"] if r["loss"] == loss}
        cells = " ".join(f"{row[m]['psnr_db']:9.2f}±{row[m]['psnr_sem_db']:.2f} dB"[:16].rjust(16)
                         for m in ("none", "copy", "context", "context+caption"))
        g = gains[loss]
        print(f"{loss:5.2f} {cells}   {g['caption_gain_db']:+.2f}±{g['caption_gain_sem_db']:.2f}")
        accuracy = " ".join(f"{row[m]['class_accuracy']:16.1%}"
                            for m in ("none", "copy", "context", "context+caption"))
        print(f"{'class':>5} {accuracy}   {g['caption_accuracy_gain']:+.1%}")
    for row in result["efficiency"]:
        if row["recovery"] == "context+caption" and row["bits"] is not None:
            others = ", ".join(f"{k[10:]} {v:+.1%}" for k, v in row.items()
                               if k.startswith("gain_over_"))
            print(f"equal quality {row['target_psnr_db']:.2f} dB (context at loss "
                  f"{row['reference_loss']:.2f}): context+caption needs {row['bits']:.0f} bits; "
                  f"gain over {others}")
    if args.json:
        write_json_file(args.json, result)
    if args.plot:
        _plot(result, args.plot)
    return 0


def _plot(result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, acc) = plt.subplots(1, 2, figsize=(11, 4))
    for method in ("none", "copy", "context", "context+caption"):
        rows = sorted((r for r in result["rows"] if r["recovery"] == method),
                      key=lambda r: r["loss"])
        ax.errorbar([r["loss"] for r in rows], [r["psnr_db"] for r in rows],
                    yerr=[1.96 * r["psnr_sem_db"] for r in rows], marker="o", capsize=3,
                    label=method)
        acc.plot([r["loss"] for r in rows], [100 * r["class_accuracy"] for r in rows],
                 marker="o", label=method)
    ax.axhline(result["psnr_tokens_only_db"], color="grey", ls=":", label="error-free tokens")
    acc.axhline(100 * result["class_accuracy_tokens_only"], color="grey", ls=":",
                label="error-free tokens")
    ax.set_xlabel("packet-loss probability")
    ax.set_ylabel("PSNR (dB), mean ± 95 % CI")
    ax.set_title(f"Held-out digits, {result['settings']['images']} images")
    acc.set_xlabel("packet-loss probability")
    acc.set_ylabel("digit classifier right (%)")
    acc.set_title("Semantic score: is it still the digit sent?")
    for axis in (ax, acc):
        axis.grid(alpha=0.3)
        axis.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
