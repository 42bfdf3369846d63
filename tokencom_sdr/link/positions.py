"""Which token positions of a frame one packet carries.

A packet header names the frame positions of its tokens in one of two forms:

* :class:`ArithmeticPositions` (wire mode 0): ``start, start + stride, ...``,
  ``count`` of them. Sequential packets (stride 1) and interleaved packets
  (stride = number of packets) are both of this form, so their headers stay a
  fixed 10 bytes whatever the number of tokens.
* :class:`ExplicitPositions` (wire mode 1): an arbitrary list of distinct
  positions, for content-aware aggregation (semantic packet aggregation) where
  tokens are grouped by meaning rather than by index.
* :class:`MaskedPositions` (wire mode 2): the members of an arithmetic
  progression that a bitmap selects, for a token budget
  (:mod:`tokencom_sdr.link.budget`), where the sender leaves some positions
  out: one bit per position of the progression instead of 32 per sent token.

These classes check only what a position block can check on its own (field
ranges, at least one position, no duplicates). Whether the positions fit in the
frame is checked by the packet, which knows the frame shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from .errors import HeaderFieldError

#: Largest position (and start, stride) a header can carry: fields are uint32.
MAX_POSITION = 0xFFFF_FFFF
#: Most tokens one packet can carry: the count field is uint16.
MAX_TOKENS_PER_PACKET = 0xFFFF

MODE_ARITHMETIC = 0
MODE_EXPLICIT = 1
MODE_MASKED = 2


def _check_count(count: int) -> None:
    if not 1 <= count <= MAX_TOKENS_PER_PACKET:
        raise HeaderFieldError(
            "positions", f"a packet carries 1..{MAX_TOKENS_PER_PACKET} tokens, got {count}")


def _check_progression(start: int, stride: int) -> None:
    if not 0 <= start <= MAX_POSITION:
        raise HeaderFieldError("positions", f"start {start} does not fit in uint32")
    # Stride 0 would repeat one position; stride is never meaningless in
    # the wire format, so it is required to be a real step even for one token.
    if not 1 <= stride <= MAX_POSITION:
        raise HeaderFieldError("positions", f"stride must be 1..{MAX_POSITION}, got {stride}")


@dataclass(frozen=True)
class ArithmeticPositions:
    """Positions ``start + stride * arange(count)`` (wire mode 0).

    Parameters
    ----------
    start : int
        First position, ``0 <= start <= 2**32 - 1``.
    stride : int
        Step between consecutive positions, ``1 <= stride <= 2**32 - 1``.
        It is kept even when ``count == 1`` so that a parsed block re-encodes
        to the same bytes.
    count : int
        Number of positions, ``1 <= count <= 65535``.
    """

    start: int
    stride: int
    count: int

    mode = MODE_ARITHMETIC

    def __post_init__(self):
        for name in ("start", "stride", "count"):
            object.__setattr__(self, name, int(getattr(self, name)))
        _check_progression(self.start, self.stride)
        _check_count(self.count)

    @property
    def last(self) -> int:
        """Largest position in the block."""
        return self.start + self.stride * (self.count - 1)

    def to_array(self) -> np.ndarray:
        """Positions as an array.

        Returns
        -------
        np.ndarray, shape ``(count,)``, dtype ``int64``
        """
        return self.start + self.stride * np.arange(self.count, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class ExplicitPositions:
    """An explicit list of distinct positions, in packet order (wire mode 1).

    Parameters
    ----------
    indices : array_like of int, shape ``(count,)``
        Frame positions of the packet's tokens, in the order the tokens appear
        in the payload. ``1 <= count <= 65535``, each ``0 <= p <= 2**32 - 1``,
        no repeats. Stored as a read-only ``int64`` copy.
    """

    indices: np.ndarray

    mode = MODE_EXPLICIT

    def __post_init__(self):
        raw = np.asarray(self.indices)
        if raw.ndim != 1:
            raise HeaderFieldError("positions", f"expected a 1-D list, got shape {raw.shape}")
        if raw.size and not np.issubdtype(raw.dtype, np.integer):
            raise HeaderFieldError("positions", f"positions must be integers, got {raw.dtype}")
        indices = raw.astype(np.int64, copy=True)
        _check_count(indices.size)
        if indices.min() < 0 or indices.max() > MAX_POSITION:
            raise HeaderFieldError("positions", "every position must fit in uint32")
        if np.unique(indices).size != indices.size:
            raise HeaderFieldError("positions", "explicit positions repeat a position")
        indices.setflags(write=False)
        object.__setattr__(self, "indices", indices)

    @property
    def count(self) -> int:
        """Number of positions."""
        return int(self.indices.size)

    @property
    def last(self) -> int:
        """Largest position in the block."""
        return int(self.indices.max())

    def to_array(self) -> np.ndarray:
        """Positions as an array.

        Returns
        -------
        np.ndarray, shape ``(count,)``, dtype ``int64`` (read-only)
        """
        return self.indices

    def __eq__(self, other) -> bool:
        if not isinstance(other, ExplicitPositions):
            return NotImplemented
        return np.array_equal(self.indices, other.indices)

    def __hash__(self) -> int:
        return hash(self.indices.tobytes())


@dataclass(frozen=True, eq=False)
class MaskedPositions:
    """The members of ``start + stride * arange(span)`` a bitmap selects (wire mode 2).

    Parameters
    ----------
    start : int
        First position of the progression, ``0 <= start <= 2**32 - 1``.
    stride : int
        Its step, ``1 <= stride <= 2**32 - 1``.
    mask : array_like of bool, shape ``(span,)``
        Which members are carried, in payload order; ``1 <= span <= 65535``,
        at least one set. On the wire: ``span`` (uint16), then the bits
        MSB-first, zero-padded to whole bytes.
    """

    start: int
    stride: int
    mask: np.ndarray

    mode = MODE_MASKED

    def __post_init__(self):
        for name in ("start", "stride"):
            object.__setattr__(self, name, int(getattr(self, name)))
        _check_progression(self.start, self.stride)
        raw = np.asarray(self.mask)
        if raw.ndim != 1 or raw.dtype != bool:
            raise HeaderFieldError("positions", f"the mask must be a 1-D bool array, got "
                                                f"{raw.dtype} of shape {raw.shape}")
        if not 1 <= raw.size <= MAX_TOKENS_PER_PACKET:
            raise HeaderFieldError(
                "positions", f"a mask spans 1..{MAX_TOKENS_PER_PACKET} positions, got {raw.size}")
        _check_count(int(raw.sum()))
        mask = raw.copy()
        mask.setflags(write=False)
        object.__setattr__(self, "mask", mask)

    @property
    def span(self) -> int:
        """Members of the progression the mask covers."""
        return int(self.mask.size)

    @property
    def count(self) -> int:
        """Number of positions carried."""
        return int(self.mask.sum())

    @property
    def last(self) -> int:
        """Largest position in the block."""
        return self.start + self.stride * int(np.flatnonzero(self.mask)[-1])

    def to_array(self) -> np.ndarray:
        """Positions as an array.

        Returns
        -------
        np.ndarray, shape ``(count,)``, dtype ``int64``
        """
        return self.start + self.stride * np.flatnonzero(self.mask).astype(np.int64)

    def __eq__(self, other) -> bool:
        if not isinstance(other, MaskedPositions):
            return NotImplemented
        return (self.start == other.start and self.stride == other.stride
                and np.array_equal(self.mask, other.mask))

    def __hash__(self) -> int:
        return hash((self.start, self.stride, np.packbits(self.mask).tobytes(), self.span))


PositionBlock = Union[ArithmeticPositions, ExplicitPositions, MaskedPositions]


def describe_positions(positions) -> PositionBlock:
    """The most compact header description of a list of positions.

    An arithmetic progression with a positive step (or a single position,
    described with stride 1) becomes :class:`ArithmeticPositions`; anything
    else becomes :class:`ExplicitPositions`.

    Parameters
    ----------
    positions : array_like of int, shape ``(k,)``
        Frame positions in packet order, ``1 <= k <= 65535``, distinct.

    Returns
    -------
    ArithmeticPositions or ExplicitPositions
        A block whose ``to_array()`` equals ``positions``.
    """
    positions = np.asarray(positions, dtype=np.int64).reshape(-1)
    _check_count(positions.size)
    if positions.size == 1:
        return ArithmeticPositions(int(positions[0]), 1, 1)
    steps = np.diff(positions)
    if steps[0] > 0 and np.all(steps == steps[0]):
        return ArithmeticPositions(int(positions[0]), int(steps[0]), positions.size)
    return ExplicitPositions(positions)
