"""One received burst, decoded in numpy: first its header, then its payload.

The receiver block (:mod:`.burst_decoder_block`) cuts a burst out of the
sample stream where the Schmidl & Cox detector triggered and calls these two
steps, for the bursts a chunk of samples completes as batches (each burst
decoded exactly as it would be alone). They have no GNU Radio state, so they
can be tested and timed on plain arrays.

Header (:func:`decode_header_window`, or :func:`decode_header_windows` for
several at once): the fine frequency offset from the
halves of the first preamble symbol (latched per burst, so a later false
trigger cannot change it mid-burst as it would a free-running mixer); FFT;
the whole-carrier offset and the channel from the second preamble symbol;
symbol timing from the channel's impulse response (the detector's mark
wanders by several samples at low SNR), and a second pass cut at the
corrected timing; equalisation and LDPC decoding of the header; then, with
the header known, a refined channel, phase reference and noise estimate for
the payload.

Payload (:func:`decode_payload_samples`, or :func:`decode_payloads` for
several bursts of one MCS and size at once): FFT with the same frequency
correction (the phase ramp runs on from the header), equalisation anchored on
the header's phase, noise pooled from pilots and header, max-log LLRs and
decoding with the header's MCS.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .channel_tracking import MAX_DEGREE, track_channel
from .burst_mapping import (HEADER_OFDM_SYMBOLS, header_symbols, headers_from_symbols, midamble_rows,
                            midamble_symbols, payload_ofdm_symbols, payloads_from_symbols)
from .mcs import MCS_BY_INDEX, Mcs
from .ofdm_equalizer import (channel_fit_share, cut_symbols, equalize_bursts,
                             fine_frequency_offset,
                             integer_carrier_offset, preamble_channel, preamble_correlation,
                             refine_channel, smooth_channel, timing_error, to_frequency_domain)
from .ofdm_params import OfdmParams
from .payload_code import DecodedPayload
from .phy_header import HEADER_CODED_BITS, PhyHeader
from .qam import nearest_points

PREAMBLE_SYMBOLS = 2
SYMBOLS_PER_HEADER = PREAMBLE_SYMBOLS + HEADER_OFDM_SYMBOLS
#: Raw samples taken before and after each header, so that the symbol timing
#: can be corrected by up to this much in either direction.
TIMING_PADDING = 24
#: Rounds of channel tracking and decoding for a payload whose first
#: decoding failed (each round starts from the previous one's decisions).
#: Measured on ETU at 300 Hz (qpsk-1/2 at 18 and 24 dB, 16qam-1/2 at
#: 24 dB, 8,000 packets decoded again): 18 / 16 / 11 / 11 failures with
#: 3 / 4 / 6 / 8 rounds. Only failed bursts pay; those the rounds fix
#: mostly need fewer (at 8 dB, where many fail for good, a tracked burst
#: costs about what it did with 3 rounds of the older tracker).
TRACKING_PASSES = 6
#: Rounds of re-estimation from the decoder's posteriors for a failed
#: payload whose channel did not move, and the degree in time it allows
#: (1: a slow drift or a residual frequency offset). Measured near the AWGN
#: thresholds (300 packets, CFO 0.005): PER qpsk-1/2 at 2 dB 14 % -> 3.7 %,
#: 16qam-1/2 at 7 dB 19 % -> 2.3 %, 64qam-2/3 at 16 dB 4 % -> 0.3 %.
REFINE_PASSES = 2
STILL_DEGREE = 1
#: Tracking is tried when the pilots' residual over the payload is at least
#: this many times the header's noise: the channel moved. Measured
#: (qpsk-1/2, 150 bursts each): AWGN at 1 dB, all bursts failing, 0.6-1.7;
#: ETU at 300 Hz and 14 dB, the failed bursts tracking fixed, 2.0-27.
TRACKING_MIN_DRIFT = 1.8


@dataclass(frozen=True)
class BurstHeader:
    """A decoded header and what it lets the receiver know about its burst.

    Attributes
    ----------
    header : PhyHeader
        The decoded fields (payload bytes, MCS index, packet number).
    mcs : Mcs
        The payload's MCS.
    timing_correction : int
        Samples by which the burst starts later than the window assumed
        (negative: earlier). The payload starts that much later too.
    payload_ofdm_symbols : int
        OFDM symbols of payload after the header.
    fine_cfo : float
        Frequency offset removed before every FFT, cycles per sample.
    carrier_offset : int
        Whole-carrier offset: carrier ``c`` sits in bin ``c + carrier_offset``.
    channel : np.ndarray, shape ``(fft_len,)``, dtype ``complex64``
        Channel per carrier (fft-shifted), from preamble and header.
    anchor : np.ndarray, shape ``(1 + HEADER_OFDM_SYMBOLS,)``, dtype ``complex64``
        Phase references of the second preamble symbol and the header
        symbols, for the payload's phase tracking.
    noise_power : float
        Noise variance per FFT bin, from the header's residuals.
    snr_db : float
        Burst SNR estimate, comparable to the channel's ``snr_db``.
    cfo : float
        Total frequency offset, normalised to the sample rate: fine estimate
        + whole carriers + the residual seen on the header.
    header_fft : np.ndarray, shape ``(1 + HEADER_OFDM_SYMBOLS, fft_len)``, dtype ``complex64``
        FFTs of the second preamble symbol and the header symbols, for
        channel tracking (:mod:`.channel_tracking`).
    header_rotation : np.ndarray, shape ``(HEADER_OFDM_SYMBOLS,)``, dtype ``complex64``
        Common phase of each header symbol relative to ``channel``.
    """

    header: PhyHeader
    mcs: Mcs
    timing_correction: int
    payload_ofdm_symbols: int
    fine_cfo: float
    carrier_offset: int
    channel: np.ndarray
    anchor: np.ndarray
    noise_power: float
    snr_db: float
    cfo: float
    header_fft: np.ndarray
    header_rotation: np.ndarray


@dataclass(frozen=True)
class BurstDiagnostics:
    """What a user tuning a live link wants to see of one burst.

    Attributes
    ----------
    evm_db : np.ndarray, shape ``(n_payload_ofdm_symbols,)``, dtype ``float32``
        Error vector magnitude of each payload OFDM symbol against the
        nearest constellation points (midambles: against what they carry),
        dB relative to the constellation's power. A rising EVM across the
        burst is a channel that moves within it.
    channel_change : float or None
        For a burst whose channel was tracked: the energy of the channel's
        change from the first to the last symbol over its mean energy (0
        static, about 2 for unrelated channels). None when the first
        decoding succeeded and no tracking was needed.
    doppler : float or None
        With ``channel_change``: the maximum Doppler shift, normalised to the
        sample rate, for which a Jakes channel decorrelates that much over
        the burst (``J0(2 pi f_D t)`` = correlation). Noise adds to the
        measured change, so at low SNR it reads high; beyond the first zero
        of ``J0`` it is a lower bound.
    drift_db : float or None
        Every burst: the pilots' residual over the payload, against the
        constant channel of the header, over the header's noise, in dB.
        About 0-2 dB on a static channel; more when the channel moves
        within the burst (what decides whether tracking is tried).
    """

    evm_db: np.ndarray
    channel_change: Optional[float] = None
    doppler: Optional[float] = None
    drift_db: Optional[float] = None


@lru_cache(maxsize=1)
def _j0_table():
    """``J0`` on ``[0, first zero]`` (decreasing), for inverting it."""
    from scipy.special import j0
    x = np.linspace(0.0, 2.404825557695773, 512)
    return x, j0(x)


def doppler_from_change(channel_change: float, n_symbols: int, params: OfdmParams) -> float:
    """Normalised maximum Doppler from a tracked burst's channel change
    over ``n_symbols`` OFDM symbols (see :attr:`BurstDiagnostics.doppler`)."""
    x, j0 = _j0_table()
    correlation = 1.0 - 0.5 * channel_change
    argument = float(np.interp(correlation, j0[::-1], x[::-1]))
    return argument / (2 * np.pi * max(n_symbols, 1) * params.symbol_len)


def _evm_per_symbol(symbols: np.ndarray, mcs: Mcs, params: OfdmParams) -> np.ndarray:
    """EVM in dB of each OFDM symbol of equalised payloads,
    ``(n_bursts, n_sym * n_data)`` -> ``(n_bursts, n_sym)`` float32.

    Against the nearest constellation point (midambles: what they carry),
    a few array operations for the whole batch: diagnostics must not slow
    the receiver."""
    n_bursts, n_data = symbols.shape[0], len(params.data_carriers)
    y = np.asarray(symbols, dtype=np.complex64).reshape(n_bursts, -1, n_data)
    nearest = nearest_points(y, mcs.constellation)
    rows = midamble_rows(y.shape[1], mcs.midamble_period)
    if rows.any():
        nearest[:, rows] = midamble_symbols(params)
    error = np.abs(y - nearest) ** 2
    return (10 * np.log10(np.maximum(error.mean(axis=2), 1e-12))).astype(np.float32)


def _decodable_snr_db(mcs: Mcs) -> float:
    """1 dB under the Shannon limit of the MCS's information bits per
    symbol: a burst whose SNR estimate is lower cannot be decoded by any
    receiver, and is not worth more decodings."""
    return 10 * np.log10(2.0 ** mcs.info_bits_per_symbol - 1.0) - 1.0


def header_window_length(params: OfdmParams) -> int:
    """Samples :func:`decode_header_window` takes: preamble and header
    symbols with their cyclic prefixes, plus the padding either side."""
    return SYMBOLS_PER_HEADER * params.symbol_len + 2 * TIMING_PADDING


@lru_cache(maxsize=4)
def _sync_word_2(params: OfdmParams) -> np.ndarray:
    return params.sync_words()[1].astype(np.complex64)


def synchronise_preamble(samples: np.ndarray, start, params: OfdmParams,
                         n_symbols: int = SYMBOLS_PER_HEADER):
    """Fine CFO, FFTs of the preamble and following symbols, whole-carrier
    offset and raw preamble channel, with the first symbol cut at ``start``;
    of one burst, or of several (rows of ``samples``) at once.

    Parameters
    ----------
    samples : np.ndarray, shape ``([n_bursts,] m)``, complex
        Raw samples holding the burst.
    start : int, or np.ndarray of shape ``(n_bursts,)``, int
        Index of the first preamble symbol's cyclic prefix (in every row,
        or per row).
    params : OfdmParams
    n_symbols : int
        OFDM symbols to cut and transform, the two preamble symbols first
        (the header's by default; a ToDMA frame's data symbols too).

    Returns
    -------
    fine_cfo : float, or np.ndarray of shape ``(n_bursts,)``
        Cycles per sample (:func:`~.ofdm_equalizer.fine_frequency_offset`).
    fft_symbols : np.ndarray, shape ``([n_bursts,] n_symbols, fft_len)``, complex64
        Fft-shifted spectra, the fine offset removed.
    carrier_offset : int, or np.ndarray of shape ``(n_bursts,)``
        Whole-carrier offset left.
    raw_channel : np.ndarray, shape ``([n_bursts,] fft_len)``, complex64
        Least-squares channel of the second preamble symbol.
    """
    time_symbols = cut_symbols(samples, start, n_symbols, params)
    fine_cfo = fine_frequency_offset(time_symbols[..., 0, :])
    fft_symbols = to_frequency_domain(time_symbols, 0, fine_cfo, params)
    carrier_offset = integer_carrier_offset(fft_symbols[..., 1, :], _sync_word_2(params), params)
    raw_channel = preamble_channel(fft_symbols[..., 1, :], _sync_word_2(params), carrier_offset, params)
    return fine_cfo, fft_symbols, carrier_offset, raw_channel


def decode_header_window(samples: np.ndarray, params: OfdmParams) -> Optional[BurstHeader]:
    """Synchronise to a burst and decode its header.

    Parameters
    ----------
    samples : np.ndarray, shape ``(header_window_length(params),)``, complex64
        Raw samples; the first preamble symbol's cyclic prefix is expected at
        index ``TIMING_PADDING``, give or take the padding.
    params : OfdmParams

    Returns
    -------
    BurstHeader, or None when the header fails its CRC or names an unknown
    MCS (a false trigger, or a burst too noisy to decode).
    """
    return decode_header_windows(np.asarray(samples)[None, :], params)[0]


def decode_header_windows(windows: np.ndarray, params: OfdmParams) -> List[Optional[BurstHeader]]:
    """:func:`decode_header_window` of several windows, in one pass of numpy
    calls: each step's fixed cost, most of what a header costs, is paid once
    for the batch. Every step works on each row alone, so a window decodes
    the same whichever others share its batch.

    Parameters
    ----------
    windows : np.ndarray, shape ``(n_windows, header_window_length(params))``, complex64
    params : OfdmParams

    Returns
    -------
    list of BurstHeader or None, one per window
    """
    windows = np.asarray(windows, dtype=np.complex64)
    if windows.ndim != 2 or windows.shape[1] != header_window_length(params):
        raise ValueError(f"header windows must be rows of {header_window_length(params)} samples, "
                         f"got shape {windows.shape}")
    sync_word_2 = _sync_word_2(params)
    padding = np.full(len(windows), TIMING_PADDING)
    fine_cfo, fft_symbols, carrier_offset, raw_channel = synchronise_preamble(windows, padding, params)
    correction = np.clip(timing_error(raw_channel, params), -TIMING_PADDING, TIMING_PADDING)
    # Every timing error is cut away, even the sample or two the channel
    # estimate could absorb: the detector's trigger falls that far apart with
    # how the stream arrives in work() calls, and only a cut at the measured
    # timing makes a replayed recording decode exactly as it did live (about
    # 4 % more receiver instructions at 30 dB; PER unchanged).
    moved = np.flatnonzero(correction)
    if moved.size:
        (fine_cfo[moved], fft_symbols[moved], carrier_offset[moved],
         raw_channel[moved]) = synchronise_preamble(windows[moved], padding[moved] + correction[moved], params)
    channel = smooth_channel(raw_channel, params)
    header_fft = fft_symbols[:, PREAMBLE_SYMBOLS:]
    anchor = preamble_correlation(fft_symbols[:, 1], sync_word_2, channel, carrier_offset, params)
    burst = equalize_bursts(header_fft, channel, carrier_offset, 0, params, anchor=anchor[:, None])
    headers = headers_from_symbols(burst.symbols, burst.noise_var)
    decoded = [j for j, header in enumerate(headers) if header is not None and header.mcs_index in MCS_BY_INDEX]
    results: List[Optional[BurstHeader]] = [None] * len(windows)
    if not decoded:
        return results
    # The decoded header is a known training sequence: it triples the
    # observations behind the channel estimate the payload will use,
    # anchors the payload's phase, and gives a noise estimate far better
    # than 8 pilots alone.
    fft_symbols, header_fft, carrier_offset = fft_symbols[decoded], header_fft[decoded], carrier_offset[decoded]
    known = np.stack([header_symbols(headers[j]) for j in decoded])
    channel = refine_channel(header_fft, raw_channel[decoded], carrier_offset, 0, known,
                             burst.rotation[decoded], params)
    anchor = preamble_correlation(fft_symbols[:, 1], sync_word_2, channel, carrier_offset, params)
    burst = equalize_bursts(header_fft, channel, carrier_offset, 0, params, known_data=known,
                            anchor=anchor[:, None])
    # The refined channel was fitted to these same header symbols, so
    # their residual underestimates the noise by the share of degrees of
    # freedom the fit used (delays over observations).
    noise = burst.noise_power / (1.0 - channel_fit_share(params, HEADER_OFDM_SYMBOLS + 1))
    snr_db = burst.snr_db - 10 * np.log10(noise / burst.noise_power)
    residual = burst.phase_slope / (2 * np.pi * params.symbol_len)
    anchors = np.concatenate([anchor[:, None], burst.correlation], axis=1).astype(np.complex64)
    for i, j in enumerate(decoded):
        header, mcs = headers[j], MCS_BY_INDEX[headers[j].mcs_index]
        results[j] = BurstHeader(
            header=header, mcs=mcs, timing_correction=int(correction[j]),
            payload_ofdm_symbols=payload_ofdm_symbols(header.payload_bytes, mcs, params),
            fine_cfo=float(fine_cfo[j]), carrier_offset=int(carrier_offset[i]), channel=channel[i],
            anchor=anchors[i], noise_power=float(noise[i]), snr_db=float(snr_db[i]),
            cfo=float(fine_cfo[j] + carrier_offset[i] / params.fft_len + residual[i]),
            header_fft=fft_symbols[i, 1:], header_rotation=burst.rotation[i])
    return results


def decode_payload_samples(samples: np.ndarray, burst: BurstHeader, params: OfdmParams,
                           channel_tracking: bool = True) -> Tuple[np.ndarray, DecodedPayload, BurstDiagnostics]:
    """Equalise, demap and decode a burst's payload.

    Parameters
    ----------
    samples : np.ndarray, shape ``(burst.payload_ofdm_symbols * symbol_len,)``, complex64
        Raw payload samples (cyclic prefixes kept), from the first payload
        symbol's prefix as the header's timing places it.
    burst : BurstHeader
        The burst's decoded header.
    params : OfdmParams
    channel_tracking : bool
        Track the channel across the payload when the first decoding
        fails (:mod:`.channel_tracking`); False only to measure what it brings.

    Returns
    -------
    symbols : np.ndarray, shape ``(n_sym * n_data,)``, dtype ``complex64``
        The equalised payload symbols (filler and midambles included), for a display.
    decoded : DecodedPayload
    diagnostics : BurstDiagnostics
    """
    return decode_payloads([samples], [burst], params, channel_tracking)[0]


def decode_payloads(samples: Sequence[np.ndarray], bursts: Sequence[BurstHeader], params: OfdmParams,
                    channel_tracking: bool = True) -> List[Tuple[np.ndarray, DecodedPayload, BurstDiagnostics]]:
    """:func:`decode_payload_samples` for bursts of the same MCS and payload
    size, in one pass of numpy calls: each step's fixed cost is paid once
    for the batch instead of once per burst.

    Returns
    -------
    list of ``(symbols, decoded, diagnostics)``, one per burst, in order
    """
    first = bursts[0]
    if any(b.mcs != first.mcs or b.header.payload_bytes != first.header.payload_bytes for b in bursts):
        raise ValueError("a payload batch must share its MCS and payload size")
    n_sym = first.payload_ofdm_symbols
    fine_cfo = np.array([b.fine_cfo for b in bursts])
    fft_symbols = to_frequency_domain(cut_symbols(np.stack(samples), 0, n_sym, params), SYMBOLS_PER_HEADER,
                                      fine_cfo, params)
    equalized = equalize_bursts(fft_symbols, np.stack([b.channel for b in bursts]),
                                np.array([b.carrier_offset for b in bursts]), HEADER_OFDM_SYMBOLS, params,
                                anchor=np.stack([b.anchor for b in bursts]))
    # Pool the pilot residuals with the header's data-aided estimate.
    pilot_samples = len(params.pilot_carriers) * n_sym
    header_samples = HEADER_CODED_BITS + HEADER_OFDM_SYMBOLS * len(params.pilot_carriers)
    header_noise = np.array([b.noise_power for b in bursts])
    pooled = ((header_noise * header_samples + equalized.noise_power * pilot_samples)
              / (header_samples + pilot_samples))
    noise_var = equalized.noise_var * (pooled / equalized.noise_power).astype(np.float32)[:, None]
    decoded = payloads_from_symbols(equalized.symbols, noise_var, first.header.payload_bytes, first.mcs,
                                    params)
    symbols = list(equalized.symbols)
    change = [None] * len(bursts)
    # Bursts the first decoding could not fix get their channel estimated
    # again from every symbol, with the decisions now at hand, and are
    # decoded again while that keeps fixing some (a working link's bursts
    # never get here; a burst below the Shannon limit is not tried). If the
    # pilots saw the channel move, it is tracked symbol by symbol from the
    # header, each round with what the last decoding learnt of every bit
    # from the others (a mobile MCS: between its midambles, then from the
    # decoder's posteriors); if not, re-estimated at once from the
    # decoder's posteriors as (nearly) constant over the burst.
    drift = equalized.noise_power / header_noise
    candidates = [j for j, d in enumerate(decoded) if channel_tracking and not d.fec_ok
                  and d.coded_llr is not None and bursts[j].snr_db >= _decodable_snr_db(first.mcs)]
    moving = [j for j in candidates if drift[j] >= TRACKING_MIN_DRIFT or first.mcs.midamble_period]
    still = [j for j in candidates if j not in moving]
    for group, passes, max_degree, decide_first in ((moving, TRACKING_PASSES, MAX_DEGREE, True),
                                                    (still, REFINE_PASSES, STILL_DEGREE, False)):
        for retry in range(passes):
            if not group:
                break
            posteriors = np.stack([decoded[j].coded_llr for j in group])
            decisions = extrinsic = None
            if decide_first and not first.mcs.midamble_period:
                # Forward from the header every round: decisions from the
                # posteriors would keep wherever the last round lost track.
                if retry:
                    extrinsic = posteriors - np.stack([decoded[j].channel_llr for j in group])
            elif retry or not decide_first:
                decisions = posteriors
            tracked = track_channel(fft_symbols[group], equalized.rotation[group], decisions,
                                    [bursts[j] for j in group], first.mcs, params, max_degree, extrinsic)
            again = payloads_from_symbols(tracked.symbols, tracked.noise_var, first.header.payload_bytes,
                                          first.mcs, params)
            for j, symbols_j, decoded_j, change_j in zip(group, tracked.symbols, again, tracked.channel_change):
                symbols[j], decoded[j], change[j] = symbols_j, decoded_j, float(change_j)
            group = [j for j, d in zip(group, again) if not d.fec_ok]
    evm = _evm_per_symbol(np.stack(symbols), first.mcs, params)
    # The tracked channel spans the second preamble symbol to the last payload symbol.
    span = n_sym + HEADER_OFDM_SYMBOLS
    drift_db = 10 * np.log10(np.maximum(drift, 1e-12))
    return [(s, d, BurstDiagnostics(e, c, None if c is None else doppler_from_change(c, span, params), float(r)))
            for s, d, e, c, r in zip(symbols, decoded, evm, change, drift_db)]
