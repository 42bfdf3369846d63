"""Options of ``tokencom train text-tokenizer``, ``text-context`` and ``text-memory``.

They are defined here, without importing torch (the trainers and the models
they build do), so that building the ``tokencom`` parser stays fast: a bad
radio profile is refused in well under two seconds.
"""

import argparse
from pathlib import Path

from ..training.text_data_options import add_training_text_arguments

__all__ = ["add_text_tokenizer_arguments", "add_text_context_arguments",
           "add_text_context_average_arguments", "add_text_memory_arguments",
           "add_domain_expert_arguments", "run_text_tokenizer", "run_text_context",
           "run_text_context_average", "run_text_memory", "run_domain_expert"]


def add_text_tokenizer_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``tokencom train text-tokenizer`` (the trainer's own; it imports no torch)."""
    from ..training.text_tokenizer import add_cli_arguments
    return add_cli_arguments(parser)


def run_text_tokenizer(args) -> int:
    from ..training import text_tokenizer
    return text_tokenizer.run_from_args(args)


def run_text_context(args) -> int:
    from ..training import text_context
    return text_context.run_from_args(args)


def run_text_context_average(args) -> int:
    from ..training import text_context_average
    return text_context_average.run_from_args(args)


def run_text_memory(args) -> int:
    from ..training import text_memory
    return text_memory.run_from_args(args)


def run_domain_expert(args) -> int:
    from ..training import domain_expert
    return domain_expert.run_from_args(args)


def add_text_context_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tokencom train text-context``."""
    parser.add_argument("--out", type=Path, default=None, metavar="PATH",
                        help="checkpoint to write (safetensors); default: the committed model's "
                             "path in the package, or out/text_context_tiny.safetensors with --tiny")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="stop after N steps (default: 4000 unless --minutes is given)")
    parser.add_argument("--minutes", type=float, default=None, metavar="M",
                        help="stop after M minutes of training (the LR schedule follows it)")
    parser.add_argument("--device", default="cpu", metavar="cpu|cuda",
                        help="torch device")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="CPU threads for torch (1 leaves the machine usable for others)")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny model and corpus slice, for CI: trains in seconds")
    parser.add_argument("--d-model", type=int, default=None, metavar="N",
                        help="model size (default: TextContextConfig's)")
    parser.add_argument("--layers", type=int, default=None, metavar="N",
                        help="model size (default: TextContextConfig's)")
    parser.add_argument("--heads", type=int, default=None, metavar="N",
                        help="model size (default: TextContextConfig's)")
    parser.add_argument("--d-ff", type=int, default=None, metavar="N",
                        help="model size (default: TextContextConfig's)")
    parser.add_argument("--max-len", type=int, default=None, metavar="N",
                        help="model size (default: TextContextConfig's)")
    parser.add_argument("--tokens-per-step", type=int, default=3072, metavar="N")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-every", type=int, default=500, metavar="N")
    parser.add_argument("--half", action=argparse.BooleanOptionalAction, default=True,
                        help="store float16 weights (half the file size)")
    parser.add_argument("--init", type=Path, default=None, metavar="PATH",
                        help="continue training from this checkpoint")
    add_training_text_arguments(parser, "training text")
    parser.add_argument("--grow-layers", type=int, default=None, metavar="N",
                        help="with --init: deepen the model to N layers first (the new "
                             "layers start as identities, so nothing learned is lost)")


def add_text_context_average_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tokencom train text-context-average``."""
    parser.add_argument("checkpoints", type=Path, nargs="+", metavar="CHECKPOINT",
                        help="two or more text context checkpoints continued from one model")
    parser.add_argument("--out", type=Path, required=True, metavar="PATH",
                        help="checkpoint to write (safetensors)")
    parser.add_argument("--weights", type=float, nargs="+", default=None, metavar="W",
                        help="one weight per checkpoint (default: equal)")
    parser.add_argument("--half", action=argparse.BooleanOptionalAction, default=True,
                        help="store float16 weights (half the file size)")


def add_text_memory_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tokencom train text-memory``."""
    parser.add_argument("--out", type=Path, default=None, metavar="PATH",
                        help="file to write (safetensors); default: the committed memory's "
                             "path in the package")
    parser.add_argument("--max-side", type=int, default=5, metavar="N",
                        help="longest context used on either side of a token")
    parser.add_argument("--min-context", type=int, default=3, metavar="N",
                        help="contexts with fewer known tokens are skipped (the model "
                             "alone is better there)")
    parser.add_argument("--kappa", type=float, default=4.0,
                        help="weight of the model's distribution against the counts (4 "
                             "suits the GPU-trained model; 2 suited the CPU-trained one)")
    add_training_text_arguments(parser, "text to remember")
    parser.add_argument("--max-bytes-per-source", type=int, default=None, metavar="N",
                        help="with --data corpus+modern: at most N bytes of each modern source "
                             "(blocks drawn evenly; keeps the committed memory small)")
    parser.add_argument("--tiny", action="store_true",
                        help="only the first 20 train blocks, for CI (seconds)")


def add_domain_expert_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tokencom train domain-expert``."""
    parser.add_argument("--model", type=Path, required=True, metavar="PATH",
                        help="the expert's text context model, in the folder of --out (for "
                             "the committed one: tokencom_sdr/context/data/"
                             "text_context_corpus.safetensors)")
    parser.add_argument("--out", type=Path, default=None, metavar="PATH",
                        help="expert file to write (safetensors); default: the committed "
                             "expert's path in the package")
    parser.add_argument("--memory", default="default", metavar="PATH|default",
                        help="corpus memory built with --data corpus+modern, whose corpus part "
                             "the expert uses and whose two parts train the router")
    parser.add_argument("--min-context", type=int, default=4, metavar="N",
                        help="the expert memory's shortest context (4 chosen on held-out "
                             "message sets of seeds 1 and 2)")
    parser.add_argument("--kappa", type=float, default=4.0,
                        help="the expert memory's weight of the model against the counts")
    parser.add_argument("--margin", type=float, default=0.3, metavar="NATS",
                        help="the expert takes a message when its received tokens are this "
                             "much more likely per token under the corpus than under modern "
                             "English (0.3 keeps everyday prose and held-out modern sources "
                             "with the general model)")
