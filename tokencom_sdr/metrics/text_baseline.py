"""The conventional text baseline: UTF-8 compressed with zlib, against the BPE bits.

A text message's tokens take ``tokens * bits_per_token`` bits on the link; a
conventional sender would send the UTF-8 bytes through a general-purpose
compressor instead. zlib (DEFLATE, level 9) is that compressor here: it is
in every Python, and on messages of a few hundred bytes its fixed cost
(2-byte header, 4-byte Adler-32, block headers) matters, as it would on a
real link.
"""

from __future__ import annotations

import zlib
from typing import Dict, Sequence

__all__ = ["zlib_bytes", "text_baseline_sizes", "mean_text_baseline_sizes"]


def zlib_bytes(text: str, level: int = 9) -> int:
    """Size of ``zlib.compress(text.encode("utf-8"), level)`` in bytes."""
    return len(zlib.compress(text.encode("utf-8"), level))


def text_baseline_sizes(text: str, tokens: int, bits_per_token: int) -> Dict[str, float]:
    """Report fields comparing a message's token bits with UTF-8 and zlib.

    Parameters
    ----------
    text : str
        The message.
    tokens : int
        Its number of BPE tokens.
    bits_per_token : int
        Bits each token id takes on the link.

    Returns
    -------
    dict
        ``utf8_bytes``, ``zlib_bytes`` (level 9), ``bpe_bytes`` (token bits
        / 8) and ``bpe_over_zlib`` (how many times the zlib size the tokens
        take; below 1 means the tokens are smaller).
    """
    utf8 = len(text.encode("utf-8"))
    compressed = zlib_bytes(text)
    bpe = tokens * bits_per_token / 8.0
    return {"utf8_bytes": utf8, "zlib_bytes": compressed, "bpe_bytes": bpe,
            "bpe_over_zlib": bpe / compressed if compressed else float("nan")}


def mean_text_baseline_sizes(texts: Sequence[str], token_counts: Sequence[int],
                             bits_per_token: int) -> Dict[str, float]:
    """Per-message means of :func:`text_baseline_sizes` over a set of messages.

    Returns
    -------
    dict
        ``utf8_bytes_per_message``, ``zlib_bytes_per_message``,
        ``bpe_bytes_per_message`` and ``bpe_over_zlib`` (ratio of the two
        totals).
    """
    if len(texts) != len(token_counts):
        raise ValueError("one token count per text")
    sizes = [text_baseline_sizes(t, n, bits_per_token) for t, n in zip(texts, token_counts)]
    count = max(len(sizes), 1)
    utf8 = sum(s["utf8_bytes"] for s in sizes)
    compressed = sum(s["zlib_bytes"] for s in sizes)
    bpe = sum(s["bpe_bytes"] for s in sizes)
    return {"utf8_bytes_per_message": utf8 / count, "zlib_bytes_per_message": compressed / count,
            "bpe_bytes_per_message": bpe / count,
            "bpe_over_zlib": bpe / compressed if compressed else float("nan")}
