"""Predictable-token skipping: leave out the tokens the receiver will predict.

Transmitter
    Decides token by token, in a fixed order (``forward``: left to right;
    ``backward``: right to left), whether to skip it: token ``k`` is skipped
    when the model, shown every token not decided yet and the *sent* tokens
    among those decided before ``k`` (skipped ones masked), predicts it
    exactly (argmax) with probability at least ``tau``.
Receiver
    Fills the skipped tokens in the reverse order, each by the model's
    argmax given the same view: every token decided after it (received or
    already filled) and the sent tokens decided before it. That is exactly the
    transmitter's input at its decision, so a skip decided at the transmitter
    is filled right at the receiver, however many neighbours are skipped too
    (deciding in one order and filling in the reverse one removes the
    circular dependence). Each prediction is deterministic
    (:mod:`.context_prior`). The sender may try both directions and send the
    shorter message; one header bit names the direction.
Safety
    A per-message hash (:mod:`.message_hash`, 16 bits by default) of the
    sender's ids is checked after filling. When it fails (a receiver whose
    model or arithmetic differs from the sender's), the receiver asks for the
    skipped positions and the sender retransmits their ids, 12 bits each;
    those bits are counted as the fallback's cost.

Wire format (bits, MSB first, zero padded to whole bytes)::

    n          16 bits   tokens in the message
    hash       16 bits   (hash_bits) message_hash of the n ids
    direction  1 bit     0 forward, 1 backward
    skipped    ceil(log2(n + 1)) bits   how many tokens are skipped (s)
    ids        12 bits x (n - s)        the sent tokens, in order
    skip map   range coded, last        which positions are skipped

The skip map is coded with the enumerative model ``P(skip at k) = (skips
left) / (positions left)``, which costs ``log2 C(n, s)`` bits (at most n
H(s/n)) plus the coder's last bit or two; a plain bitmap would cost n bits.
The receiver decodes the map first (it needs to know which neighbours it
will see) and then fills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .bit_fields import (DEFAULT_MAX_TOKENS, BitReader, CompressedMessageError, bits_to_bytes,
                         bytes_to_bits, concat_bits, message_header, read_message_header,
                         uint_bits)
from .context_prior import ContextPrior
from .message_hash import DEFAULT_HASH_BITS, MessageHashError, message_hash
from .range_coding import RangeDecoder, encode_trimmed

__all__ = ["SkipMessage", "SkipDecodeResult", "choose_skips", "encode_skipping",
           "decode_skipping", "skip_map_probabilities", "fill_skipped", "DIRECTIONS"]

#: Decision orders, as the header's direction bit numbers them.
DIRECTIONS = ("forward", "backward")


def _decision_order(n: int, direction: str) -> np.ndarray:
    """Positions in the order the sender decides them, ``(n,)`` int64."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    order = np.arange(n, dtype=np.int64)
    return order if direction == "forward" else order[::-1]


def _count_width(n: int) -> int:
    return max(1, math.ceil(math.log2(n + 1)))


def _skip_row(skips_left: int, positions_left: int) -> np.ndarray:
    """``(P(sent), P(skipped))`` of the next flag; a certain flag keeps a
    sliver on the other symbol (the coder needs it), which costs next to nothing."""
    p_skip = min(max(skips_left / positions_left, 1e-9), 1 - 1e-9)
    return np.array([1.0 - p_skip, p_skip])


def skip_map_probabilities(skipped: np.ndarray) -> np.ndarray:
    """Enumerative coding distribution of a skip map.

    Parameters
    ----------
    skipped : np.ndarray, shape ``(n,)``, bool

    Returns
    -------
    np.ndarray, shape ``(n, 2)``, dtype ``float64``
        Row ``k``: ``(P(sent), P(skipped))`` given the skips left among the
        positions left.
    """
    skipped = np.asarray(skipped, dtype=bool)
    n = skipped.size
    before = np.concatenate([[0], np.cumsum(skipped)[:-1]]).astype(int) if n else []
    return np.array([_skip_row(int(skipped.sum()) - int(before[k]), n - k) for k in range(n)]
                    ).reshape(n, 2)


def _decode_skip_map(bits: np.ndarray, n: int, skips: int) -> np.ndarray:
    """Inverse of the skip map coding: ``(n,)`` bool, decoded flag by flag."""
    decoder = RangeDecoder(bits)
    skipped = np.zeros(n, dtype=bool)
    taken = 0
    for k in range(n):
        skipped[k] = decoder.decode(_skip_row(skips - taken, n - k)) == 1
        taken += int(skipped[k])
    if taken != skips:
        raise CompressedMessageError(f"skip map holds {taken} skips, the header says {skips}")
    return skipped


def choose_skips(ids: np.ndarray, prior: ContextPrior, tau: float,
                 direction: str = "forward") -> np.ndarray:
    """The transmitter's skip decisions.

    Parameters
    ----------
    ids : np.ndarray, shape ``(n,)``, integer
        The message's token ids.
    prior : ContextPrior
    tau : float
        Confidence threshold in ``[0, 1]``: a token is skipped when the
        model's argmax is the token and its probability is at least ``tau``
        (``tau = 0``: whenever the argmax is right).
    direction : str
        One of :data:`DIRECTIONS`: the decision order.

    Returns
    -------
    np.ndarray, shape ``(n,)``, dtype ``bool``
    """
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"tau must lie in [0, 1], got {tau}")
    ids = np.asarray(ids, dtype=np.int64)
    skipped = np.zeros(ids.size, dtype=bool)
    with prior.deterministic():
        for k in _decision_order(ids.size, direction):
            # View at decision k: every token not decided yet, the sent
            # tokens among those decided (``skipped`` holds decisions so far).
            probs = prior.distribution(ids, ~skipped, int(k))
            guess = int(np.argmax(probs))
            skipped[k] = guess == ids[k] and probs[guess] >= tau
    return skipped


def fill_skipped(sent_view: np.ndarray, skipped: np.ndarray, prior: ContextPrior,
                 direction: str = "forward") -> np.ndarray:
    """The receiver's fill: skipped tokens in the reverse of the decision
    order, by the model's argmax.

    Parameters
    ----------
    sent_view : np.ndarray, shape ``(n,)``, integer
        Received ids at the sent positions (anything at skipped ones).
    skipped : np.ndarray, shape ``(n,)``, bool
    prior : ContextPrior
    direction : str
        The sender's decision order (:data:`DIRECTIONS`).

    Returns
    -------
    np.ndarray, shape ``(n,)``, dtype ``int64``
        The message with every skipped token filled.
    """
    ids = np.asarray(sent_view, dtype=np.int64).copy()
    pending = np.asarray(skipped, dtype=bool).copy()
    order = _decision_order(ids.size, direction)
    with prior.deterministic():
        for k in order[pending[order]][::-1]:
            probs = prior.distribution(ids, ~pending, int(k))
            ids[k] = int(np.argmax(probs))
            pending[k] = False
    return ids


@dataclass(frozen=True)
class SkipMessage:
    """A message with its predictable tokens left out.

    Attributes
    ----------
    data : bytes
        What goes on the link (format in the module docstring).
    num_tokens : int
    skipped : np.ndarray, shape ``(n,)``, bool
        The transmitter's decisions (the receiver decodes them from ``data``).
    tau : float
    direction : str
        The decision order (:data:`DIRECTIONS`).
    bits_per_token : int
        Width of a sent id.
    hash_bits : int
    skip_map_bits : int
        Bits of the coded skip map (before the final byte padding).
    """

    data: bytes
    num_tokens: int
    skipped: np.ndarray
    tau: float
    direction: str = "forward"
    bits_per_token: int = 12
    hash_bits: int = DEFAULT_HASH_BITS
    skip_map_bits: int = 0

    @property
    def bits(self) -> int:
        """Bits on the link: whole bytes."""
        return 8 * len(self.data)

    @property
    def fallback_bits(self) -> int:
        """Bits the fallback retransmission of every skipped token costs."""
        return int(self.skipped.sum()) * self.bits_per_token


def encode_skipping(ids: np.ndarray, prior: ContextPrior, tau: float, *,
                    direction: str = "forward", bits_per_token: int = 12,
                    hash_bits: int = DEFAULT_HASH_BITS) -> SkipMessage:
    """Decide the skips and write the message.

    Parameters
    ----------
    ids : np.ndarray, shape ``(n,)``, integer in ``[0, 2**bits_per_token)``
    prior : ContextPrior
        The receiver's model, run at the transmitter.
    tau : float
        See :func:`choose_skips`.
    direction : str
        A decision order of :data:`DIRECTIONS`, or ``"best"``: both, and
        the shorter message (forward on a tie; twice the sender's work).
    bits_per_token, hash_bits : int
    """
    if direction == "best":
        messages = [encode_skipping(ids, prior, tau, direction=d, bits_per_token=bits_per_token,
                                    hash_bits=hash_bits) for d in DIRECTIONS]
        return min(messages, key=lambda m: m.bits)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    n = ids.size
    if n and (ids.min() < 0 or ids.max() >= min(prior.vocab_size, 1 << bits_per_token)):
        raise ValueError(f"token ids must lie in 0..{prior.vocab_size - 1}")
    skipped = choose_skips(ids, prior, tau, direction)
    skip_map = encode_trimmed(skipped.astype(np.int32), skip_map_probabilities(skipped))
    bits = concat_bits([message_header(ids, hash_bits),
                        uint_bits(DIRECTIONS.index(direction), 1),
                        uint_bits(int(skipped.sum()), _count_width(n)),
                        uint_bits(ids[~skipped], bits_per_token), skip_map])
    return SkipMessage(bits_to_bytes(bits), n, skipped, tau, direction, bits_per_token,
                       hash_bits, int(skip_map.size))


@dataclass(frozen=True)
class SkipDecodeResult:
    """What the receiver made of a :class:`SkipMessage`.

    Attributes
    ----------
    ids : np.ndarray, shape ``(n,)``, int64
        The message; its hash matches (else :func:`decode_skipping` raised).
    skipped : np.ndarray, shape ``(n,)``, bool
    fallback_used : bool
        The fill failed the hash and the skipped ids were retransmitted.
    fallback_bits : int
        Bits of that retransmission (0 when not used).
    fill_correct : bool
        The fill alone matched the hash.
    """

    ids: np.ndarray
    skipped: np.ndarray
    fallback_used: bool
    fallback_bits: int
    fill_correct: bool


def decode_skipping(data: bytes, prior: ContextPrior, *,
                    retransmit: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                    bits_per_token: int = 12, hash_bits: int = DEFAULT_HASH_BITS,
                    max_tokens: int = DEFAULT_MAX_TOKENS) -> SkipDecodeResult:
    """Rebuild a message from :func:`encode_skipping`'s bytes.

    Parameters
    ----------
    data : bytes
    prior : ContextPrior
        The receiver's model.
    retransmit : callable, optional
        The fallback: given the skipped positions (``(s,)`` int64, ascending)
        returns the sender's ids there (``(s,)`` integer). Called only when the
        filled message fails the hash.
    bits_per_token, hash_bits : int
        As the sender used.
    max_tokens : int
        Longest message this receiver fills (a forward pass per skipped token).

    Raises
    ------
    CompressedMessageError
        ``data`` is malformed.
    MessageHashError
        The filled message fails the hash and there is no ``retransmit``, or
        even the retransmitted message fails it (the data was corrupted).
    """
    reader = BitReader(bytes_to_bits(data))
    n, expected = read_message_header(reader, hash_bits, max_tokens)
    direction = DIRECTIONS[reader.uint(1, "direction")]
    skips = reader.uint(_count_width(n), "skip count")
    if skips > n:
        raise CompressedMessageError(f"{skips} skipped tokens in a message of {n}")
    sent = reader.uints(n - skips, bits_per_token, "token ids")
    skipped = _decode_skip_map(reader.rest(), n, skips)
    view = np.zeros(n, dtype=np.int64)
    view[~skipped] = sent
    ids = fill_skipped(view, skipped, prior, direction)
    if message_hash(ids, hash_bits) == expected:
        return SkipDecodeResult(ids, skipped, False, 0, True)
    positions = np.flatnonzero(skipped)
    if retransmit is None:
        raise MessageHashError(f"the filled message fails its {hash_bits}-bit hash and no "
                               f"retransmission of its {positions.size} skipped tokens is possible")
    resent = np.asarray(retransmit(positions), dtype=np.int64).reshape(-1)
    if resent.shape != positions.shape:
        raise CompressedMessageError(f"retransmission brought {resent.size} ids for "
                                     f"{positions.size} skipped positions")
    ids = view.copy()
    ids[positions] = resent
    if message_hash(ids, hash_bits) != expected:
        raise MessageHashError("the message fails its hash even with the skipped tokens "
                               "retransmitted: the data is corrupt")
    return SkipDecodeResult(ids, skipped, True, positions.size * bits_per_token, False)
