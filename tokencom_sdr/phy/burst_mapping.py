"""One packet <-> the constellation symbols of its OFDM burst (numpy).

A burst's data carriers hold, in order: the coded PHY header (96 BPSK
symbols, two OFDM symbols) and the payload (coded with the MCS, mapped to its
constellation, padded with known filler to whole OFDM symbols). The carrier
allocator adds the preamble and pilots around them.
"""

from functools import lru_cache
from typing import List, Optional, Sequence

import numpy as np

from .mcs import Mcs, get_mcs
from .ofdm_params import OfdmParams
from .payload_code import DecodedPayload, coded_length, decode_payloads, encode_payloads
from .phy_header import HEADER_CODED_BITS, PhyHeader, decode_headers, encode_header
from .qam import demap_maxlog, map_bits

HEADER_OFDM_SYMBOLS = 2
# Longest burst in OFDM symbols: preamble, header and 1500 bytes at the
# lowest-rate MCS (bpsk-1/2: 12000 coded bits over 48 carriers), rounded up.
MAX_BURST_OFDM_SYMBOLS = 512
_FILLER_SEED = 0xF111


@lru_cache(maxsize=64)
def filler_bits(n_bits: int) -> np.ndarray:
    return np.random.RandomState(_FILLER_SEED).randint(0, 2, n_bits).astype(np.uint8)


def data_ofdm_symbols(n_bytes: int, mcs: Mcs, params: OfdmParams) -> int:
    """OFDM symbols that carry the coded bits of an ``n_bytes`` packet."""
    bits_per_ofdm_symbol = len(params.data_carriers) * mcs.bits_per_symbol
    return -(-coded_length(n_bytes, mcs) // bits_per_ofdm_symbol)


@lru_cache(maxsize=1024)  # (asked once per burst, for a few sizes)
def payload_ofdm_symbols(n_bytes: int, mcs: Mcs, params: OfdmParams) -> int:
    """OFDM symbols after the header: the coded payload, and the midambles
    between every ``mcs.midamble_period`` of them (none after the last)."""
    n_data = data_ofdm_symbols(n_bytes, mcs, params)
    return n_data + (n_data - 1) // mcs.midamble_period if mcs.midamble_period else n_data


@lru_cache(maxsize=256)
def midamble_rows(n_payload_symbols: int, midamble_period: int) -> np.ndarray:
    """Which of a payload's OFDM symbols are midambles.

    Returns
    -------
    np.ndarray, shape ``(n_payload_symbols,)``, dtype ``bool``, read-only
    """
    rows = np.zeros(n_payload_symbols, dtype=bool)
    if midamble_period:
        rows[midamble_period::midamble_period + 1] = True
    rows.setflags(write=False)
    return rows


@lru_cache(maxsize=4)
def midamble_symbols(params: OfdmParams) -> np.ndarray:
    """What a midamble carries on the data carriers: the second preamble
    symbol's values there (BPSK, unit power), shape ``(n_data,)``, complex64."""
    word = params.sync_words()[1]
    symbols = word[np.array(params.data_carriers) + params.fft_len // 2].astype(np.complex64)
    symbols.setflags(write=False)
    return symbols


def burst_length(n_bytes: int, mcs, params: OfdmParams) -> int:
    """Complex samples on air for one packet: 2 preamble, 2 header and the
    payload OFDM symbols, each with its cyclic prefix, plus the gap."""
    n_sym = 2 + HEADER_OFDM_SYMBOLS + payload_ofdm_symbols(n_bytes, get_mcs(mcs), params)
    return n_sym * params.symbol_len + params.gap_len


def burst_symbols(data: bytes, mcs, packet_number: int, params: OfdmParams) -> np.ndarray:
    """Data-carrier symbols of one burst: coded header, then coded payload.

    Returns
    -------
    np.ndarray, shape ``((2 + n_payload_sym) * n_data,)``, dtype ``complex64``
    """
    return bursts_symbols([data], mcs, [packet_number], params)[0]


def bursts_symbols(payloads: Sequence[bytes], mcs, packet_numbers: Sequence[int],
                   params: OfdmParams) -> np.ndarray:
    """:func:`burst_symbols` of several payloads of one size, in one pass of
    numpy calls (a transmitter's packets of a work() call).

    Returns
    -------
    np.ndarray, shape ``(len(payloads), (2 + n_payload_sym) * n_data)``, dtype ``complex64``
    """
    mcs = get_mcs(mcs)
    n_bytes = len(payloads[0])
    headers = np.stack([header_symbols(PhyHeader(n_bytes, mcs.index, number % 256))
                        for number in packet_numbers])
    coded = encode_payloads(payloads, mcs)
    n_sym = data_ofdm_symbols(n_bytes, mcs, params)
    padding = n_sym * len(params.data_carriers) * mcs.bits_per_symbol - coded.shape[1]
    coded = np.concatenate([coded, np.broadcast_to(filler_bits(padding), (len(payloads), padding))], axis=1)
    payload = map_bits(coded, mcs.constellation).reshape(len(payloads), -1)
    if mcs.midamble_period:
        rows = midamble_rows(payload_ofdm_symbols(n_bytes, mcs, params), mcs.midamble_period)
        grid = np.empty((len(payloads), rows.size, len(params.data_carriers)), dtype=np.complex64)
        grid[:, rows] = midamble_symbols(params)
        grid[:, ~rows] = payload.reshape(len(payloads), -1, len(params.data_carriers))
        payload = grid.reshape(len(payloads), -1)
    return np.concatenate([headers, payload], axis=1)


def headers_from_symbols(symbols: np.ndarray, noise_var: np.ndarray) -> List[Optional[PhyHeader]]:
    """Decode headers from their equalised BPSK symbols (None: bad CRC).

    Parameters
    ----------
    symbols : np.ndarray, shape ``(n_headers, m)``, complex64, ``m >= 96``
        Each row starts with a header's 96 symbols.
    noise_var : np.ndarray, shape ``(n_headers, m)``, float32
    """
    n_headers = symbols.shape[0]
    llr = demap_maxlog(symbols[:, :HEADER_CODED_BITS].reshape(-1),
                       noise_var[:, :HEADER_CODED_BITS].reshape(-1), "bpsk")
    return decode_headers(llr.reshape(n_headers, HEADER_CODED_BITS))


# A link repeats the same few headers (one payload size and MCS, 256 packet
# numbers), and encoding one (CRC bit by bit, LDPC) costs ~20 us a burst, in
# the transmitter and again in the receiver (for data-aided estimates).
@lru_cache(maxsize=4096)
def header_symbols(header: PhyHeader) -> np.ndarray:
    """What a decoded header looked like on the air (for data-aided estimates).

    Returns
    -------
    np.ndarray, shape ``(96,)``, dtype ``complex64``, read-only (cached)
    """
    symbols = map_bits(encode_header(header), "bpsk")
    symbols.setflags(write=False)
    return symbols


def payloads_from_symbols(symbols: np.ndarray, noise_var: np.ndarray, n_bytes: int,
                          mcs: Mcs, params: OfdmParams) -> List[DecodedPayload]:
    """Soft-demap and decode payloads of the same size and MCS from their
    equalised symbols (filler and midambles included): rows of ``symbols``
    and ``noise_var``, shape ``(n_packets, n_symbols)``."""
    n_packets = symbols.shape[0]
    if mcs.midamble_period:
        n_data = len(params.data_carriers)
        data_rows = ~midamble_rows(symbols.shape[1] // n_data, mcs.midamble_period)
        symbols = symbols.reshape(n_packets, -1, n_data)[:, data_rows].reshape(n_packets, -1)
        noise_var = noise_var.reshape(n_packets, -1, n_data)[:, data_rows].reshape(n_packets, -1)
    llr = demap_maxlog(symbols.reshape(-1), noise_var.reshape(-1), mcs.constellation).reshape(n_packets, -1)
    return decode_payloads(llr[:, :coded_length(n_bytes, mcs)], n_bytes, mcs)
