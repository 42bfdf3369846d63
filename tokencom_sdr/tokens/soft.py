"""Per-bit soft information that travels with a received token frame.

A receiver that keeps its bit reliabilities (LLRs) instead of throwing a
CRC-failed packet away hands them to the token layer as a
:class:`SoftTokenInfo`, next to the :class:`~tokencom_sdr.tokens.frame.TokenFrame`
(:class:`ReceivedFrame` bundles the two). The context model then combines
them with its prior (:mod:`tokencom_sdr.context.text_recovery`).

LLR convention (used everywhere in TokenCom-SDR's token layer)
----------------------------------------------------------------
``llrs[i, j] = log P(bit j of token i is 0 | received) - log P(... is 1 | received)``

* **positive means bit 0 is more likely**; the hard decision is
  ``bit = llr < 0``;
* ``0`` means no information (a packet that never arrived);
* bit ``j`` counts from the most significant of the token's
  ``bits_per_token`` bits (``j = 0`` is the MSB), the order in which the link
  layer packs ids on the air;
* values are ``float32``; ``+-inf`` is allowed and means certainty.

(gr-fec uses the opposite sign: positive means bit 1. A PHY built on it
must hand over ``-llr``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .frame import TokenFrame

__all__ = ["SoftTokenInfo", "ReceivedFrame", "ids_to_bits", "bits_to_ids", "LLR_CLIP"]

#: Magnitude LLRs are clipped to before arithmetic; ``exp(-50)`` is below
#: float32 resolution, so this loses nothing and keeps ``inf`` out of sums.
LLR_CLIP = 50.0


def ids_to_bits(ids: np.ndarray, bits_per_token: int) -> np.ndarray:
    """Bits of token ids, MSB first.

    Parameters
    ----------
    ids : np.ndarray, shape ``(n,)``, integer
    bits_per_token : int

    Returns
    -------
    np.ndarray, shape ``(n, bits_per_token)``, dtype ``uint8``
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    shifts = np.arange(bits_per_token - 1, -1, -1, dtype=np.int64)
    return ((ids[:, None] >> shifts[None, :]) & 1).astype(np.uint8)


def bits_to_ids(bits: np.ndarray) -> np.ndarray:
    """Inverse of :func:`ids_to_bits`: ``(n, b)`` bits (MSB first) -> ``(n,)`` int64 ids."""
    bits = np.asarray(bits, dtype=np.int64)
    if bits.ndim != 2:
        raise ValueError(f"bits must be (n, bits_per_token), got shape {bits.shape}")
    weights = 1 << np.arange(bits.shape[1] - 1, -1, -1, dtype=np.int64)
    return bits @ weights


@dataclass
class SoftTokenInfo:
    """Bit LLRs for every token of a frame (convention in the module docstring).

    Attributes
    ----------
    llrs : np.ndarray, shape ``(n_tokens, bits_per_token)``, dtype ``float32``
        Rows of zeros for tokens the channel said nothing about.
    """

    llrs: np.ndarray

    def __post_init__(self):
        llrs = np.asarray(self.llrs, dtype=np.float32)
        if llrs.ndim != 2:
            raise ValueError(f"llrs must be (n_tokens, bits_per_token), got shape {llrs.shape}")
        if np.isnan(llrs).any():
            raise ValueError("llrs contain NaN; use 0 for 'no information'")
        self.llrs = llrs

    @property
    def bits_per_token(self) -> int:
        return int(self.llrs.shape[1])

    def __len__(self) -> int:
        return int(self.llrs.shape[0])

    def clipped(self) -> np.ndarray:
        """LLRs limited to ``+-LLR_CLIP`` (same shape and dtype)."""
        return np.clip(self.llrs, -LLR_CLIP, LLR_CLIP)

    def hard_ids(self) -> np.ndarray:
        """Bitwise hard decision, ``(n,)`` int64 (a zero LLR decides 0)."""
        return bits_to_ids((self.llrs < 0).astype(np.uint8))

    def hard_error_log_prob(self) -> np.ndarray:
        """``log P(hard decision is wrong)`` per token, from the channel alone.

        With independent bits and a uniform prior over all ``2**b`` ids, the
        hard decision is right with probability ``prod_j sigmoid(|L_j|)``.

        Returns
        -------
        np.ndarray, shape ``(n,)``, dtype ``float64``; ``0`` (certainly
        wrong) never occurs, ``-inf`` means certainly right.
        """
        # log P(right) = -sum softplus(-|L|); log P(wrong) = log1p(-P(right)).
        mag = np.abs(self.clipped().astype(np.float64))
        log_right = -np.sum(np.logaddexp(0.0, -mag), axis=1)
        with np.errstate(divide="ignore"):
            return np.log(-np.expm1(log_right))

    def hard_confidence(self) -> np.ndarray:
        """``P(hard decision is right)`` per token, ``(n,)`` float64."""
        return 1.0 - np.exp(self.hard_error_log_prob())

    @classmethod
    def from_hard_bits(cls, bits: np.ndarray, magnitude) -> "SoftTokenInfo":
        """LLRs of hard decisions with a known reliability: a binary symmetric
        channel with crossover ``p`` has ``magnitude = log((1-p)/p)``.

        Parameters
        ----------
        bits : np.ndarray, shape ``(n, b)``, values 0/1
        magnitude : float or np.ndarray broadcastable to ``(n, b)``
        """
        bits = np.asarray(bits)
        sign = 1.0 - 2.0 * bits.astype(np.float32)
        return cls(sign * np.asarray(magnitude, dtype=np.float32))

    @classmethod
    def for_frame(cls, frame: TokenFrame, reliable_llr: float = np.inf) -> "SoftTokenInfo":
        """Soft info equivalent to a hard frame: its unerased ids with LLRs of
        magnitude ``reliable_llr``, erased positions with 0 (no information)."""
        bits = ids_to_bits(frame.ids, frame.bits_per_token)
        llrs = (1.0 - 2.0 * bits.astype(np.float32)) * np.float32(reliable_llr)
        llrs[frame.erased] = 0.0
        return cls(llrs)


@dataclass
class ReceivedFrame:
    """What the receiver hands to the context layer.

    Attributes
    ----------
    frame : TokenFrame
        ``erased`` marks every token not delivered by a packet that passed
        its CRC; those ids are 0 and must not be trusted.
    soft : SoftTokenInfo or None
        Bit LLRs, typically only meaningful at erased positions (tokens of
        CRC-failed packets); None when the PHY made hard decisions only.
    """

    frame: TokenFrame
    soft: Optional[SoftTokenInfo] = None

    def __post_init__(self):
        if self.soft is not None:
            if len(self.soft) != len(self.frame):
                raise ValueError(f"soft info covers {len(self.soft)} tokens, frame has "
                                 f"{len(self.frame)}")
            if self.soft.bits_per_token != self.frame.bits_per_token:
                raise ValueError(f"soft info has {self.soft.bits_per_token} bits per token, "
                                 f"frame {self.frame.bits_per_token}")
