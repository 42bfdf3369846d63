#!/usr/bin/env python3
"""Cross-modal context: what a caption is worth to image-token recovery.

Runs ``tokencom caption-eval`` on every held-out labelled digit with the
embedded caption model, on one torch thread (several threads on a busy
2-core machine were ten times slower), over packet losses 0 to 100 % and
with equal-quality references at 30, 50, 70 and 80 % loss, and writes its
JSON (rows per method and loss with PSNR and the digit classifier's
accuracy on the recovered images, paired caption gains, and the bits each
method needs at equal quality, caption included) and its plot.

Usage: .venv/bin/python bench/caption_context.py [--images 539]
       [--json docs/results/caption/caption_eval.json]
"""

import argparse
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=539, help="held-out digits (of 539)")
    parser.add_argument("--json", type=Path, default=Path("docs/results/caption/caption_eval.json"))
    args = parser.parse_args()

    import torch

    from tokencom_sdr.cli.main import main as tokencom

    torch.set_num_threads(1)
    return tokencom(["caption-eval", "--images", str(args.images),
                     "--loss", "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0",
                     "--reference-loss", "0.3,0.5,0.7,0.8", "--quiet",
                     "--json", str(args.json), "--plot", str(args.json.with_suffix(".png"))])


if __name__ == "__main__":
    sys.exit(main())
