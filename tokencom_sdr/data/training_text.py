"""The text the text models train on: the 17th-century corpus, optionally with modern English.

``corpus`` is the train split of :mod:`tokencom_sdr.data.corpus` (Shakespeare,
Milton, KJV). ``corpus+modern`` adds the train side of every modern-English
source that is not held out completely
(:mod:`tokencom_sdr.data.datasets`; run ``tokencom data fetch`` first). The
sources held out completely never enter, whatever the choice.
"""

from __future__ import annotations

import os
from typing import List, Optional, Union

from .corpus import blocks_within_budget, load_corpus_split, split_into_blocks
from .datasets import load_text_dataset
from .debian_sources import ROLE_SPLIT

__all__ = ["TRAINING_DATA_CHOICES", "training_blocks", "modern_heldout_texts"]

#: Values of the trainers' ``--data`` option.
TRAINING_DATA_CHOICES = ("corpus", "corpus+modern")


def training_blocks(data: str = "corpus",
                    data_dir: Union[str, os.PathLike, None] = None,
                    max_bytes_per_source: Optional[int] = None) -> List[str]:
    """Train-side text blocks (about 4 KB of whole lines each), corpus first.

    Parameters
    ----------
    data : str
        One of :data:`TRAINING_DATA_CHOICES`.
    data_dir : str or path-like or None
        Data folder of ``tokencom data fetch`` (``corpus+modern`` only).
    max_bytes_per_source : int or None
        Cap on each modern source's UTF-8 bytes: blocks are taken in a fixed
        pseudo-random order (a hash of source and block index) until the cap,
        so a capped source is still sampled from end to end. None: no cap.

    Returns
    -------
    list of str
    """
    if data not in TRAINING_DATA_CHOICES:
        raise ValueError(f"unknown training data {data!r}; choose from {TRAINING_DATA_CHOICES}")
    blocks = load_corpus_split().train_text
    if data == "corpus+modern":
        for name, text in load_text_dataset("train", data_dir, role=ROLE_SPLIT).items():
            source_blocks = split_into_blocks(name, text)
            if max_bytes_per_source is not None:
                source_blocks = blocks_within_budget(source_blocks, max_bytes_per_source)
            blocks.extend(block.text for block in source_blocks)
    return blocks


def modern_heldout_texts(data_dir: Union[str, os.PathLike, None] = None,
                         role: Union[str, None] = None) -> dict:
    """``{source: held-out text}`` of the modern-English data set; ``role``
    as in :func:`tokencom_sdr.data.datasets.load_text_dataset`."""
    return load_text_dataset("heldout", data_dir, role=role)
