"""Entropy coding of a text message with the context model's prior.

Every token is range coded (:mod:`.range_coding`, ``constriction``) with
the receiver's model predicting it from the tokens *left* of it (the tokens
right of it masked): a causal factorisation of the masked model, so a message
costs its cross-entropy under that factorisation plus the coder's last bit or
two. The receiver decodes left to right, one forward pass per token, with the
same deterministic predictions (:mod:`.context_prior`).

Wire format (bits, MSB first, zero padded to whole bytes)::

    n       16 bits   tokens in the message
    hash    16 bits   (hash_bits) message_hash of the n ids
    code    range coded, last

Loss behaviour: the code is one arithmetic code word. A range decoder that
misses a piece of it decodes the tokens before the gap and garbage after it,
so the message is delivered only when every packet arrived
(:func:`join_packets` refuses otherwise, naming the missing packets) and its
hash matches (:func:`decode_entropy` refuses otherwise). One lost packet
loses the whole message; with fixed 12-bit tokens it loses only that
packet's tokens, which the context model can fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from .bit_fields import (DEFAULT_MAX_TOKENS, BitReader, CompressedMessageError, bits_to_bytes,
                         bytes_to_bits, concat_bits, message_header, read_message_header)
from .context_prior import ContextPrior
from .message_hash import DEFAULT_HASH_BITS, MessageHashError, message_hash
from .range_coding import RangeDecoder, encode_trimmed

__all__ = ["EntropyCodedMessage", "encode_entropy", "decode_entropy", "causal_probabilities",
           "split_into_packets", "join_packets", "IncompleteMessageError"]


class IncompleteMessageError(ValueError):
    """An entropy-coded message lacks packets: it cannot be decoded at all."""


def causal_probabilities(ids: np.ndarray, prior: ContextPrior) -> np.ndarray:
    """The coding distribution of every token given the tokens left of it.

    Parameters
    ----------
    ids : np.ndarray, shape ``(n,)``, integer
    prior : ContextPrior

    Returns
    -------
    np.ndarray, shape ``(n, vocab_size)``, dtype ``float64``
    """
    ids = np.asarray(ids, dtype=np.int64)
    out = np.empty((ids.size, prior.vocab_size), dtype=np.float64)
    with prior.deterministic():
        for k in range(ids.size):
            out[k] = prior.distribution(ids, np.arange(ids.size) < k, k)
    return out


@dataclass(frozen=True)
class EntropyCodedMessage:
    """A range-coded message.

    Attributes
    ----------
    data : bytes
        What goes on the link.
    num_tokens : int
    code_bits : int
        Bits of the range code (before the final byte padding).
    token_bits : np.ndarray, shape ``(n,)``, dtype ``float64``
        ``-log2 P(token | tokens left of it)`` of each token: its ideal code
        length under the model.
    """

    data: bytes
    num_tokens: int
    code_bits: int
    token_bits: np.ndarray

    @property
    def cross_entropy_bits(self) -> float:
        """The message's ideal code length, the sum of :attr:`token_bits`:
        what the range code approaches."""
        return float(self.token_bits.sum())

    @property
    def bits(self) -> int:
        """Bits on the link: whole bytes."""
        return 8 * len(self.data)


def encode_entropy(ids: np.ndarray, prior: ContextPrior, *,
                   hash_bits: int = DEFAULT_HASH_BITS) -> EntropyCodedMessage:
    """Range-code a message with the model's left-to-right prior.

    Parameters
    ----------
    ids : np.ndarray, shape ``(n,)``, integer in ``[0, vocab_size)``
    prior : ContextPrior
    hash_bits : int
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    n = ids.size
    if n and (ids.min() < 0 or ids.max() >= prior.vocab_size):
        raise ValueError(f"token ids must lie in 0..{prior.vocab_size - 1}")
    probabilities = causal_probabilities(ids, prior)
    code = encode_trimmed(ids, probabilities)
    token_bits = -np.log2(probabilities[np.arange(n), ids])
    bits = concat_bits([message_header(ids, hash_bits),
                        code])
    return EntropyCodedMessage(bits_to_bytes(bits), n, int(code.size), token_bits)


def decode_entropy(data: bytes, prior: ContextPrior, *, hash_bits: int = DEFAULT_HASH_BITS,
                   verify: bool = True, max_tokens: int = DEFAULT_MAX_TOKENS) -> np.ndarray:
    """Decode :func:`encode_entropy`'s bytes.

    Parameters
    ----------
    data : bytes
    prior : ContextPrior
        The receiver's model.
    hash_bits : int
        As the sender used.
    verify : bool
        Check the hash. Only a loss study turns it off, to see what a
        damaged code decodes to (ids after a point where the code became
        invalid are -1); a receiver never delivers unverified ids.
    max_tokens : int
        Longest message this receiver decodes (a forward pass per token).

    Returns
    -------
    np.ndarray, shape ``(n,)``, dtype ``int64``

    Raises
    ------
    CompressedMessageError
        ``data`` is too short for its header.
    MessageHashError
        The decoded ids fail the hash (a piece of the code is missing or
        corrupt, or the receiver's model differs from the sender's): nothing
        is delivered.
    """
    reader = BitReader(bytes_to_bits(data))
    n, expected = read_message_header(reader, hash_bits, max_tokens)
    decoder = RangeDecoder(reader.rest())
    ids = np.zeros(n, dtype=np.int64)
    with prior.deterministic():
        for k in range(n):
            try:
                ids[k] = decoder.decode(prior.distribution(ids, np.arange(n) < k, k))
            except CompressedMessageError:
                if verify:
                    raise
                ids[k:] = -1  # the loss study's "nothing decodable from here on"
                break
    if verify and message_hash(ids, hash_bits) != expected:
        raise MessageHashError(f"the entropy-decoded message fails its {hash_bits}-bit hash: "
                               f"its code is incomplete or corrupt, or the models differ")
    return ids


def split_into_packets(data: bytes, packet_bytes: int) -> List[bytes]:
    """Cut a coded message into packets of ``packet_bytes`` (the last may be shorter)."""
    if packet_bytes < 1:
        raise ValueError(f"packet_bytes must be >= 1, got {packet_bytes}")
    return [bytes(data[i:i + packet_bytes]) for i in range(0, len(data), packet_bytes)] or [b""]


def join_packets(packets: Sequence[Optional[bytes]]) -> bytes:
    """The coded message from its packets in order, None for a lost one.

    Raises
    ------
    IncompleteMessageError
        Any packet is missing: an arithmetic code cannot be decoded past a
        gap, so nothing is delivered.
    """
    missing = [i for i, p in enumerate(packets) if p is None]
    if missing:
        raise IncompleteMessageError(
            f"entropy-coded message lost packet(s) {missing} of {len(packets)}: it cannot be "
            f"decoded without every packet (fixed-width tokens would lose only those tokens)")
    return b"".join(packets)
