"""Payload constellations of the OFDM PHY, by name."""

from typing import Dict

from gnuradio import digital

# name -> (bits per symbol, constellation factory). All have unit mean power.
_CONSTELLATIONS: Dict[str, tuple] = {
    "bpsk": (1, digital.constellation_bpsk),
    "qpsk": (2, digital.constellation_qpsk),
}

MODULATIONS = tuple(_CONSTELLATIONS)


def bits_per_symbol(name: str) -> int:
    """Bits carried by one payload constellation point of modulation ``name``."""
    return _CONSTELLATIONS[_check(name)][0]


def make_constellation(name: str):
    """A fresh gr-digital constellation object for modulation ``name``."""
    return _CONSTELLATIONS[_check(name)][1]()


def _check(name: str) -> str:
    if name not in _CONSTELLATIONS:
        raise ValueError(f"unknown modulation {name!r}; choose one of {', '.join(MODULATIONS)}")
    return name
