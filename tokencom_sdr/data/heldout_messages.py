"""Evaluation messages cut from the held-out part of the public-domain corpus.

Neither the tokenizer nor the context model saw these blocks in training
(:func:`tokencom_sdr.data.corpus.load_corpus_split`).
"""

from __future__ import annotations

import re
from typing import List, Optional

import numpy as np

from ..tokens.text_bpe import TextTokenizer

__all__ = ["split_messages", "heldout_messages", "modern_messages", "source_messages",
           "CORPUS_HELDOUT"]

#: Name of the 17th-century corpus's held-out split among the text sources.
CORPUS_HELDOUT = "corpus-heldout"

_PIECE = re.compile(r"\S+\s*|\s+")
# A message may end after a line break or a sentence/clause mark.
_GOOD_END = re.compile(r"(\n|[.;:!?]\s*)$")


def split_messages(text: str, tokenizer: TextTokenizer, min_tokens: int = 60,
                   max_tokens: int = 128) -> List[str]:
    """Cut ``text`` into consecutive messages of ``min_tokens..max_tokens`` tokens.

    Whole words only; a message ends at the first line break or sentence
    mark after it reaches ``min_tokens`` tokens, or before it would pass
    ``max_tokens``. Leading whitespace is dropped, so a message never starts
    with a blank line. A short remainder is discarded.

    Returns
    -------
    list of str
        Each encodes to between ``min_tokens`` and ``max_tokens`` tokens.
    """
    if not 0 < min_tokens <= max_tokens:
        raise ValueError("need 0 < min_tokens <= max_tokens")
    messages: List[str] = []
    current = ""
    counter = tokenizer.prefix_counter()  # tokens of current (+ a piece)
    for piece in _PIECE.findall(text):
        if not current and not piece.strip():
            continue
        count = counter.count_with(piece)
        if count > max_tokens:
            if counter.count_with() >= min_tokens:
                messages.append(current)
            current = piece if piece.strip() else ""
            counter.clear()
            counter.append(current)
            continue
        current += piece
        counter.append(piece)
        if count >= min_tokens and _GOOD_END.search(current):
            messages.append(current)
            current = ""
            counter.clear()
    return messages


def heldout_messages(count: Optional[int], tokenizer: Optional[TextTokenizer] = None,
                     min_tokens: int = 60, max_tokens: int = 128, seed: int = 0) -> List[str]:
    """``count`` held-out messages in a fixed pseudo-random order.

    The order mixes the sources (Bible, Shakespeare, Milton); the same
    arguments always give the same messages.

    Parameters
    ----------
    count : int or None
        Number of messages; None for all of them.
    tokenizer : TextTokenizer, optional
        Defaults to the committed tokenizer.
    min_tokens, max_tokens : int
        Message length range in tokens.
    seed : int
        Order of the messages.

    Raises
    ------
    ValueError
        Fewer held-out messages exist than ``count``.
    """
    from .corpus import load_corpus_split

    tokenizer = tokenizer or TextTokenizer.default()
    messages: List[str] = []
    for block in load_corpus_split().heldout_text:
        messages.extend(split_messages(block, tokenizer, min_tokens, max_tokens))
    order = np.random.default_rng(seed).permutation(len(messages))
    messages = [messages[i] for i in order]
    if count is None:
        return messages
    if count > len(messages):
        raise ValueError(f"asked for {count} held-out messages, the corpus has {len(messages)}")
    return messages[:count]


def modern_messages(text: str, count: Optional[int], tokenizer: TextTokenizer,
                    seed: int = 0, min_tokens: int = 60, max_tokens: int = 128) -> List[str]:
    """``count`` messages of ``min_tokens..max_tokens`` tokens cut from ``text``, in a
    fixed random order (all of them when ``count`` is None or larger than what there is)."""
    messages = split_messages(text, tokenizer, min_tokens, max_tokens)
    order = np.random.default_rng(seed).permutation(len(messages))
    messages = [messages[i] for i in order]
    return messages if count is None else messages[:count]


def source_messages(source: str, count: Optional[int], tokenizer: Optional[TextTokenizer] = None,
                    min_tokens: int = 60, max_tokens: int = 128, seed: int = 0,
                    data_dir=None) -> List[str]:
    """Evaluation messages from one text source.

    Parameters
    ----------
    source : str
        :data:`CORPUS_HELDOUT` (the 17th-century corpus's held-out split,
        always available), or a modern-English source of ``tokencom data
        fetch`` (its held-out side; ``debian-reference`` is held out
        completely). A modern source needs the data set fetched.
    count : int or None
        Messages wanted; None for all.
    """
    tokenizer = tokenizer or TextTokenizer.default()
    if source == CORPUS_HELDOUT:
        return heldout_messages(count, tokenizer, min_tokens, max_tokens, seed)
    from .training_text import modern_heldout_texts

    texts = modern_heldout_texts(data_dir)
    if source not in texts:
        raise ValueError(f"unknown text source {source!r}; known: "
                         f"{', '.join([CORPUS_HELDOUT, *sorted(texts)])}")
    return modern_messages(texts[source], count, tokenizer, seed, min_tokens, max_tokens)
