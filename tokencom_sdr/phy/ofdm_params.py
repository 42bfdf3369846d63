"""OFDM numerology shared by the transmitter and the receiver.

FFT 64, cyclic prefix 16, the 802.11a-like layout used by gr-digital's stock
OFDM examples: 48 data carriers, 4 pilots, DC and the band edges empty.
Both preamble symbols are generated from a fixed seed so that TX and RX agree
without exchanging anything.
"""

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

FFT_LEN = 64
CP_LEN = 16

# Carrier indices relative to DC (negative = below the centre frequency).
DATA_CARRIERS: Tuple[int, ...] = tuple(
    list(range(-26, -21)) + list(range(-20, -7)) + list(range(-6, 0))
    + list(range(1, 7)) + list(range(8, 21)) + list(range(22, 27)))
PILOT_CARRIERS: Tuple[int, ...] = (-21, -7, 7, 21)


def _pilot_polarity() -> np.ndarray:
    """Period-127 +/-1 sequence from the 802.11 scrambler LFSR x^7 + x^4 + 1
    (all-ones seed), so pilots do not form a spectral line."""
    state = [1] * 7
    out = []
    for _ in range(127):
        bit = state[3] ^ state[6]
        out.append(1 - 2 * bit)
        state = [bit] + state[:6]
    return np.array(out, dtype=int)


_PILOT_POLARITY = _pilot_polarity()

LENGTH_TAG = "packet_len"
FRAME_LENGTH_TAG = "frame_len"
_SYNC_SEED = 0x70C0  # fixed: TX and RX must build identical preambles


def _active_bins(fft_len: int) -> List[int]:
    """FFT bins (0..fft_len-1) that ever carry energy."""
    return [c % fft_len for c in DATA_CARRIERS + PILOT_CARRIERS]


def make_sync_word_1(fft_len: int = FFT_LEN) -> np.ndarray:
    """Schmidl & Cox timing symbol in the frequency domain (fft-shifted).

    Only odd bins are used, so the time-domain symbol consists of two equal
    halves; those bins are scaled by sqrt(2) to keep the symbol energy equal
    to a data symbol's.

    Returns
    -------
    np.ndarray, shape ``(fft_len,)``, dtype ``complex128``
    """
    rng = np.random.RandomState(_SYNC_SEED)
    active = set(_active_bins(fft_len))
    word = np.zeros(fft_len, dtype=complex)
    for b in range(fft_len):
        if b in active and b % 2 == 1:
            word[b] = np.sqrt(2) * (1 - 2 * rng.randint(2))
    return np.fft.fftshift(word)


def make_sync_word_2(fft_len: int = FFT_LEN) -> np.ndarray:
    """Second preamble symbol, all active bins: coarse CFO and channel estimate.

    Returns
    -------
    np.ndarray, shape ``(fft_len,)``, dtype ``complex128``
    """
    rng = np.random.RandomState(_SYNC_SEED + 1)
    active = set(_active_bins(fft_len))
    word = np.zeros(fft_len, dtype=complex)
    for b in range(1, fft_len):
        if b in active:
            word[b] = 1 - 2 * rng.randint(2)
    return np.fft.fftshift(word)


def make_pilot_symbols() -> Tuple[Tuple[int, int, int, int], ...]:
    """Pilot values per OFDM symbol, cycling through the polarity sequence."""
    return tuple((int(p), int(p), int(p), -int(p)) for p in _PILOT_POLARITY)


@dataclass(frozen=True)
class OfdmParams:
    """Numerology and framing of one OFDM link.

    Attributes
    ----------
    fft_len, cp_len : int
        FFT size and cyclic prefix length in samples.
    data_carriers, pilot_carriers : tuple of int
        Carrier indices relative to DC.
    gap_len : int
        Zero samples appended after every burst. It separates bursts (so the
        receiver's sync metric falls between them) and, after the last burst,
        flushes the receiver's pipeline so a finite run keeps its last frame.
    """

    fft_len: int = FFT_LEN
    cp_len: int = CP_LEN
    data_carriers: Tuple[int, ...] = DATA_CARRIERS
    pilot_carriers: Tuple[int, ...] = PILOT_CARRIERS
    gap_len: int = 400

    def __post_init__(self):
        # The receiver looks its cached tables up by these parameters several
        # times a burst; hashing the carrier tuples anew each time would cost
        # about 0.5 us a lookup. (Frozen: the hash cannot go stale.)
        object.__setattr__(self, "_hash", hash((self.fft_len, self.cp_len, tuple(self.data_carriers),
                                                tuple(self.pilot_carriers), self.gap_len)))

    def __hash__(self):
        return self._hash

    @property
    def occupied_carriers(self) -> Tuple[Tuple[int, ...], ...]:
        return (tuple(self.data_carriers),)

    @property
    def pilot_carriers_per_symbol(self) -> Tuple[Tuple[int, ...], ...]:
        return (tuple(self.pilot_carriers),)

    @property
    def symbol_len(self) -> int:
        return self.fft_len + self.cp_len

    @property
    def n_active_carriers(self) -> int:
        return len(self.data_carriers) + len(self.pilot_carriers)

    @property
    def tx_scale(self) -> float:
        """Scale after the unnormalised IFFT that gives bursts unit mean power.

        The IFFT output's mean power per sample equals the sum of the carrier
        powers (Parseval), i.e. the number of active unit-power carriers.
        """
        return 1.0 / np.sqrt(self.n_active_carriers)

    def sync_words(self) -> Tuple[np.ndarray, np.ndarray]:
        return make_sync_word_1(self.fft_len), make_sync_word_2(self.fft_len)
