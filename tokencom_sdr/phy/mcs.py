"""Modulation and coding schemes (MCS): a constellation plus a code.

The PHY header carries the MCS index, so a receiver decodes any MCS without
prior agreement. Indices are part of the air interface: never renumber.

Codes:

* ``ldpc``: gr-fec's n=1800, k=902 LDPC code (``n_1800_k_0902_gap_28.alist``,
  column weight <= 3), decoded by scaled min-sum BP (:mod:`.min_sum`, the
  algorithm of the PyPI ``ldpc`` package's ``BpDecoder``). Other rates come
  from rate matching: shortening for short packets, puncturing of parity bits
  for rates above 1/2.
* ``cc57``: TokCom's reference code, the rate-1/2 convolutional code with
  generators 5 and 7 (octal, K=3), soft-decision Viterbi.
* ``none``: uncoded, hard decisions from the sign of the LLRs.
"""

from dataclasses import dataclass
from typing import Dict, Tuple

from .qam import bits_per_symbol


@dataclass(frozen=True)
class Mcs:
    """One modulation and coding scheme.

    Attributes
    ----------
    index : int
        4-bit identifier in the PHY header.
    name : str
        e.g. ``"qpsk-1/2"``.
    constellation : str
        ``"bpsk"``, ``"qpsk"``, ``"16qam"`` or ``"64qam"``.
    code : str
        ``"ldpc"``, ``"cc57"`` or ``"none"``.
    rate : float
        Code rate (information bits per coded bit sent).
    midamble_period : int
        0, or the payload OFDM symbols between two known OFDM symbols
        (midambles): the "mobile" MCSs anchor the receiver's channel
        tracking on a channel that changes within the burst
        (:mod:`.channel_tracking`), at the cost of one symbol in
        ``midamble_period + 1`` of air time.
    """

    index: int
    name: str
    constellation: str
    code: str
    rate: float
    midamble_period: int = 0

    @property
    def bits_per_symbol(self) -> int:
        return bits_per_symbol(self.constellation)

    @property
    def info_bits_per_symbol(self) -> float:
        return self.bits_per_symbol * self.rate


#: Payload symbols between midambles in the mobile MCSs: a 100-byte QPSK
#: burst (17 payload symbols, 0.7 ms at 2 MS/s) gets 3 known symbols, so the
#: channel is anchored at least every 0.25 ms, well inside the coherence
#: time at 300 Hz of Doppler (about 1.4 ms).
MOBILE_MIDAMBLE_PERIOD = 6

_TABLE: Tuple[Mcs, ...] = (
    Mcs(0, "bpsk", "bpsk", "none", 1.0),
    Mcs(1, "qpsk", "qpsk", "none", 1.0),
    Mcs(2, "bpsk-1/2", "bpsk", "ldpc", 1 / 2),
    Mcs(3, "qpsk-1/2", "qpsk", "ldpc", 1 / 2),
    Mcs(4, "qpsk-3/4", "qpsk", "ldpc", 3 / 4),
    Mcs(5, "16qam-1/2", "16qam", "ldpc", 1 / 2),
    Mcs(6, "16qam-3/4", "16qam", "ldpc", 3 / 4),
    Mcs(7, "64qam-2/3", "64qam", "ldpc", 2 / 3),
    Mcs(8, "64qam-3/4", "64qam", "ldpc", 3 / 4),
    Mcs(9, "16qam-2/3", "16qam", "ldpc", 2 / 3),
    Mcs(10, "tokcom-16qam-cc", "16qam", "cc57", 1 / 2),
    # The mobile family: the same codes with a midamble every few symbols.
    Mcs(11, "qpsk-1/2-mobile", "qpsk", "ldpc", 1 / 2, MOBILE_MIDAMBLE_PERIOD),
    Mcs(12, "16qam-1/2-mobile", "16qam", "ldpc", 1 / 2, MOBILE_MIDAMBLE_PERIOD),
    Mcs(13, "64qam-2/3-mobile", "64qam", "ldpc", 2 / 3, MOBILE_MIDAMBLE_PERIOD),
)

MCS_BY_NAME: Dict[str, Mcs] = {m.name: m for m in _TABLE}
MCS_BY_INDEX: Dict[int, Mcs] = {m.index: m for m in _TABLE}
MCS_NAMES = tuple(MCS_BY_NAME)
CODED_MCS_NAMES = tuple(m.name for m in _TABLE if m.code != "none")


def get_mcs(name_or_index) -> Mcs:
    """Look an MCS up by name (``"qpsk-1/2"``) or header index."""
    if isinstance(name_or_index, Mcs):
        return name_or_index
    table = MCS_BY_INDEX if isinstance(name_or_index, int) else MCS_BY_NAME
    try:
        return table[name_or_index]
    except KeyError:
        raise ValueError(f"unknown MCS {name_or_index!r}; choose one of {', '.join(MCS_NAMES)}") from None
