"""Image options shared by ``tokencom loopback --image`` and ``tokencom erasure-eval``,
and the image branch of ``tokencom loopback``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..context.modes import DEFAULT_IMAGE_RECOVERY
from ..context.modes import IMAGE_RECOVERY_MODES as IMAGE_RECOVERY_METHODS

TOKENIZER_CHOICES = ("standard", "low-rate")


def load_image_arg(value: str, max_side: int = 0) -> np.ndarray:
    """``--image``: an image file, or the name of a bundled image (e.g. ``astronaut``),
    shrunk to ``max_side`` pixels per side when that is > 0.

    Returns
    -------
    np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
    """
    from ..data.image_data import load_image_source

    try:
        return load_image_source(value, max_side)
    except ValueError as error:
        raise ValueError(f"--{error}") from None


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--tokens``, ``--steps``, ``--hard`` and weight-file overrides."""
    group = parser.add_argument_group("image tokens and recovery models")
    group.add_argument("--tokens", choices=TOKENIZER_CHOICES, default="standard",
                       help="image tokenizer: standard (f=4, 512 codes, 0.56 bpp) or "
                            "low-rate (f=8, 1024 codes, 0.16 bpp)")
    group.add_argument("--steps", type=int, default=2, metavar="N",
                       help="MaskGIT decoding rounds of context recovery")
    group.add_argument("--hard", action="store_true",
                       help="context recovery draws its single best code per position instead "
                            "of the expected codeword of its top candidates")
    group.add_argument("--tokenizer-weights", type=Path, default=None, metavar="FILE",
                       help="tokenizer weights to use instead of the embedded --tokens model")
    group.add_argument("--context-weights", type=Path, default=None, metavar="FILE",
                       help="context model weights to use instead of the embedded one")
    add_id_search_option(group)


def add_id_search_option(group) -> None:
    """``--id-refine`` and ``--id-search N``: the transmitter picks ids by the
    decoded image's error."""
    group.add_argument("--id-refine", type=int, nargs="?", const=1, default=0, metavar="N",
                       help="transmitter: N rounds (1 if no N is given) in which a gradient of "
                            "the decoded picture's error may replace a token's codeword by one "
                            "of its 4 nearest where that predicts a closer picture (one round: "
                            "about +0.4 dB on photographs at the same bits for 0.2 s per "
                            "256x256 image; four: +0.6 dB; the receiver is unchanged)")
    group.add_argument("--id-search", type=int, default=0, metavar="N",
                       help="transmitter: choose each token among its N nearest codewords by "
                            "the decoded picture's error (4: about +0.6 dB on photographs at "
                            "the same bits, seconds of encoding per image; the receiver is "
                            "unchanged); 0: the nearest codeword")


def load_models(args):
    """(tokenizer, context model or None) from the options of :func:`add_model_options`."""
    from ..context.image_maskgit import ImageContextModel
    from ..tokens.image_vq import ImageTokenizer

    if args.tokenizer_weights:
        tokenizer = ImageTokenizer.from_file(args.tokenizer_weights, name=args.tokens)
    else:
        tokenizer = ImageTokenizer.default(args.tokens)
    tokenizer.search_candidates = args.id_search
    tokenizer.refine = args.id_refine
    context = ImageContextModel.from_file(args.context_weights) if args.context_weights else None
    return tokenizer, context


def add_image_source_options(parser: argparse.ArgumentParser, source_group) -> None:
    """The image half of ``tokencom loopback``.

    ``source_group`` is the mutually exclusive group that also holds ``--text``.
    """
    source_group.add_argument("--image", metavar="PATH",
                              help="image file to send (or a bundled image name, e.g. astronaut)")
    group = parser.add_argument_group("image (with --image)")
    group.add_argument("--recovery", choices=IMAGE_RECOVERY_METHODS, default=DEFAULT_IMAGE_RECOVERY,
                       help="how the receiver fills tokens of lost packets")
    group.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="write received.png, no_recovery.png, tokens_only.png and "
                            "comparison.png here")
    group.add_argument("--caption", metavar="TEXT",
                       help="cross-modal context: send this caption first as a short text "
                            "message over the same link; what arrives conditions context "
                            "recovery (needs a caption model: the embedded one knows "
                            "handwritten digits, e.g. --image digit:0 --caption zero, digit:N "
                            "being the N-th held-out digit; or give --context-weights)")
    add_model_options(parser)


def image_summary_line(report: dict) -> str:
    lat = report["latency_s"]
    return (f"snr {report['snr_db']:.1f} dB | packets {report['packets_received']}/"
            f"{report['packets_sent']} (PER {report['packet_error_rate']:.3f}) | tokens "
            f"{report['tokens_sent']} (erased {report['token_erasure_rate']:.3f}) | "
            f"{_bits_text(report)} | PSNR {report['psnr_db']:.2f} dB "
            f"({report['recovery']}), {report['psnr_no_recovery_db']:.2f} dB (none), "
            f"{report['psnr_tokens_only_db']:.2f} dB (error-free tokens), "
            f"{_jpeg_text(report)} | MS-SSIM "
            f"{report['ms_ssim']:.4f} | encode {lat['encode'] * 1e3:.0f} ms, phy "
            f"{lat['phy'] * 1e3:.0f} ms, receive and recover {lat['decode'] * 1e3:.0f} ms")


def _bits_text(report: dict) -> str:
    if report.get("budget") is None:
        return f"{report['bits_per_pixel']:.3f} bpp"
    return f"{report['bits_sent_per_pixel']:.3f} bpp sent (budget; every token: " \
           f"{report['bits_per_pixel']:.3f})"


def _jpeg_text(report: dict) -> str:
    if report.get("psnr_jpeg_same_bpp_db") is None:
        return "JPEG does not fit the bit budget"
    return (f"{report['psnr_jpeg_same_bpp_db']:.2f} dB (JPEG q{report['jpeg_quality']} at "
            f"{report['jpeg_bits_per_pixel']:.3f} bpp)")


def run_image_loopback_from_args(args, config) -> int:
    """Run ``tokencom loopback --image`` with a ready :class:`LinkConfig`."""
    from ..app.loopback import run_image_loopback

    image = load_image_arg(args.image)
    tokenizer, context = load_models(args)
    report = run_image_loopback(image, config, tokenizer, args.recovery, args.out, context,
                                steps=args.steps, soft=not args.hard, caption=args.caption)
    print(image_summary_line(report))
    if "caption" in report:
        caption = report["caption"]
        print(f"caption {caption['sent']!r} -> {caption['received']!r} "
              f"({caption['packets_received']}/{caption['packets_sent']} packets, "
              f"{caption['channel_uses']} channel uses; image and caption "
              f"{report['channel_uses_with_caption']})")
    if args.out:
        print(f"wrote {report['files']['received']} and {report['files']['comparison']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0
