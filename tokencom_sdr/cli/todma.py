"""``tokencom todma``: token-domain multiple access against TDMA (text)."""

import argparse
from pathlib import Path

from .options import parse_snr_range, write_json_file


def _device_counts(text: str):
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"need a comma list of device counts >= 1, got {text!r}")
    return counts


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "todma", help="ToDMA (K devices sending tokens at once) against orthogonal TDMA",
        description="K devices send held-out text messages, one BPE token per slot, at once "
                    "over a shared complex Gaussian codebook (L x 4096) and flat Rayleigh "
                    "channels; the receiver detects each slot's tokens (OMP), clusters their "
                    "channel estimates into devices, masks collisions and fills them with the "
                    "text context model. Baselines on the same messages: ToDMA without the "
                    "fill, and TDMA through the real packet link and OFDM PHY. One row per "
                    "(K, SNR, scheme).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--devices", type=_device_counts, default=[4, 8], metavar="K[,K...]",
                        help="numbers of devices")
    parser.add_argument("--modality", choices=("text", "image"), default="text",
                        help="text: held-out messages (BPE, 4096 tokens); image: crops of the "
                             "held-out images (VQ, 512 codes), scored by PSNR")
    parser.add_argument("--crop", type=int, default=64, metavar="PIXELS",
                        help="image: side of the square crops each device sends")
    parser.add_argument("--snr", default="20", metavar="DB",
                        help="per-channel-use SNR(s) in dB: a value, a comma list or START:STOP:STEP")
    parser.add_argument("--codeword-len", type=int, default=64, metavar="L",
                        help="channel uses per slot (rows of the codebook)")
    parser.add_argument("--messages", type=int, default=4, metavar="N",
                        help="messages per device (frames per K and SNR)")
    parser.add_argument("--slots", type=int, default=64, metavar="N",
                        help="text: tokens per message (slots per frame); images send their "
                             "whole token grid")
    parser.add_argument("--schemes", default=None, metavar="LIST",
                        help="comma list of schemes (default: text todma,todma-free-fill,"
                             "todma-no-context,tdma; image todma,todma-no-context,tdma)")
    channel = parser.add_argument_group("devices and receiver")
    channel.add_argument("--common-delay", type=float, default=8.0, metavar="SAMPLES",
                         help="largest timing offset shared by all devices (uniform in [0, this]), "
                              "samples: the frame preamble finds it")
    channel.add_argument("--common-cfo", type=float, default=1e-3, metavar="CYCLES",
                         help="largest CFO shared by all devices (uniform in +-this), cycles per "
                              "sample (1e-3 is 2 kHz at 2 MS/s): preamble and pilots remove it")
    channel.add_argument("--max-delay", type=float, default=0.0, metavar="SAMPLES",
                         help="largest per-device residual timing offset (uniform in [0, this]), "
                              "samples; not corrected per device")
    channel.add_argument("--max-cfo", type=float, default=0.0, metavar="CYCLES",
                         help="largest per-device residual CFO (uniform in +-this), cycles per "
                              "sample; not corrected per device")
    channel.add_argument("--known-devices", action="store_true",
                         help="tell the receiver K instead of letting it estimate K")
    parser.add_argument("--seed", type=int, default=0, metavar="N")
    parser.add_argument("--no-semantic", action="store_true",
                        help="skip the MiniLM similarity (reported as null)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the rows as JSON here")
    parser.add_argument("--plot", type=Path, metavar="PATH",
                        help="write a PNG of TER and quality against K here")
    parser.set_defaults(run=run)


def _schemes(option, default) -> tuple:
    return tuple(s.strip() for s in (option or ",".join(default)).split(",") if s.strip())


def _fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def run(args) -> int:
    import torch

    from ..experiments.todma_eval import SCHEMES, TodmaEvalConfig, run_todma_eval
    from ..experiments.todma_image_eval import IMAGE_SCHEMES, run_todma_image_eval

    # Two cores are shared with other work: one thread keeps the timings honest.
    torch.set_num_threads(1)
    snrs = parse_snr_range(args.snr)
    if args.modality == "image":
        rows = run_todma_image_eval(args.devices, snrs, args.codeword_len, args.messages,
                                    args.crop, _schemes(args.schemes, IMAGE_SCHEMES), args.seed,
                                    max_delay=args.max_delay, max_cfo=args.max_cfo,
                                    known_devices=args.known_devices,
                                    common_delay=args.common_delay, common_cfo=args.common_cfo)
        quality = (("PSNR", "psnr_db", "6.2f"),)
    else:
        config = TodmaEvalConfig(devices=args.devices, snrs=snrs, codeword_len=args.codeword_len,
                                 frames=args.messages, slots=args.slots,
                                 schemes=_schemes(args.schemes, SCHEMES), seed=args.seed,
                                 semantic=not args.no_semantic, max_delay=args.max_delay,
                                 max_cfo=args.max_cfo, known_devices=args.known_devices,
                                 common_delay=args.common_delay, common_cfo=args.common_cfo)
        rows = run_todma_eval(config)
        quality = (("exact", "exact_rate", "6.3f"), ("semantic", "semantic_similarity", "8.3f"))
    header = (f"{'K':>3} {'K^':>5} {'SNR':>5} {'scheme':>17} {'coll':>5} {'resolved':>8} {'TER':>6} "
              + " ".join(f"{label:>8}" for label, _, _ in quality) + f" {'uses':>8}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['devices']:3d} {_fmt(row.get('devices_estimated'), '5.2f'):>5} "
              f"{row['snr_db']:5.1f} {row['scheme']:>17} "
              f"{row['collisions']:5d} {_fmt(row['collisions_resolved_rate'], '.3f'):>8} "
              f"{row['token_error_rate']:6.3f} "
              + " ".join(f"{_fmt(row[key], spec, 'n/a'):>8}" for _, key, spec in quality)
              + f" {row['channel_uses']:8.0f}")
    if args.json:
        write_json_file(args.json, rows)
    if args.plot:
        from ..experiments.todma_eval import plot_todma_eval

        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot_todma_eval(rows, args.plot)
    return 0
