"""Uncoded payload modulations, by name: the ``bpsk``/``qpsk`` MCSs.

Kept for callers that choose an uncoded modulation; coded schemes are in
:mod:`tokencom_sdr.phy.mcs`.
"""

from .mcs import get_mcs

MODULATIONS = ("bpsk", "qpsk")


def bits_per_symbol(name: str) -> int:
    """Bits carried by one payload constellation point of ``name``."""
    return get_mcs(name).bits_per_symbol
