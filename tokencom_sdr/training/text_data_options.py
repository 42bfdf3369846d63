"""The command-line options that choose a text trainer's training data."""

import argparse
from pathlib import Path

from ..data.training_text import TRAINING_DATA_CHOICES

__all__ = ["add_training_text_arguments"]


def add_training_text_arguments(parser: argparse.ArgumentParser, what: str,
                                data_dir: bool = True) -> None:
    """Add ``--data`` (the 17th-century corpus, or it plus the modern-English
    data set) and, with ``data_dir``, ``--data-dir`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A parser or a subparser.
    what : str
        What the text is for, opening the help line ("training text").
    data_dir : bool
        Also offer ``--data-dir`` (the folder of ``tokencom data fetch``).
    """
    parser.add_argument("--data", choices=TRAINING_DATA_CHOICES, default="corpus",
                        help=f"{what}: the 17th-century corpus, or it plus the modern-English "
                             "data set of `tokencom data fetch` (train sides only)")
    if data_dir:
        parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                            help="data folder of `tokencom data fetch` (with --data corpus+modern)")
