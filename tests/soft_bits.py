"""Channel LLRs for tests: bits sent as BPSK over AWGN, the one place the
tests make soft bits without running the OFDM chain
(``from soft_bits import bpsk_awgn_llrs``)."""

import numpy as np


def bpsk_awgn_llrs(bits: np.ndarray, esn0_db: float, rng: np.random.Generator) -> np.ndarray:
    """LLRs of ``bits`` sent as BPSK (0 -> +1, 1 -> -1) at Es/N0 ``esn0_db``.

    Parameters
    ----------
    bits : np.ndarray, any shape, 0/1 integers
        The bits sent.
    esn0_db : float
        Symbol energy over noise density, dB.
    rng : np.random.Generator
        Draws the noise (one standard normal per bit, in ``bits``' order).

    Returns
    -------
    np.ndarray, same shape as ``bits``, float32
        ``4 Es/N0 · y``: positive favours a 0 bit.
    """
    esn0 = 10 ** (esn0_db / 10)
    symbols = 1.0 - 2.0 * np.asarray(bits, dtype=np.float64)
    received = symbols + rng.standard_normal(symbols.shape) / np.sqrt(2 * esn0)
    return (4 * esn0 * received).astype(np.float32)
