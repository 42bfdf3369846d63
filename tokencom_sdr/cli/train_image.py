"""``tokencom train image-tokenizer``, ``image-context`` and ``caption-context``.

The options are defined here, without importing torch, so that building the
``tokencom`` parser stays fast; the trainers are imported when a command runs.
"""

import argparse
from pathlib import Path

#: Keys of ``train_image_tokenizer.PRESETS`` and ``train_image_context.PRESETS``.
TOKENIZER_PRESETS = ("standard", "low-rate", "tiny")
CONTEXT_PRESETS = ("default", "tiny")


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options both image trainers take: learning rate, data, device and run control."""
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--images", nargs="+", type=Path, default=None, metavar="PATH",
                        help="train on these image files or folders instead of the bundled set")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop after this much wall-clock time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_tokenizer_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add this trainer's options to ``parser`` (a parser or a subparser)."""
    parser.add_argument("--out", required=True, type=Path, help="weight file to write (.safetensors)")
    parser.add_argument("--preset", choices=TOKENIZER_PRESETS, default="standard",
                        help="operating point: standard (f=4, K=512, 0.56 bpp), "
                             "low-rate (f=8, K=1024, 0.16 bpp), tiny (tests)")
    parser.add_argument("--steps", type=int, default=6000, help="optimiser steps")
    parser.add_argument("--batch", type=int, default=16, help="crops per step")
    parser.add_argument("--crop", type=int, default=None,
                        help="crop side in pixels (default: 48 standard, 64 low-rate)")
    parser.add_argument("--init", type=Path, default=None, metavar="FILE",
                        help="continue from this tokenizer (same preset) instead of scratch")
    parser.add_argument("--train", choices=("all", "decoder"), default="all",
                        help="with --init: train everything, or the decoder alone (the encoder "
                             "and codebook frozen, so every image keeps its token ids and the "
                             "context models stay valid)")
    _add_run_arguments(parser)
    return parser


def add_context_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add this trainer's options to ``parser`` (a parser or a subparser)."""
    parser.add_argument("--out", required=True, type=Path, help="weight file to write (.safetensors)")
    parser.add_argument("--tokenizer", default="standard",
                        help="standard, low-rate, or a tokenizer weight file")
    parser.add_argument("--preset", choices=CONTEXT_PRESETS, default="default",
                        help="model size: default (4 layers, d=128) or tiny (tests)")
    parser.add_argument("--steps", type=int, default=3000, help="optimiser steps")
    parser.add_argument("--batch", type=int, default=32, help="windows per step")
    parser.add_argument("--init", type=Path, default=None, metavar="FILE",
                        help="start from these context weights (fine-tuning) instead of scratch")
    parser.add_argument("--photos", type=int, default=None, metavar="SIDE",
                        help="also train on the photo data set's train split (tokencom data "
                             "fetch), each photo shrunk to this longer side in pixels")
    _add_run_arguments(parser)
    return parser


def _run_tokenizer(args) -> int:
    from ..training import image_tokenizer
    return image_tokenizer.run_from_args(args)


def _run_context(args) -> int:
    from ..training import image_context
    return image_context.run_from_args(args)


def _run_caption(args) -> int:
    from ..training import caption_context
    return caption_context.run_from_args(args)


def add_caption_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``tokencom train caption-context``."""
    parser.add_argument("--out", type=Path, default=None, metavar="PATH",
                        help="file to write (safetensors); default: the committed model's "
                             "path in the package")
    parser.add_argument("--steps", type=int, default=800, metavar="N", help="optimiser steps")
    parser.add_argument("--batch", type=int, default=32, metavar="B", help="token grids per step")
    parser.add_argument("--lr", type=float, default=5e-4, help="peak learning rate")
    parser.add_argument("--caption-len", type=int, default=8, metavar="L",
                        help="longest caption, in text tokens")
    parser.add_argument("--variants", type=int, default=4, metavar="N",
                        help="augmented versions of each training image")
    parser.add_argument("--init", type=Path, default=None, metavar="FILE",
                        help="continue from this caption model (default: the embedded standard "
                             "context model, with a fresh caption table)")
    parser.add_argument("--caption-lr-scale", type=float, default=10.0, metavar="X",
                        help="learning rate of the caption table relative to the rest")
    parser.add_argument("--film", action="store_true",
                        help="the caption also scales and shifts the grid tokens in every block "
                             "(FiLM; starts as no modulation, so --init may lack it)")
    parser.add_argument("--tokenizer", default="standard", metavar="standard|FILE",
                        help="tokenizer of the digits' token grids: the embedded standard one, "
                             "or a fine-tuned standard tokenizer's weight file")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--max-minutes", type=float, default=None, metavar="M",
                        help="stop after this much wall-clock time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def add_parsers(models) -> None:
    """Add ``image-tokenizer``, ``image-context`` and ``caption-context`` to the
    ``train`` subparsers."""
    tokenizer = models.add_parser(
        "image-tokenizer", help="VQ-VAE image tokenizer (standard f=4/K=512 or low-rate f=8/K=1024)",
        description="Train the VQ-VAE image tokenizer on the bundled offline images "
                    "(scikit-image, scikit-learn, matplotlib, pygame-ce; astronaut, flower and "
                    "peppers held out) or on your own, and write safetensors weights.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_tokenizer_arguments(tokenizer)
    tokenizer.set_defaults(run=_run_tokenizer)
    context = models.add_parser(
        "image-context", help="masked-token (MaskGIT) context model for an image tokenizer",
        description="Train the bidirectional masked-token transformer that fills lost image "
                    "tokens, on token grids of augmented training images, and write "
                    "safetensors weights.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_context_arguments(context)
    context.set_defaults(run=_run_context)
    caption = models.add_parser(
        "caption-context", help="image context model that also reads a caption (cross-modal)",
        description="Fine-tune the standard image context model, with a caption table added, "
                    "on scikit-learn's labelled handwritten digits (caption: the class word). "
                    "Every other step drops the caption, so the one model recovers with or "
                    "without a caption.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_caption_arguments(caption)
    caption.set_defaults(run=_run_caption)
