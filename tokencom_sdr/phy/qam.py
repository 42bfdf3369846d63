"""Gray-mapped square constellations and max-log soft demapping, in numpy.

Bit convention, used everywhere in TokenCom-SDR: a log-likelihood ratio is
``LLR = log P(b=0 | y) / P(b=1 | y)``, so a positive LLR favours bit 0 and
``bit = LLR < 0`` is the hard decision.

Every constellation has unit mean power. Points of an M-QAM are the product
of two Gray-coded PAMs: the first half of a symbol's bits picks the in-phase
level, the second half the quadrature level.
"""

from functools import lru_cache
from typing import Dict, Tuple

import numpy as np

BITS_PER_SYMBOL: Dict[str, int] = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6}


def _gray_pam(bits_per_axis: int) -> np.ndarray:
    """Amplitude of each bit label of a Gray-coded PAM (label -> level).

    Returns
    -------
    np.ndarray, shape ``(2**bits_per_axis,)``, dtype ``float64``
        Unnormalised odd-integer levels ``-(L-1) .. L-1``; labels of
        neighbouring levels differ in exactly one bit.
    """
    levels = 1 << bits_per_axis
    amplitude = np.empty(levels)
    for position in range(levels):
        label = position ^ (position >> 1)  # binary-reflected Gray code
        amplitude[label] = 2 * position - (levels - 1)
    return amplitude


@lru_cache(maxsize=None)
def constellation(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Points and bit labels of a constellation.

    Returns
    -------
    points : np.ndarray, shape ``(M,)``, dtype ``complex128``
        ``points[label]`` is the symbol of the bit label ``label`` (MSB first).
    labels : np.ndarray, shape ``(M, bits)``, dtype ``uint8``
        The bits of each label, MSB first.
    """
    bits = bits_per_symbol(name)
    labels = ((np.arange(1 << bits)[:, None] >> np.arange(bits - 1, -1, -1)) & 1).astype(np.uint8)
    if name == "bpsk":
        points = np.array([1.0, -1.0], dtype=complex)
    else:
        half = bits // 2
        pam = _gray_pam(half)
        label_i = np.arange(1 << bits) >> half
        label_q = np.arange(1 << bits) & ((1 << half) - 1)
        points = pam[label_i] + 1j * pam[label_q]
        points /= np.sqrt(np.mean(np.abs(points) ** 2))
    points.setflags(write=False)
    labels.setflags(write=False)
    return points, labels


def bits_per_symbol(name: str) -> int:
    try:
        return BITS_PER_SYMBOL[name]
    except KeyError:
        raise ValueError(f"unknown constellation {name!r}; choose one of "
                         f"{', '.join(BITS_PER_SYMBOL)}") from None


def map_bits(bits: np.ndarray, name: str) -> np.ndarray:
    """Map bits to symbols.

    Parameters
    ----------
    bits : np.ndarray, shape ``(n * bits_per_symbol,)``, values 0/1
    name : str
        ``"bpsk"``, ``"qpsk"``, ``"16qam"`` or ``"64qam"``.

    Returns
    -------
    np.ndarray, shape ``(n,)``, dtype ``complex64``
    """
    points, _ = constellation(name)
    bps = bits_per_symbol(name)
    bits = np.asarray(bits, dtype=np.int64).reshape(-1)
    if bits.size % bps:
        raise ValueError(f"{bits.size} bits is not a whole number of {name} symbols")
    labels = bits.reshape(-1, bps) @ (1 << np.arange(bps - 1, -1, -1))
    return points[labels].astype(np.complex64)


@lru_cache(maxsize=None)
def _axis_tables(name: str):
    """Per-axis levels and bit masks of a square Gray QAM.

    Returns ``(levels (L,), ones (bits_per_axis, L) bool)``: level ``l``'s
    bit ``b`` is 1 where ``ones[b, l]``. The in-phase axis carries the first
    half of a symbol's bits, the quadrature axis the second half, with the
    same table.
    """
    points, labels = constellation(name)
    half = bits_per_symbol(name) // 2
    levels_count = 1 << half
    # Points with quadrature label 0 run through every in-phase label.
    first = np.flatnonzero((np.arange(points.size) & (levels_count - 1)) == 0)
    levels = points[first].real
    ones = labels[first, :half].T.astype(bool)
    return levels.astype(np.float32), ones


def demap_maxlog(symbols: np.ndarray, noise_var: np.ndarray, name: str) -> np.ndarray:
    """Max-log bit LLRs of equalised symbols.

    ``LLR_b = (min_{s: b=1} |y-s|^2 - min_{s: b=0} |y-s|^2) / noise_var``.
    Square Gray QAM is a product of two PAMs, so each bit's minimum runs over
    one axis only (2-8 levels instead of 4-64 points).

    Parameters
    ----------
    symbols : np.ndarray, shape ``(n,)``, complex
        Equalised symbols.
    noise_var : float or np.ndarray, shape ``(n,)``
        Complex noise variance seen by each equalised symbol (after dividing
        by the channel, this is the noise variance over ``|H|**2``).
    name : str
        Constellation name.

    Returns
    -------
    np.ndarray, shape ``(n * bits_per_symbol,)``, dtype ``float32``
    """
    y = np.asarray(symbols, dtype=np.complex64).reshape(-1)
    scale = 1.0 / np.maximum(np.broadcast_to(np.asarray(noise_var, dtype=np.float32), y.shape), 1e-12)
    if name == "bpsk":
        return (4.0 * y.real * scale).astype(np.float32)
    levels, ones = _axis_tables(name)
    half = ones.shape[0]
    llr = np.empty((y.size, 2 * half), dtype=np.float32)
    if half == 1:
        # QPSK: two levels per axis, where the distance difference is linear:
        # (y - l1)^2 - (y - l0)^2 = 2 (l0 - l1) y + l1^2 - l0^2.
        l0, l1 = float(levels[~ones[0]][0]), float(levels[ones[0]][0])
        llr[:, 0] = y.real
        llr[:, 1] = y.imag
        llr *= 2 * (l0 - l1)
        llr += l1 * l1 - l0 * l0
        llr *= scale[:, None]
        return llr.reshape(-1)
    for axis, values in enumerate((y.real, y.imag)):
        distance = (values[:, None] - levels[None, :]) ** 2  # (n, L)
        for bit in range(half):
            mask = ones[bit]
            llr[:, axis * half + bit] = distance[:, mask].min(axis=1) - distance[:, ~mask].min(axis=1)
    llr *= scale[:, None]
    return llr.reshape(-1)


def nearest_points(symbols: np.ndarray, name: str) -> np.ndarray:
    """The constellation point nearest to each symbol (a hard slicer).

    A square Gray QAM's levels are evenly spaced on each axis, so the
    nearest one is found by rounding, a few array operations for any shape.

    Parameters
    ----------
    symbols : np.ndarray, any shape, complex
    name : str
        Constellation name.

    Returns
    -------
    np.ndarray, shape of ``symbols``, dtype ``complex64``
    """
    y = np.asarray(symbols, dtype=np.complex64)
    if name == "bpsk":
        return np.where(y.real < 0, -1.0, 1.0).astype(np.complex64)
    levels, _ = _axis_tables(name)
    spacing, top = float(np.min(np.abs(levels))), len(levels) - 1
    # Both axes share the grid: round the interleaved real view at once.
    axes = np.ascontiguousarray(y).view(np.float32)
    index = np.clip(np.rint((axes / spacing + top) / 2), 0, top)
    return ((2 * index - top) * spacing).astype(np.float32).view(np.complex64)


def hard_decision(llr: np.ndarray) -> np.ndarray:
    """Bits from LLRs: 1 where the LLR is negative. dtype ``uint8``."""
    return (np.asarray(llr) < 0).astype(np.uint8)


def soft_symbols(llr: np.ndarray, name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and mean energy of each symbol under its bits' LLRs.

    With ``P(b=1) = 1 / (1 + exp(LLR))`` for each bit, independently: the
    posterior mean ``E[x]`` is what a channel estimator should regress on
    when it is unsure of a decision (an unsure symbol pulls towards 0 and
    carries little weight), and ``E[|x|^2]`` completes the least-squares
    normal equations. Known bits (LLR +-inf or large) give the point itself.

    Parameters
    ----------
    llr : np.ndarray, shape ``(n * bits_per_symbol,)``, float
    name : str
        Constellation name.

    Returns
    -------
    mean : np.ndarray, shape ``(n,)``, dtype ``complex64``
    energy : np.ndarray, shape ``(n,)``, dtype ``float32``
    """
    llr = np.clip(np.asarray(llr, dtype=np.float32), -30.0, 30.0)
    if name == "bpsk":
        mean = np.tanh(llr / 2)
        return mean.astype(np.complex64), np.ones(mean.size, dtype=np.float32)
    levels, ones = _axis_tables(name)
    half = ones.shape[0]
    p_one = (1.0 / (1.0 + np.exp(llr))).reshape(-1, 2, half)  # (n, axis, bit)
    # P(level) per axis: the product over the axis' bits of P(bit = level's bit).
    p_level = np.where(ones.T[None, None, :, :], p_one[:, :, None, :], 1.0 - p_one[:, :, None, :]).prod(axis=3)
    axis_mean = p_level @ levels
    axis_energy = p_level @ (levels * levels)
    mean = (axis_mean[:, 0] + 1j * axis_mean[:, 1]).astype(np.complex64)
    return mean, axis_energy.sum(axis=1).astype(np.float32)
