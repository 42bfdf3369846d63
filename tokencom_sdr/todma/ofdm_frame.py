"""ToDMA frames on the OFDM numerology of :mod:`tokencom_sdr.phy`.

A frame of ``N`` slots is what every device sends, aligned on the
receiver's frame timing:

1. the PHY's two Schmidl & Cox preamble symbols
   (:meth:`~tokencom_sdr.phy.ofdm_params.OfdmParams.sync_words`), the same
   for every device, so the receiver sees them through the sum of the
   devices' channels: a composite channel it synchronises on;
2. ``ceil(N L / 48)`` data symbols: slot ``n``'s codeword occupies data
   subcarrier-symbols ``n L .. (n + 1) L - 1``, frequency first (the 48
   data carriers of one OFDM symbol, then the next symbol). Pilot carriers
   stay empty: summed over devices they would say nothing about any one of
   them.

Scaling: the inverse FFT is unitary, so a data carrier carries exactly the
codeword's symbol (power ``1/L`` on average for a unit-norm codeword) and
white noise of variance ``v`` per time sample is noise of variance ``v`` per
subcarrier-symbol: the SNR convention of :mod:`.transmitter` holds per data
subcarrier-symbol. The preamble is scaled to the data's power per active
carrier (``1/sqrt(L)``).

Receiving (:func:`synchronise_frame`): the PHY's own preamble processing
(:func:`~tokencom_sdr.phy.burst_decoding.synchronise_preamble`: fine CFO from
the halves of the first symbol, whole-carrier offset from the second, symbol
timing from the composite channel's impulse response) on the sum. The
Schmidl & Cox estimate from one symbol is too coarse for a frame: at 20 dB
its error (about 1e-4 cycles per sample) turns the channels by radians over
a 7,000-sample frame. So the pilots of every data symbol, correlated with
the composite channel of the second preamble symbol, give the common phase
of each symbol; a straight line fitted to those phases (the residual common
CFO) is taken off each symbol. Last, the composite channel's phase slope
over the carriers (the devices' common delay, a fraction of a sample, and
the FFT window's advance) is taken off every data carrier. What is left per device is its own residual: a timing offset
is a phase ramp over the carriers of a codeword, a CFO a phase that turns
from slot to slot. Neither is corrected per device (the receiver cannot
separate the devices before detection); :func:`tokencom_sdr.experiments`
measure what they cost.

Frame start (:func:`detect_frame_start`): gr-digital's C++ Schmidl & Cox
detector, the PHY receiver's (:class:`~tokencom_sdr.phy.OfdmBurstRx`), run
over the samples; its mark falls ``symbol_len - MARK_LEAD`` samples after
the frame's first sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..phy.burst_decoding import TIMING_PADDING, synchronise_preamble
from ..phy.ofdm_equalizer import (active_indices, carrier_indices, cut_symbols, pilot_rows,
                                  preamble_channel, timing_error, to_frequency_domain)
from ..phy.ofdm_params import OfdmParams
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD, MARK_LEAD

__all__ = ["FrameLayout", "frame_waveforms", "detect_frame_start", "synchronise_frame",
           "SynchronisedFrame", "PREAMBLE_SYMBOLS", "start_from_mark", "refine_synchronisation"]

#: Schmidl & Cox symbols at the head of every frame.
PREAMBLE_SYMBOLS = 2
#: Residual CFO (cycles per sample) the pilots find above which the symbols
#: are transformed again with the corrected offset.
REFFT_CFO = 2e-6


@dataclass(frozen=True)
class FrameLayout:
    """Where a frame's slots sit on the OFDM grid.

    Attributes
    ----------
    slots : int
        ``N``, slots (tokens per device) per frame.
    codeword_len : int
        ``L``, subcarrier-symbols per slot.
    params : OfdmParams
        The numerology (48 data carriers, FFT 64, prefix 16 by default).
    """

    slots: int
    codeword_len: int
    params: OfdmParams = OfdmParams()

    def __post_init__(self):
        if self.slots < 1 or self.codeword_len < 1:
            raise ValueError(f"need slots >= 1 and codeword_len >= 1, got {self.slots} "
                             f"and {self.codeword_len}")

    @property
    def data_symbols(self) -> int:
        """OFDM symbols the slots fill (the last one padded with zeros)."""
        per_symbol = len(self.params.data_carriers)
        return -(-self.slots * self.codeword_len // per_symbol)

    @property
    def ofdm_symbols(self) -> int:
        """Preamble and data symbols."""
        return PREAMBLE_SYMBOLS + self.data_symbols

    def slot_grid(self):
        """Where each slot symbol sits: carrier index (relative to DC) and
        data-symbol index, both ``(N, L)`` float64."""
        data_bins, _ = carrier_indices(self.params)
        index = np.arange(self.slots * self.codeword_len).reshape(self.slots, self.codeword_len)
        per_symbol = data_bins.size
        carriers = (data_bins - self.params.fft_len // 2)[index % per_symbol]
        return carriers.astype(np.float64), (index // per_symbol).astype(np.float64)

    @property
    def samples(self) -> int:
        """Time samples of a frame, cyclic prefixes and preamble included:
        its channel uses on the air."""
        return self.ofdm_symbols * self.params.symbol_len


def _to_time(spectra: np.ndarray, params: OfdmParams) -> np.ndarray:
    """Fft-shifted spectra ``(..., n_sym, fft_len)`` to samples with cyclic
    prefixes ``(..., n_sym * symbol_len)`` by a unitary inverse FFT."""
    symbols = np.fft.ifft(np.fft.ifftshift(spectra, axes=-1), axis=-1, norm="ortho")
    with_prefix = np.concatenate([symbols[..., -params.cp_len:], symbols], axis=-1)
    return with_prefix.reshape(spectra.shape[:-2] + (-1,))


def frame_waveforms(codebook: np.ndarray, tokens: np.ndarray, layout: FrameLayout) -> np.ndarray:
    """Every device's frame: preamble, then its codewords on the data carriers.

    Parameters
    ----------
    codebook : np.ndarray, shape ``(L, Q)``, complex
    tokens : np.ndarray, shape ``(K, N)``, integer
        Token of device ``k`` in slot ``n``.
    layout : FrameLayout

    Returns
    -------
    np.ndarray, shape ``(K, layout.samples)``, dtype ``complex128``
    """
    tokens = np.asarray(tokens, dtype=np.int64)
    params = layout.params
    if tokens.ndim != 2 or tokens.shape[1] != layout.slots:
        raise ValueError(f"need tokens (K, {layout.slots}), got {tokens.shape}")
    if codebook.shape[0] != layout.codeword_len:
        raise ValueError(f"a codebook of {codebook.shape[0]}-symbol codewords does not fit "
                         f"slots of {layout.codeword_len}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= codebook.shape[1]):
        raise ValueError(f"token ids must lie in [0, {codebook.shape[1]})")
    num_devices = tokens.shape[0]
    data_bins, pilot_bins = carrier_indices(params)
    per_symbol = data_bins.size
    stream = np.zeros((num_devices, layout.data_symbols * per_symbol), dtype=np.complex128)
    stream[:, :layout.slots * layout.codeword_len] = codebook.T[tokens].reshape(num_devices, -1)
    spectra = np.zeros((num_devices, layout.ofdm_symbols, params.fft_len), dtype=np.complex128)
    sync_1, sync_2 = params.sync_words()
    spectra[:, 0] = sync_1 / np.sqrt(layout.codeword_len)
    spectra[:, 1] = sync_2 / np.sqrt(layout.codeword_len)
    spectra[:, PREAMBLE_SYMBOLS:, data_bins] = stream.reshape(num_devices, -1, per_symbol)
    pilots = pilot_rows(0, layout.data_symbols) / np.sqrt(layout.codeword_len)
    spectra[:, PREAMBLE_SYMBOLS:, pilot_bins] = pilots[None]
    return _to_time(spectra, params)


def start_from_mark(mark: int, params: OfdmParams = OfdmParams()) -> int:
    """The frame's first sample from the index where gr-digital's Schmidl &
    Cox detector (``ofdm_sync_sc_cfb``) marked it."""
    return int(mark) - (params.symbol_len - MARK_LEAD)


def detect_frame_start(samples: np.ndarray, params: OfdmParams = OfdmParams(),
                       threshold: float = DEFAULT_SYNC_THRESHOLD) -> int:
    """Index of the first frame's first sample, from the PHY's C++ detector.

    Parameters
    ----------
    samples : np.ndarray, shape ``(m,)``, complex
    params : OfdmParams
    threshold : float
        Schmidl & Cox timing-metric threshold in (0, 1).

    Returns
    -------
    int
        The estimate (within a few samples; :func:`synchronise_frame`
        corrects it).

    Raises
    ------
    ValueError
        When the detector finds no preamble.
    """
    from gnuradio import blocks, digital, gr

    samples = np.asarray(samples, dtype=np.complex64).reshape(-1)
    top = gr.top_block("todma_frame_sync")
    source = blocks.vector_source_c(samples.tolist(), False)
    detector = digital.ofdm_sync_sc_cfb(params.fft_len, params.cp_len, False, threshold)
    triggers = blocks.vector_sink_b()
    top.connect(source, detector)
    top.connect((detector, 0), blocks.null_sink(4))
    top.connect((detector, 1), triggers)
    top.run()
    marks = np.flatnonzero(np.asarray(triggers.data(), dtype=np.uint8))
    if marks.size == 0:
        raise ValueError("no ToDMA frame preamble found in the samples")
    return start_from_mark(marks[0], params)


@dataclass
class SynchronisedFrame:
    """A frame's slots after synchronisation, with what the preamble said.

    Attributes
    ----------
    slots : np.ndarray, shape ``(N, L)``, dtype ``complex128``
        One row per slot: the data subcarrier-symbols of its codeword.
    start : int
        Index of the frame's first sample, timing corrected.
    cfo : float
        Common frequency offset removed, cycles per sample (preamble and
        pilot fit together).
    delay : float
        Common delay taken off the carriers (the composite channel's phase
        slope), samples, relative to the FFT window.
    """

    slots: np.ndarray
    start: int
    cfo: float
    delay: float


def _phase_slope(channel: np.ndarray, params: OfdmParams) -> float:
    """Phase step from one carrier to the next of a (composite) channel,
    radians per carrier.

    A coarse step from neighbouring active carriers first (free of phase
    wraps), then a weighted straight-line fit of the remaining phase over
    all active carriers: the fit's leverage over the whole band makes it
    about 20 times more precise than the neighbours' average (at 20 dB, a
    few thousandths of a sample against a few hundredths, which alone would
    cost a noise's worth of error on the outer carriers).
    """
    active = active_indices(params)
    neighbours = active[np.flatnonzero(np.diff(active) == 1)]
    coarse = float(np.angle(np.sum(channel[neighbours + 1] * np.conj(channel[neighbours]))))
    carriers = active - params.fft_len // 2
    values = channel[active] * np.exp(-1j * coarse * carriers)
    phases = np.angle(values * np.conj(np.sum(values)))
    fine = np.polyfit(carriers, phases, 1, w=np.abs(values))[0]
    return coarse + float(fine)


def _pilot_phases(spectra: np.ndarray, channel: np.ndarray, carrier_offset: int,
                  params: OfdmParams) -> np.ndarray:
    """Common phase of each data symbol against the preamble, from its pilots
    seen through the composite ``channel``: a straight line fitted to the
    unwrapped phases (a residual CFO), radians, shape ``(n_data,)``."""
    _, pilot_bins = carrier_indices(params)
    data = spectra[PREAMBLE_SYMBOLS:]
    expected = channel[pilot_bins][None, :] * pilot_rows(0, data.shape[0])
    measured = np.sum(data[:, pilot_bins + carrier_offset] * np.conj(expected), axis=1)
    phases = np.unwrap(np.angle(measured))
    weights = np.abs(measured)
    index = np.arange(data.shape[0], dtype=np.float64) + 1.0  # symbols after the channel's
    if data.shape[0] == 1:
        return phases
    slope, intercept = np.polyfit(index, phases, 1, w=np.sqrt(weights))
    return slope * index + intercept


def synchronise_frame(samples: np.ndarray, start: int, layout: FrameLayout) -> SynchronisedFrame:
    """Timing, CFO and the slots of one frame (module docstring).

    Parameters
    ----------
    samples : np.ndarray, shape ``(m,)``, complex
        Received samples holding the frame, with at least ``TIMING_PADDING``
        samples either side of it.
    start : int
        Estimated index of the frame's first sample
        (:func:`detect_frame_start`).
    layout : FrameLayout

    Returns
    -------
    SynchronisedFrame
    """
    params = layout.params
    samples = np.asarray(samples, dtype=np.complex64).reshape(-1)
    first, last = start - TIMING_PADDING, start + layout.samples + TIMING_PADDING
    if first < 0 or last > samples.size:
        raise ValueError(f"a frame of {layout.samples} samples at {start} needs samples "
                         f"{first}..{last}, only {samples.size} given")
    fine_cfo, spectra, carrier_offset, channel = synchronise_preamble(
        samples, start, params, layout.ofdm_symbols)
    correction = int(np.clip(timing_error(channel, params), -TIMING_PADDING, TIMING_PADDING))
    if correction:
        start += correction
        fine_cfo, spectra, carrier_offset, channel = synchronise_preamble(
            samples, start, params, layout.ofdm_symbols)
    phases = _pilot_phases(spectra, channel, carrier_offset, params)
    residual_cfo = 0.0 if phases.size < 2 else (phases[1] - phases[0]) / (2 * np.pi * params.symbol_len)
    if abs(residual_cfo) > REFFT_CFO:
        # The pilots saw a frequency error the first symbol missed (its
        # estimate is poor when the devices' gains nearly cancel in the
        # sum): rotating the spectra would leave the inter-carrier
        # interference of 1e-4 cycles per sample, several times the noise
        # at 20 dB, so the symbols are transformed again.
        fine_cfo += residual_cfo
        spectra = to_frequency_domain(cut_symbols(samples, start, layout.ofdm_symbols, params),
                                      0, fine_cfo, params)
        channel = preamble_channel(spectra[1], params.sync_words()[1].astype(np.complex64),
                                   carrier_offset, params)
        phases = _pilot_phases(spectra, channel, carrier_offset, params)
    slope = _phase_slope(channel, params)
    data_bins, _ = carrier_indices(params)
    half = params.fft_len // 2
    # Unitary FFT scale; the common phase ramp over the carriers and the
    # common phase of each symbol off.
    derotation = (np.exp(-1j * slope * (data_bins - half))[None, :]
                  * np.exp(-1j * phases)[:, None] / np.sqrt(params.fft_len))
    data = spectra[PREAMBLE_SYMBOLS:, data_bins + carrier_offset] * derotation
    residual_cfo = 0.0 if phases.size < 2 else (phases[1] - phases[0]) / (2 * np.pi * params.symbol_len)
    used = layout.slots * layout.codeword_len
    return SynchronisedFrame(
        slots=data.reshape(-1)[:used].reshape(layout.slots, layout.codeword_len).astype(np.complex128),
        start=int(start), cfo=float(fine_cfo + carrier_offset / params.fft_len + residual_cfo),
        delay=float(-slope * params.fft_len / (2 * np.pi)))


def refine_synchronisation(slots: np.ndarray, model: np.ndarray, layout: FrameLayout):
    """The common delay and CFO left after the preamble, from decided data.

    The preamble and pilots see the devices through their *sum*, which fades
    like one Rayleigh channel: when the devices' gains nearly cancel (|sum|^2
    a few percent of the total) the delay slope and the pilot phases come out
    noisy, and a few hundredths of a sample or of a radian over the frame
    are enough to blur every cluster. The decided tokens carry every
    device's energy instead: with ``model`` the slots those decisions
    predict, the phase of ``slots * conj(model)`` is fitted, weighted by
    ``|model|^2``, as ``a * carrier + b * symbol + c`` (a common delay and a
    common CFO), and the fitted ramp is returned to take off.

    Parameters
    ----------
    slots : np.ndarray, shape ``(N, L)``, complex
        Synchronised slots (:attr:`SynchronisedFrame.slots`).
    model : np.ndarray, shape ``(N, L)``, complex
        What the receiver's decisions predict: ``sum_k c_k U[:, t_kn]``.
    layout : FrameLayout

    Returns
    -------
    np.ndarray, shape ``(N, L)``, dtype ``complex128``
        ``exp(-j (a carrier + b symbol + c))``: multiply the slots by it.
    """
    carriers, symbols = layout.slot_grid()
    product = slots * np.conj(model)
    weight = np.abs(model).ravel() ** 2
    # Phases about the mean first (no wrap for errors under about a radian).
    phases = np.angle(product * np.conj(np.sum(product))).ravel()
    design = np.column_stack([carriers.ravel(), symbols.ravel(), np.ones(carriers.size)])
    root = np.sqrt(weight)[:, None]
    coefficients = np.linalg.lstsq(design * root, phases * root[:, 0], rcond=None)[0]
    ramp = (design @ coefficients).reshape(slots.shape) + np.angle(np.sum(product))
    return np.exp(-1j * ramp)
