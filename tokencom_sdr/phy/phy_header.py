"""The PHY header: what a receiver must know before it can decode a payload.

42 information bits, MSB first:

=============  ====  =============================================
field          bits  meaning
=============  ====  =============================================
payload bytes  12    1..1500 (the field could say 4095)
MCS index      4     :mod:`.mcs` table
packet number  8     wraps; helps spot lost bursts
reserved       2     zero
CRC-16         16    CCITT (poly 0x1021, init 0xFFFF) over the 26 bits above
=============  ====  =============================================

They are protected by gr-fec's n=100, k=42 LDPC code (4 parity bits
punctured to fit two BPSK OFDM symbols of 48 carriers: rate 0.44), so the
header survives well below the SNR at which the weakest payload MCS works.
The CRC-16 rejects the headers that false sync triggers produce on noise.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional

import numpy as np

from .ldpc_code import LdpcCode, gnuradio_code

HEADER_ALIST = "n_0100_k_0042_gap_02.alist"
HEADER_INFO_BITS = 42
HEADER_CODED_BITS = 96
# Like an Ethernet MTU: the longest burst (1500 bytes at rate-1/2 BPSK, 254
# OFDM symbols) must fit the flowgraph's buffers, which are sized for it.
MAX_PAYLOAD_BYTES = 1500
_HEADER_PN_SEED = 0x4EAD


@dataclass(frozen=True)
class PhyHeader:
    """Decoded header fields."""

    payload_bytes: int
    mcs_index: int
    packet_number: int

    def __post_init__(self):
        if not 1 <= self.payload_bytes <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload must be 1..{MAX_PAYLOAD_BYTES} bytes, got {self.payload_bytes}")
        if not 0 <= self.mcs_index < 16:
            raise ValueError(f"MCS index must fit 4 bits, got {self.mcs_index}")
        if not 0 <= self.packet_number < 256:
            raise ValueError(f"packet number must fit 8 bits, got {self.packet_number}")


def crc16_ccitt(bits: np.ndarray) -> int:
    """CRC-16/CCITT-FALSE of a bit sequence (MSB first)."""
    crc = 0xFFFF
    # (over Python ints: a numpy scalar per bit costs several times more)
    for bit in np.asarray(bits, dtype=np.uint8).tolist():
        feedback = ((crc >> 15) & 1) ^ bit
        crc = (crc << 1) & 0xFFFF
        if feedback:
            crc ^= 0x1021
    return crc


def _to_bits(value: int, width: int) -> np.ndarray:
    return ((value >> np.arange(width - 1, -1, -1)) & 1).astype(np.uint8)


@lru_cache(maxsize=1)
def header_code() -> LdpcCode:
    return gnuradio_code(HEADER_ALIST, max_iterations=40)


@lru_cache(maxsize=1)
def _sent_positions() -> np.ndarray:
    """The 96 of the 100 mother-code bits that are sent (4 parity punctured)."""
    code = header_code()
    parity = np.setdiff1d(np.arange(code.n), code.info_positions)
    punctured = parity[np.round(np.linspace(0, parity.size - 1, code.n - HEADER_CODED_BITS)).astype(int)]
    return np.setdiff1d(np.arange(code.n), punctured)


@lru_cache(maxsize=1)
def _pn() -> np.ndarray:
    return np.random.RandomState(_HEADER_PN_SEED).randint(0, 2, HEADER_CODED_BITS).astype(np.uint8)


@lru_cache(maxsize=1)
def _pn_sign() -> np.ndarray:
    """The scrambler as LLR signs: +1 where the PN bit is 0, -1 where it is 1."""
    return (1 - 2 * _pn().astype(np.float32)).astype(np.float32)


def encode_header(header: PhyHeader) -> np.ndarray:
    """Coded header bits.

    Returns
    -------
    np.ndarray, shape ``(96,)``, dtype ``uint8``
    """
    fields = np.concatenate([_to_bits(header.payload_bytes, 12), _to_bits(header.mcs_index, 4),
                             _to_bits(header.packet_number, 8), np.zeros(2, dtype=np.uint8)])
    info = np.concatenate([fields, _to_bits(crc16_ccitt(fields), 16)])
    codeword = header_code().encode(info[None, :])[0]
    return codeword[_sent_positions()] ^ _pn()


def decode_header(llr: np.ndarray) -> Optional[PhyHeader]:
    """Header from the LLRs of its 96 coded bits, or None if it fails its CRC.

    Parameters
    ----------
    llr : np.ndarray, shape ``(96,)``, float (positive favours 0)
    """
    llr = np.asarray(llr)
    if llr.size != HEADER_CODED_BITS:
        raise ValueError(f"header needs {HEADER_CODED_BITS} LLRs, got {llr.size}")
    return decode_headers(llr.reshape(1, HEADER_CODED_BITS))[0]


def decode_headers(llr: np.ndarray) -> List[Optional[PhyHeader]]:
    """:func:`decode_header` of several headers, the LDPC decoding as one batch.

    Parameters
    ----------
    llr : np.ndarray, shape ``(n_headers, 96)``, float (positive favours 0)

    Returns
    -------
    list of PhyHeader or None, one per row
    """
    llr = np.asarray(llr)  # (cast to float32 where it is written into the channel)
    if llr.ndim != 2 or llr.shape[1] != HEADER_CODED_BITS:
        raise ValueError(f"headers need {HEADER_CODED_BITS} LLRs per row, got shape {llr.shape}")
    code = header_code()
    channel = np.zeros((llr.shape[0], code.n), dtype=np.float32)
    channel[:, _sent_positions()] = llr * _pn_sign()
    result = code.decode(channel)
    return [_fields_of(bits) if converged else None
            for bits, converged in zip(result.info_bits, result.converged)]


def _fields_of(info_bits: np.ndarray) -> Optional[PhyHeader]:
    """The header that 42 decoded information bits hold, or None if they fail
    the CRC or hold a value no header has."""
    # The 42 bits as one integer (fields, then CRC): Python's integer
    # operations cost a fraction of numpy's per-call overhead on 42 bits.
    value = int.from_bytes(np.packbits(info_bits).tobytes(), "big") >> 6
    fields, crc = value >> 16, value & 0xFFFF
    if fields & 0b11 or crc16_ccitt(info_bits[:26]) != crc:
        return None
    try:
        return PhyHeader(fields >> 14, (fields >> 10) & 0xF, (fields >> 2) & 0xFF)
    except ValueError:
        return None
