"""The token frame: the unit that crosses the link, whatever the modality."""

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Optional, Tuple

import numpy as np


class Modality(IntEnum):
    """Source modality; the integer value is what the packet header carries."""

    TEXT = 0
    IMAGE = 1


@dataclass
class TokenFrame:
    """A message as tokens.

    Attributes
    ----------
    ids : np.ndarray, shape ``(n,)``, dtype ``int64``
        Token ids in raster order. Values of erased positions are meaningless
        (they are set to 0).
    modality : Modality
        What the tokens represent.
    shape : tuple of int
        Logical layout: ``(n,)`` for text, ``(rows, cols)`` for an image grid.
        ``prod(shape) == n``.
    bits_per_token : int
        Width of one id on the air; every id is ``< 2**bits_per_token``.
    erased : np.ndarray, shape ``(n,)``, dtype ``bool``
        True where the receiver has no trustworthy value for the token.
    tokenizer : int
        Wire id of the tokenizer that made the ids (:mod:`.registry`), which
        the packet headers carry so that a receiver can detokenize without
        being told.
    """

    ids: np.ndarray
    modality: Modality
    shape: Tuple[int, ...]
    bits_per_token: int
    erased: Optional[np.ndarray] = field(default=None)
    tokenizer: int = 0

    def __post_init__(self):
        self.ids = np.asarray(self.ids, dtype=np.int64).reshape(-1)
        self.modality = Modality(self.modality)
        self.shape = tuple(int(s) for s in self.shape)
        if self.erased is None:
            self.erased = np.zeros(self.ids.shape, dtype=bool)
        self.erased = np.asarray(self.erased, dtype=bool).reshape(-1)
        self.tokenizer = int(self.tokenizer)
        if not 0 <= self.tokenizer <= 255:
            raise ValueError(f"tokenizer id must be 0..255, got {self.tokenizer}")
        if not 1 <= self.bits_per_token <= 32:
            raise ValueError(f"bits_per_token must be 1..32, got {self.bits_per_token}")
        if int(np.prod(self.shape, dtype=np.int64)) != self.ids.size:
            raise ValueError(f"shape {self.shape} does not hold {self.ids.size} tokens")
        if self.erased.shape != self.ids.shape:
            raise ValueError("erased mask must have one entry per token")
        if self.ids.size and (self.ids.min() < 0 or self.ids.max() >= (1 << self.bits_per_token)):
            raise ValueError(f"token ids must lie in [0, 2**{self.bits_per_token})")

    def __len__(self) -> int:
        return int(self.ids.size)

    @property
    def num_erased(self) -> int:
        return int(self.erased.sum())
