"""Range coding of categorical symbols with ``constriction``, trimmed to the bit.

``constriction``'s range coder (32-bit words, 64-bit state) ends its output
with up to two words more than the information needs. Our messages are a
few dozen bytes, so that tail matters: :func:`encode_trimmed` keeps the
shortest prefix of the coder's bits which, read with zeros after it, still
decodes to the same symbols (checked by decoding, never assumed). The
receiver pads whatever it receives with zeros the same way
(:func:`zero_padded_words`), so a trimmed stream is always the last field of
a message.
"""

from __future__ import annotations

import math

import constriction
import numpy as np

from .bit_fields import CompressedMessageError

__all__ = ["encode_trimmed", "RangeDecoder", "zero_padded_words", "categorical_model"]

#: Zero words appended after the received bits, so the decoder never runs dry.
_PAD_WORDS = 4


def categorical_model():
    """The entropy model both ends use: a categorical with float probabilities,
    quantised by ``constriction`` (24-bit precision; no symbol gets zero)."""
    return constriction.stream.model.Categorical(perfect=False)


def zero_padded_words(bits: np.ndarray) -> np.ndarray:
    """Bits (MSB first) as big-endian 32-bit words, zero padded.

    Parameters
    ----------
    bits : np.ndarray, shape ``(m,)``, dtype ``uint8``

    Returns
    -------
    np.ndarray, shape ``(ceil(m / 32) + 4,)``, dtype ``uint32``
    """
    bits = np.asarray(bits, dtype=np.uint8)
    words = -(-bits.size // 32) + _PAD_WORDS
    padded = np.zeros(words * 32, dtype=np.uint8)
    padded[:bits.size] = bits
    return np.packbits(padded).view(">u4").astype(np.uint32)


def _decodes_to(bits: np.ndarray, symbols: np.ndarray, probabilities: np.ndarray) -> bool:
    try:
        return np.array_equal(RangeDecoder(bits).decode_all(probabilities), symbols)
    except CompressedMessageError:
        return False


def _int_bits(value: int, length: int) -> np.ndarray:
    """The ``length``-bit binary form of ``value``, MSB first, ``(length,)`` uint8."""
    if length == 0:
        return np.zeros(0, dtype=np.uint8)
    raw = np.unpackbits(np.frombuffer(value.to_bytes(-(-length // 8), "big"), dtype=np.uint8))
    return raw[raw.size - length:]


def encode_trimmed(symbols: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Range-code ``symbols`` and shorten the code to the fewest bits that decode.

    A range code is a number inside the final interval; ``constriction``
    writes one with up to two words to spare. Any shorter binary fraction in
    the same interval decodes the same, and with zeros after it the shortest
    candidates of ``L`` bits are the coder's first ``L`` bits, rounded down or
    up. They are tried for growing ``L`` from just below the information
    content, and each is checked by decoding it.

    Parameters
    ----------
    symbols : np.ndarray, shape ``(m,)``, integer
        ``symbols[i]`` in ``[0, k)``.
    probabilities : np.ndarray, shape ``(m, k)``, float
        Row ``i`` is the distribution ``symbols[i]`` is coded with (the
        receiver must compute the same rows).

    Returns
    -------
    np.ndarray, shape ``(bits,)``, dtype ``uint8``
        The code, MSB first; decoded with zeros after it.
    """
    symbols = np.asarray(symbols, dtype=np.int32)
    probabilities = np.ascontiguousarray(probabilities, dtype=np.float64)
    if symbols.size == 0:
        return np.zeros(0, dtype=np.uint8)
    encoder = constriction.stream.queue.RangeEncoder()
    encoder.encode(symbols, categorical_model(), probabilities)
    words = encoder.get_compressed()
    total = 32 * words.size
    value = int.from_bytes(words.astype(">u4").tobytes(), "big")
    info = -np.log2(probabilities[np.arange(symbols.size), symbols]).sum()
    for length in range(max(0, math.floor(info) - 2), total):
        down = value >> (total - length)
        for candidate in (down, down + 1):
            if candidate < (1 << length):
                bits = _int_bits(candidate, length)
                if _decodes_to(bits, symbols, probabilities):
                    return bits
    full = _int_bits(value, total)
    if not _decodes_to(full, symbols, probabilities):
        raise RuntimeError("internal error: the range code does not decode to its symbols")
    return full


class RangeDecoder:
    """Decodes symbols one at a time, each with a distribution the caller
    computes from the symbols decoded before it.

    Parameters
    ----------
    bits : np.ndarray, shape ``(m,)``, dtype ``uint8``
        The received code (zeros are assumed after it).
    """

    def __init__(self, bits: np.ndarray):
        self._decoder = constriction.stream.queue.RangeDecoder(zero_padded_words(bits))
        self._model = categorical_model()

    def decode(self, probabilities: np.ndarray) -> int:
        """The next symbol, coded with ``probabilities`` (``(k,)`` float)."""
        row = np.ascontiguousarray(probabilities, dtype=np.float64)[None]
        return int(self._decode(row)[0])

    def decode_all(self, probabilities: np.ndarray) -> np.ndarray:
        """``(m,)`` int64 symbols, row ``i`` of ``probabilities`` (``(m, k)``) for symbol ``i``."""
        probabilities = np.ascontiguousarray(probabilities, dtype=np.float64)
        if probabilities.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        return self._decode(probabilities).astype(np.int64)

    def _decode(self, rows: np.ndarray) -> np.ndarray:
        try:
            return self._decoder.decode(self._model, rows)
        except AssertionError:
            # constriction asserts when the bits are no valid code under
            # the model (corrupt data, or a different model).
            raise CompressedMessageError("the range code is invalid under the receiver's "
                                         "model: corrupt data or a different model") from None
