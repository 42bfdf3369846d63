"""Channel coding of one packet's payload: bytes <-> coded bits and LLRs.

For an LDPC MCS of rate R, a payload of B bits is split into
``ceil(B / 902)`` codewords with the bits shared evenly, ``b`` each. Each
codeword uses the smallest of gr-fec's LDPC codes (n = 100 ... 1800, rates
0.4-0.5) whose dimension k holds ``b``, so short packets are not drowned in
shortening. The other ``k - b`` information bits are shortened (known zeros,
never sent). A codeword sends its ``b`` information bits and
``ceil(b / R) - b`` parity bits chosen evenly among the code's parity
positions; the rest are punctured (the decoder sees LLR 0). The coded bits of
the whole packet are then scrambled (XOR with a fixed PN sequence, so long
runs of zeros in the payload don't become a spectral line) and interleaved
(a fixed permutation per length, so a faded carrier or a burst of noise
spreads over many codewords and bit positions: bit-interleaved coded
modulation).
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .ldpc_code import LdpcCode, gnuradio_code
from .mcs import Mcs
from .min_sum import compile_decoder

# gr-fec's LDPC family, smallest first: (alist, k). The k are the dimensions
# of the parity-check matrices as shipped (some are rank deficient).
LDPC_FAMILY = (
    ("n_0100_k_0042_gap_02.alist", 42),
    ("n_0300_k_0152_gap_03.alist", 152),
    ("n_0500_k_0202_gap_11.alist", 202),
    ("n_0700_k_0282_gap_16.alist", 282),
    ("n_1100_k_0442_gap_24.alist", 442),
    ("n_1300_k_0522_gap_30.alist", 522),
    ("n_1800_k_0902_gap_28.alist", 902),
)
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
    channel_llr : np.ndarray or None, shape ``(coded_length(n_bytes, mcs),)``, dtype ``float32``
        The channel LLRs the decoder started from, as sent (interleaved,
        scrambled). Kept so that a receiver with prior knowledge of the
        payload bits can decode again (:func:`decode_payload` ``prior_llr``).
    coded_llr : np.ndarray or None, shape ``(coded_length(n_bytes, mcs),)``, dtype ``float32``
        The decoder's posterior LLRs of the coded bits as sent (LDPC MCSs,
        payloads whose decoding failed only): re-mapped to symbols, what the receiver now believes was on
        the air, for decision-directed channel tracking.
    """

    data: bytes
    bit_llr: np.ndarray
    fec_ok: bool
    channel_llr: Optional[np.ndarray] = None
    coded_llr: Optional[np.ndarray] = None


@lru_cache(maxsize=256)
def _pn_sequence(n_bits: int) -> np.ndarray:
    sequence = np.random.RandomState(_PN_SEED).randint(0, 2, n_bits).astype(np.uint8)
    sequence.setflags(write=False)  # (cached: a transmitter repeats a few sizes)
    return sequence


@lru_cache(maxsize=256)
def _interleaver(n_bits: int) -> np.ndarray:
    return np.random.RandomState(_INTERLEAVER_SEED + n_bits).permutation(n_bits)


@lru_cache(maxsize=256)
def _descrambler(n_bits: int) -> Tuple[np.ndarray, np.ndarray]:
    """Deinterleaving as one gather, and descrambling as LLR signs: coded
    bit ``i`` as encoded is ``sign[i] * llr[inverse[i]]`` of the bits as sent."""
    inverse = np.argsort(_interleaver(n_bits))
    sign = (1 - 2 * _pn_sequence(n_bits).astype(np.float32)).astype(np.float32)
    return inverse, sign


@lru_cache(maxsize=1024)
def _ldpc_layout(n_info_bits: int, rate: float) -> Tuple[LdpcCode, Tuple[int, ...], Tuple[np.ndarray, ...]]:
    """The code, the real information bits per codeword, and the code
    positions each codeword sends."""
    n_codewords = -(-n_info_bits // LDPC_FAMILY[-1][1])
    base, extra = divmod(n_info_bits, n_codewords)
    sizes = tuple(base + (1 if i < extra else 0) for i in range(n_codewords))
    alist = next(name for name, k in LDPC_FAMILY if k >= sizes[0])
    code = gnuradio_code(alist)
    parity = np.setdiff1d(np.arange(code.n), code.info_positions)
    sent = []
    for b in sizes:
        n_parity = min(int(np.ceil(b / rate - 1e-9)) - b, parity.size)
        chosen = parity[np.round(np.linspace(0, parity.size - 1, n_parity)).astype(int)] \
            if n_parity > 0 else np.zeros(0, dtype=np.int64)
        sent.append(np.concatenate([code.info_positions[:b], chosen]))
    return code, sizes, tuple(sent)


def warm_up_codes() -> None:
    """Build every code of the family now (a fraction of a second each), and
    load the compiled decoder, so that the first packets of a run are not
    delayed."""
    for alist, _ in LDPC_FAMILY:
        gnuradio_code(alist)
    from .phy_header import header_code
    header_code()
    compile_decoder()


def coded_length(n_bytes: int, mcs: Mcs) -> int:
    """Coded bits sent for a payload of ``n_bytes`` (before padding)."""
    n_info = 8 * n_bytes
    if mcs.code == "none":
        return n_info
    if mcs.code == "cc57":
        return 2 * (n_info + 2)  # two tail bits flush the K=3 encoder
    _, _, sent = _ldpc_layout(n_info, mcs.rate)
    return int(sum(s.size for s in sent))


def encode_payload(data: bytes, mcs: Mcs) -> np.ndarray:
    """Coded, scrambled and interleaved bits of a payload.

    Returns
    -------
    np.ndarray, shape ``(coded_length(len(data), mcs),)``, dtype ``uint8``
    """
    return encode_payloads([data], mcs)[0]


def encode_payloads(payloads: Sequence[bytes], mcs: Mcs) -> np.ndarray:
    """:func:`encode_payload` of several payloads of one size, in one pass
    of numpy calls (a transmitter's packets of a work() call).

    Returns
    -------
    np.ndarray, shape ``(len(payloads), coded_length(n_bytes, mcs))``, dtype ``uint8``
    """
    sizes = {len(data) for data in payloads}
    if len(sizes) != 1:
        raise ValueError(f"payloads to encode together must share one size, got sizes {sorted(sizes)}")
    if not sizes.pop():
        raise ValueError("cannot encode an empty payload")
    info = np.unpackbits(np.frombuffer(b"".join(bytes(data) for data in payloads), dtype=np.uint8)
                         ).reshape(len(payloads), -1)
    if mcs.code == "none":
        coded = info
    elif mcs.code == "cc57":
        coded = np.stack([_cc57_encode(row) for row in info])
    else:
        coded = _ldpc_encode(info, mcs.rate)
    coded = coded ^ _pn_sequence(coded.shape[1])
    return coded[:, _interleaver(coded.shape[1])]


def decode_payload(llr: np.ndarray, n_bytes: int, mcs: Mcs,
                   prior_llr: Optional[np.ndarray] = None) -> DecodedPayload:
    """Invert :func:`encode_payload` from channel LLRs.

    Parameters
    ----------
    llr : np.ndarray, shape ``(coded_length(n_bytes, mcs),)``, float
        Channel LLRs of the coded bits as sent (positive favours 0).
    prior_llr : np.ndarray, shape ``(8 * n_bytes,)``, float, optional
        A-priori LLRs of the payload bits, MSB first (positive favours 0;
        0 = no knowledge), added to the channel evidence of each information
        bit before decoding: what the receiver already expects the payload
        to say (known header fields, a context model's token prior).

    Returns
    -------
    DecodedPayload
        ``bit_llr`` is the posterior including the prior.
    """
    llr = np.asarray(llr, dtype=np.float32)
    expected = coded_length(n_bytes, mcs)
    if llr.size != expected:
        raise ValueError(f"{llr.size} LLRs for a {n_bytes}-byte {mcs.name} payload, expected {expected}")
    if prior_llr is not None:
        prior_llr = np.asarray(prior_llr, dtype=np.float32)
        if prior_llr.shape != (8 * n_bytes,):
            raise ValueError(f"prior_llr has shape {prior_llr.shape}, expected ({8 * n_bytes},)")
        prior_llr = prior_llr[None, :]
    return decode_payloads(llr.reshape(1, -1), n_bytes, mcs, prior_llr)[0]


def decode_payloads(llr: np.ndarray, n_bytes: int, mcs: Mcs,
                    prior_llr: Optional[np.ndarray] = None) -> List[DecodedPayload]:
    """:func:`decode_payload` for several packets of the same size and MCS.

    One pass of numpy calls (and one LDPC batch) for them all: a receiver
    that has several bursts' payloads at hand decodes them together.

    Parameters
    ----------
    llr : np.ndarray, shape ``(n_packets, coded_length(n_bytes, mcs))``, float
    prior_llr : np.ndarray, shape ``(n_packets, 8 * n_bytes)``, float, optional

    Returns
    -------
    list of DecodedPayload, one per row of ``llr``
    """
    llr = np.asarray(llr, dtype=np.float32)
    expected = coded_length(n_bytes, mcs)
    if llr.ndim != 2 or llr.shape[1] != expected:
        raise ValueError(f"LLRs of shape {llr.shape} for {n_bytes}-byte {mcs.name} payloads, "
                         f"expected (n_packets, {expected})")
    n_packets = llr.shape[0]
    if prior_llr is not None:
        prior_llr = np.asarray(prior_llr, dtype=np.float32)
        if prior_llr.shape != (n_packets, 8 * n_bytes):
            raise ValueError(f"prior_llr has shape {prior_llr.shape}, expected ({n_packets}, {8 * n_bytes})")
    inverse, sign = _descrambler(expected)
    descrambled = llr[:, inverse] * sign
    coded_llr = {}
    if mcs.code == "none":
        bit_llr, ok = descrambled, np.ones(n_packets, dtype=bool)
        if prior_llr is not None:
            bit_llr = bit_llr + prior_llr
    elif mcs.code == "cc57":
        # The Viterbi decoder takes no per-bit prior; it decodes the channel alone.
        bit_llr = np.stack([_cc57_decode(row, 8 * n_bytes) for row in descrambled])
        ok = np.ones(n_packets, dtype=bool)
    else:
        bit_llr, ok, codeword_llr = _ldpc_decode(descrambled, 8 * n_bytes, mcs.rate, prior_llr)
        failed = np.flatnonzero(~ok)
        if failed.size:
            # Only a failed payload needs its posteriors (for channel
            # tracking), back in the order and polarity on the air.
            plan = _ldpc_plan(8 * n_bytes, mcs.rate)
            interleaver = _interleaver(expected)
            encoded = codeword_llr[failed][:, plan.sent]
            coded_llr = dict(zip(failed.tolist(), encoded[:, interleaver] * sign[interleaver]))
    bit_llr = bit_llr.astype(np.float32)
    data = np.packbits(bit_llr < 0, axis=1)
    return [DecodedPayload(data[j].tobytes(), bit_llr[j], bool(ok[j]), llr[j], coded_llr.get(j))
            for j in range(n_packets)]


def _ldpc_encode(info: np.ndarray, rate: float) -> np.ndarray:
    """Coded bits of payloads' information bits, rows ``(n_payloads, n_info)``
    -> ``(n_payloads, coded_length)``."""
    n_payloads, n_info = info.shape
    plan = _ldpc_plan(n_info, rate)
    words = np.zeros((n_payloads * plan.template.shape[0], plan.code.k), dtype=np.uint8)
    words.reshape(n_payloads, -1)[:, plan.info_rank] = info
    codewords = plan.code.encode(words).reshape(n_payloads, -1)
    return codewords[:, plan.sent]


@dataclass(frozen=True)
class _LdpcPlan:
    """Where a packet's bits go in its batch of codewords, as flat indices,
    so that decoding moves them with one gather or scatter each."""

    code: LdpcCode
    # (n_codewords, n) decoder input before the channel: shortened
    # information bits are known zeros (certain), everything else 0.
    template: np.ndarray
    sent: np.ndarray       # coded bit (as encoded) -> flat (codeword, position)
    info: np.ndarray       # payload bit -> flat (codeword, position)
    info_rank: np.ndarray  # payload bit -> flat (codeword, information bit index)


@lru_cache(maxsize=1024)
def _ldpc_plan(n_info_bits: int, rate: float) -> _LdpcPlan:
    code, sizes, sent = _ldpc_layout(n_info_bits, rate)
    template = np.zeros((len(sizes), code.n), dtype=np.float32)
    template[:, code.info_positions] = 1e3
    return _LdpcPlan(
        code, template,
        np.concatenate([i * code.n + positions for i, positions in enumerate(sent)]),
        np.concatenate([i * code.n + code.info_positions[:b] for i, b in enumerate(sizes)]),
        np.concatenate([i * code.k + np.arange(b) for i, b in enumerate(sizes)]))


_BIT_SIGN = np.array([1.0, -1.0], dtype=np.float32)


def _ldpc_decode(llr: np.ndarray, n_info: int, rate: float,
                 prior_llr: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior LLRs ``(n_packets, n_info)``, per-packet success
    ``(n_packets,)`` and posterior LLRs of every bit of each packet's
    codewords ``(n_packets, n_codewords * n)``, from descrambled,
    deinterleaved LLRs ``(n_packets, n_coded)``."""
    plan = _ldpc_plan(n_info, rate)
    n_packets = llr.shape[0]
    # Unsent bits: shortened information bits are known zeros (certain),
    # punctured parity bits are erasures (LLR 0).
    channel = np.tile(plan.template.reshape(1, -1), (n_packets, 1))
    channel[:, plan.sent] = llr
    if prior_llr is not None:
        # Information bits sit at code.info_positions in payload order, so a
        # payload bit's prior adds to its own variable node's channel evidence.
        channel[:, plan.info] += prior_llr
    result = plan.code.decode(channel.reshape(-1, plan.code.n))
    bits = result.info_bits.reshape(n_packets, -1)[:, plan.info_rank]
    # BP's posteriors are only trustworthy as a sign when it converged;
    # the hard decision is what we deliver either way.
    bit_llr = np.abs(result.info_llr.reshape(n_packets, -1)[:, plan.info_rank]) * _BIT_SIGN[bits]
    return bit_llr, result.converged.reshape(n_packets, -1).all(axis=1), result.codeword_llr.reshape(n_packets, -1)


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
