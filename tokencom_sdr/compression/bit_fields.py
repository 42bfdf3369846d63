"""Bit-level fields of the compressed message formats.

A compressed message is a bit string: fixed-width unsigned fields (token
count, hash, token ids) written MSB first, then a range-coded tail, zero
padded to whole bytes. :class:`BitReader` reads it back and refuses to read
past the end.
"""

from __future__ import annotations

from typing import List

import numpy as np

from ..tokens.soft import bits_to_ids, ids_to_bits
from .message_hash import message_hash

__all__ = ["CompressedMessageError", "uint_bits", "BitReader", "bits_to_bytes", "bytes_to_bits",
           "COUNT_BITS", "concat_bits",
           "message_header", "read_message_header", "DEFAULT_MAX_TOKENS"]

#: Width of the token-count field: a compressed message holds at most 65,535 tokens.
COUNT_BITS = 16

#: Most tokens a receiver decodes from one compressed message by default:
#: each costs a forward pass, so a corrupt count must not keep it busy for
#: minutes (65,535 passes are about half an hour on one core).
DEFAULT_MAX_TOKENS = 4096


class CompressedMessageError(ValueError):
    """A compressed message is malformed (too short, or its fields disagree)."""


def uint_bits(values, width: int) -> np.ndarray:
    """Unsigned integers as ``width``-bit fields, MSB first.

    Parameters
    ----------
    values : int or np.ndarray of shape ``(m,)``, each in ``[0, 2**width)``
    width : int

    Returns
    -------
    np.ndarray, shape ``(m * width,)``, dtype ``uint8``
    """
    values = np.atleast_1d(np.asarray(values, dtype=np.int64))
    if width < 0 or (values.size and (values.min() < 0 or values.max() >= (1 << width))):
        raise ValueError(f"values do not fit {width}-bit fields")
    if width == 0:
        return np.zeros(0, dtype=np.uint8)
    return ids_to_bits(values, width).reshape(-1)


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """``(m,)`` uint8 bits, MSB first, zero padded to whole bytes."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def bytes_to_bits(data: bytes) -> np.ndarray:
    """``(8 * len(data),)`` uint8 bits, MSB first."""
    return np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))


class BitReader:
    """Reads fields from a bit string, front to back.

    Parameters
    ----------
    bits : np.ndarray, shape ``(m,)``, dtype ``uint8``
    """

    def __init__(self, bits: np.ndarray):
        self.bits = np.asarray(bits, dtype=np.uint8)
        self.offset = 0

    def uints(self, count: int, width: int, what: str) -> np.ndarray:
        """``count`` fields of ``width`` bits, ``(count,)`` int64."""
        end = self.offset + count * width
        if end > self.bits.size:
            raise CompressedMessageError(
                f"message too short for its {what}: needs {end} bits, has {self.bits.size}")
        chunk = self.bits[self.offset:end]
        self.offset = end
        if width == 0:
            return np.zeros(count, dtype=np.int64)
        return bits_to_ids(chunk.reshape(count, width))

    def uint(self, width: int, what: str) -> int:
        return int(self.uints(1, width, what)[0])

    def rest(self) -> np.ndarray:
        """Every bit not read yet."""
        out = self.bits[self.offset:]
        self.offset = self.bits.size
        return out


def concat_bits(parts: List[np.ndarray]) -> np.ndarray:
    """Bit arrays joined, ``(sum of lengths,)`` uint8."""
    return np.concatenate([np.asarray(p, dtype=np.uint8) for p in parts]) if parts else \
        np.zeros(0, dtype=np.uint8)


def message_header(ids: np.ndarray, hash_bits: int) -> np.ndarray:
    """The header every compressed message starts with: the token count
    (:data:`COUNT_BITS`) and the message hash (``hash_bits``).

    Parameters
    ----------
    ids : np.ndarray, shape ``(n,)``, integer

    Returns
    -------
    np.ndarray, shape ``(COUNT_BITS + hash_bits,)``, dtype ``uint8``
    """
    n = np.asarray(ids).size
    if n >= 1 << COUNT_BITS:
        raise ValueError(f"a message of {n} tokens exceeds the {(1 << COUNT_BITS) - 1} a "
                         f"compressed message may hold; split it")
    return concat_bits([uint_bits(n, COUNT_BITS),
                        uint_bits(message_hash(ids, hash_bits), hash_bits)])


def read_message_header(reader: BitReader, hash_bits: int, max_tokens: int = DEFAULT_MAX_TOKENS):
    """``(n, hash)`` from :func:`message_header`'s bits.

    Raises
    ------
    CompressedMessageError
        Too short, or the count exceeds ``max_tokens``.
    """
    n = reader.uint(COUNT_BITS, "token count")
    if n > max_tokens:
        raise CompressedMessageError(f"message claims {n} tokens, more than the {max_tokens} "
                                     f"this receiver decodes (max_tokens)")
    return n, reader.uint(hash_bits, "hash")
