"""Channel coding of one packet's payload: bytes <-> coded bits and LLRs.

For an LDPC MCS of rate R, a payload of B bits is split into
``ceil(B / k)`` codewords of the mother code with the bits shared evenly.
Each codeword carries ``b`` real information bits; the other ``k - b`` are
shortened (known zeros, never sent). It sends its ``b`` information bits and
``ceil(b / R) - b`` parity bits chosen evenly among the mother code's parity
positions; the rest are punctured (the decoder sees LLR 0). The coded bits of
the whole packet are then scrambled (XOR with a fixed PN sequence, so long
runs of zeros in the payload don't become a spectral line) and interleaved
(a fixed permutation per length, so a faded carrier or a burst of noise
spreads over many codewords and bit positions: bit-interleaved coded
modulation).
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import List, Tuple

import numpy as np

from .ldpc_code import LdpcCode, gnuradio_code
from .mcs import Mcs

PAYLOAD_ALIST = "n_1800_k_0902_gap_28.alist"
_PN_SEED = 0x5EED
_INTERLEAVER_SEED = 0x1A7E


@dataclass(frozen=True)
class DecodedPayload:
    """A decoded payload.

    Attributes
    ----------
    data : bytes
        ``n_bytes`` bytes, the receiver's best decision.
    bit_llr : np.ndarray, shape ``(8 * n_bytes,)``, dtype ``float32``
        Posterior LLR of each payload bit, MSB first (positive favours 0).
    fec_ok : bool
        Every codeword converged to a valid codeword (always True for
        uncoded and convolutional MCSs, which cannot tell).
    """

    data: bytes
    bit_llr: np.ndarray
    fec_ok: bool


@lru_cache(maxsize=64)
def _pn_sequence(n_bits: int) -> np.ndarray:
    return np.random.RandomState(_PN_SEED).randint(0, 2, n_bits).astype(np.uint8)


@lru_cache(maxsize=256)
def _interleaver(n_bits: int) -> np.ndarray:
    return np.random.RandomState(_INTERLEAVER_SEED + n_bits).permutation(n_bits)


@lru_cache(maxsize=1024)
def _ldpc_layout(n_info_bits: int, rate: float) -> Tuple[Tuple[int, ...], Tuple[np.ndarray, ...]]:
    """Per codeword: real information bits, and the mother-code positions sent."""
    code = ldpc_mother_code()
    n_codewords = -(-n_info_bits // code.k)
    base, extra = divmod(n_info_bits, n_codewords)
    sizes = tuple(base + (1 if i < extra else 0) for i in range(n_codewords))
    parity = np.setdiff1d(np.arange(code.n), code.info_positions)
    sent = []
    for b in sizes:
        n_parity = min(int(np.ceil(b / rate - 1e-9)) - b, parity.size)
        chosen = parity[np.round(np.linspace(0, parity.size - 1, n_parity)).astype(int)] \
            if n_parity > 0 else np.zeros(0, dtype=np.int64)
        sent.append(np.concatenate([code.info_positions[:b], chosen]))
    return sizes, tuple(sent)


def ldpc_mother_code() -> LdpcCode:
    return gnuradio_code(PAYLOAD_ALIST)


def coded_length(n_bytes: int, mcs: Mcs) -> int:
    """Coded bits sent for a payload of ``n_bytes`` (before padding)."""
    n_info = 8 * n_bytes
    if mcs.code == "none":
        return n_info
    if mcs.code == "cc57":
        return 2 * (n_info + 2)  # two tail bits flush the K=3 encoder
    sizes, sent = _ldpc_layout(n_info, mcs.rate)
    return int(sum(s.size for s in sent))


def encode_payload(data: bytes, mcs: Mcs) -> np.ndarray:
    """Coded, scrambled and interleaved bits of a payload.

    Returns
    -------
    np.ndarray, shape ``(coded_length(len(data), mcs),)``, dtype ``uint8``
    """
    if not data:
        raise ValueError("cannot encode an empty payload")
    info = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))
    if mcs.code == "none":
        coded = info
    elif mcs.code == "cc57":
        coded = _cc57_encode(info)
    else:
        coded = _ldpc_encode(info, mcs.rate)
    coded = coded ^ _pn_sequence(coded.size)
    return coded[_interleaver(coded.size)]


def decode_payload(llr: np.ndarray, n_bytes: int, mcs: Mcs) -> DecodedPayload:
    """Invert :func:`encode_payload` from channel LLRs.

    Parameters
    ----------
    llr : np.ndarray, shape ``(coded_length(n_bytes, mcs),)``, float
        Channel LLRs of the coded bits as sent (positive favours 0).
    """
    llr = np.asarray(llr, dtype=np.float32)
    expected = coded_length(n_bytes, mcs)
    if llr.size != expected:
        raise ValueError(f"{llr.size} LLRs for a {n_bytes}-byte {mcs.name} payload, expected {expected}")
    deinterleaved = np.empty_like(llr)
    deinterleaved[_interleaver(llr.size)] = llr
    descrambled = np.where(_pn_sequence(llr.size) == 1, -deinterleaved, deinterleaved)
    if mcs.code == "none":
        bit_llr, ok = descrambled, True
    elif mcs.code == "cc57":
        bit_llr, ok = _cc57_decode(descrambled, 8 * n_bytes), True
    else:
        bit_llr, ok = _ldpc_decode(descrambled, 8 * n_bytes, mcs.rate)
    bits = (bit_llr < 0).astype(np.uint8)
    return DecodedPayload(np.packbits(bits).tobytes(), bit_llr.astype(np.float32), bool(ok))


def _ldpc_encode(info: np.ndarray, rate: float) -> np.ndarray:
    code = ldpc_mother_code()
    sizes, sent = _ldpc_layout(info.size, rate)
    words = np.zeros((len(sizes), code.k), dtype=np.uint8)
    start = 0
    for i, b in enumerate(sizes):
        words[i, :b] = info[start:start + b]
        start += b
    codewords = code.encode(words)
    return np.concatenate([codewords[i, positions] for i, positions in enumerate(sent)])


def _ldpc_decode(llr: np.ndarray, n_info: int, rate: float) -> Tuple[np.ndarray, bool]:
    code = ldpc_mother_code()
    sizes, sent = _ldpc_layout(n_info, rate)
    # Unsent bits: shortened information bits are known zeros (certain),
    # punctured parity bits are erasures (LLR 0).
    channel = np.zeros((len(sizes), code.n), dtype=np.float32)
    channel[:, code.info_positions] = 1e3
    start = 0
    for i, positions in enumerate(sent):
        channel[i, positions] = llr[start:start + positions.size]
        start += positions.size
    result = code.decode(channel)
    pieces: List[np.ndarray] = []
    for i, b in enumerate(sizes):
        word_llr = result.info_llr[i, :b].copy()
        # BP's posteriors are only trustworthy as a sign when it converged;
        # the hard decision is what we deliver either way.
        word_llr = np.where(result.info_bits[i, :b] == 1, -np.abs(word_llr), np.abs(word_llr))
        pieces.append(word_llr)
    return np.concatenate(pieces), bool(result.converged.all())


def _cc57_encode(info: np.ndarray) -> np.ndarray:
    """Rate-1/2 K=3 convolutional code, generators 5 and 7 (octal), zero tail."""
    u = np.concatenate([info.astype(np.uint8), np.zeros(2, dtype=np.uint8)])
    d1 = np.concatenate([[0], u[:-1]]).astype(np.uint8)
    d2 = np.concatenate([[0, 0], u[:-2]]).astype(np.uint8)
    out = np.empty(2 * u.size, dtype=np.uint8)
    out[0::2] = u ^ d2          # 5 = 101
    out[1::2] = u ^ d1 ^ d2     # 7 = 111
    return out


def _cc57_decode(llr: np.ndarray, n_info: int) -> np.ndarray:
    """Soft Viterbi decoding with scikit-commpy; returns pseudo-LLRs.

    Viterbi gives hard decisions only, so the reliability attached to each
    bit is the packet's mean |LLR|: sign from the decoder, magnitude a proxy.
    """
    import commpy.channelcoding.convcode as convcode
    trellis = _cc57_trellis()
    # commpy's unquantised metric is the squared distance to BPSK amplitudes
    # with bit 0 -> -1. Its per-branch differences are linear in the
    # amplitude, so amplitudes proportional to -LLR make it maximum-likelihood.
    scale = float(np.max(np.abs(llr))) if llr.size else 1.0
    amplitudes = -(llr / max(scale, 1e-9)).astype(np.float64)
    decoded = convcode.viterbi_decode(amplitudes, trellis, tb_depth=15, decoding_type="unquantized")
    bits = np.asarray(decoded[:n_info], dtype=np.uint8)
    magnitude = float(np.mean(np.abs(llr))) if llr.size else 0.0
    return np.where(bits == 1, -magnitude, magnitude).astype(np.float32)


@lru_cache(maxsize=1)
def _cc57_trellis():
    import commpy.channelcoding.convcode as convcode
    return convcode.Trellis(np.array([2]), np.array([[0o5, 0o7]]))
