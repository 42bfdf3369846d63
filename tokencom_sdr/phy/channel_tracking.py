"""Channel tracking across a burst, in numpy.

The first decoding of a payload equalises every symbol with one channel,
estimated from the preamble and the header (:mod:`.burst_decoding`), and
tracks only a common phase from the pilots. On a static channel that is all
there is. On a moving one (300 Hz of Doppler: the channel decorrelates to
about 0.3 over a 1 ms burst) the channel drifts away from that estimate
over the payload, and errors pile up towards the burst's end: a PER floor
that more SNR does not remove.

When the first LDPC decoding fails, :func:`track_channel` estimates the
channel again as it was during every symbol:

1. first decisions, soft (posterior mean and energy of each symbol, so an
   unsure one weighs little): symbol by symbol from the header on, each
   with the channel extrapolated from the three symbols just before
   (:func:`_decide_forward`); or, in a mobile MCS, with the channel
   interpolated between the known preamble, header and midambles
   (:func:`_decide_anchored`), which cannot lose track. From the second
   pass on, the forward decisions also weigh what the LDPC decoder learnt
   about each bit from the others (its extrinsic LLRs), so the tracker
   keeps its lock where the channel alone would let it slip;
2. a channel smooth in time (a least-squares polynomial over the burst)
   and in frequency is fitted to every carrier of every symbol, EM style:
   an unsure symbol's observation falls back to the previous estimate
   (:func:`_imputed_raw`);
3. the payload is equalised with its own channel per symbol and decoded
   again; the caller repeats this while it keeps fixing bursts
   (:func:`~.burst_decoding.decode_payloads`).

Smooth in frequency means the Wiener (LMMSE) smoother of the burst's own
delay profile (:func:`delay_profile`, :func:`frequency_smoothers`): a
channel whose paths sit in a few of the 27 delays the receiver allows is
smoothed onto those, which removes more noise than the least-squares
projection on all of them and lets the neighbours of a faded carrier
carry it through the fade. A failed burst whose pilots saw no movement
takes the last two steps only, from the decoder's posteriors, with a
channel constant or linear in time: re-estimated from every symbol
instead of the preamble and header alone, it gains 0.5-1 dB near the
decoding threshold on a static channel.

Only bursts whose decoding failed pay for it, so a static channel at a
working SNR costs nothing.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence

import numpy as np

from .burst_mapping import HEADER_OFDM_SYMBOLS, filler_bits, header_symbols, midamble_rows, midamble_symbols
from .mcs import Mcs
from .ofdm_equalizer import active_indices, carrier_indices, delay_basis, pilot_rows, smoothing_projection
from .ofdm_params import OfdmParams
from .qam import demap_maxlog, soft_symbols

#: OFDM symbols with known content before the payload: the second
#: preamble symbol and the header.
KNOWN_ROWS = 1 + HEADER_OFDM_SYMBOLS
#: Highest degree of the polynomial that models the channel over time.
MAX_DEGREE = 3
#: Symbols per degree of freedom in time: a burst of ``n`` symbols fits a
#: polynomial of degree ``n // SYMBOLS_PER_DEGREE`` (up to MAX_DEGREE).
SYMBOLS_PER_DEGREE = 6


@dataclass(frozen=True)
class TrackedChannel:
    """Payload symbols equalised with a channel per symbol.

    Attributes
    ----------
    symbols : np.ndarray, shape ``(n_bursts, n_sym * n_data)``, dtype ``complex64``
    noise_var : np.ndarray, shape ``(n_bursts, n_sym * n_data)``, dtype ``float32``
    channel_change : np.ndarray, shape ``(n_bursts,)``, dtype ``float64``
        How far the channel moved over the burst: the energy of its change
        from the first to the last symbol over its mean energy (0: static;
        about 2: unrelated channels).
    """

    symbols: np.ndarray
    noise_var: np.ndarray
    channel_change: np.ndarray


#: Symbols behind the newest decision that the forward tracker fits a
#: straight line in time to, before it decides the next symbol. Three
#: follow a channel that turns fast (ETU at 300 Hz, 3,000 packets at 24 dB
#: each, decoded again: qpsk-1/2 fails 1 / 4 / 9 times with three / four /
#: six, 16qam-1/2 8 / 12 / 15). The tracker this replaced decided two
#: symbols per step from six and fixed none of the 47 qpsk-1/2 bursts it
#: left; one symbol per step alone fixed 21 of them.
FORWARD_WINDOW = 3
#: Rounds of the smooth fit, each with the previous one as the prior of
#: unsure symbols.
FIT_ROUNDS = 2
#: Weight of the decoder's extrinsic LLRs in the next forward pass's
#: decisions: min-sum's extrinsics of a word that did not converge are
#: overconfident. Measured on ETU at 300 Hz (qpsk-1/2 at 18 and 24 dB,
#: 16qam-1/2 at 24 dB, 8,000 packets decoded again): 11 failures with 0.5,
#: 17 with 0.3 and with 1.0.
EXTRINSIC_WEIGHT = 0.5
#: Delays whose power is under this share of the delay profile's peak are
#: held at it: the smoother never takes a delay out altogether.
DELAY_PROFILE_FLOOR = 1e-3


def _imputed_raw(received: np.ndarray, mean: np.ndarray, energy: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Per-carrier channel observations from uncertain symbols.

    The expectation step of EM channel estimation: with the symbol's
    posterior mean ``m`` and energy ``E``, ``(Y m* + (E - |m|^2) H_prior) / E``
    is ``Y / x`` for a certain symbol and falls back to the prior channel as
    the symbol becomes a coin toss, so a wrong but unsure decision cannot
    drag the fit away. All arrays share one shape, complex64 (``energy``
    float32)."""
    return (received * np.conj(mean) + (energy - np.abs(mean) ** 2) * prior) / energy


def delay_profile(raw: np.ndarray, noise_power: np.ndarray, params: OfdmParams) -> np.ndarray:
    """Power of each burst's channel at each delay the receiver allows.

    The Bartlett (matched filter) delay spectrum, averaged over the rows,
    less its noise, floored at ``DELAY_PROFILE_FLOOR`` of the peak. Not the
    least-squares taps: with 52 of 64 carriers active their basis has a
    condition number of about 650, and tap powers from it are mostly
    amplified noise.

    Parameters
    ----------
    raw : np.ndarray, shape ``(n_bursts, n_rows, n_active)``, complex
        Per-carrier channel observations (``Y / X``).
    noise_power : np.ndarray, shape ``(n_bursts,)``
        Noise variance of one observation.

    Returns
    -------
    np.ndarray, shape ``(n_bursts, n_delays)``, float64
    """
    basis = delay_basis(params)
    n_active = basis.shape[0]
    spectrum = np.mean(np.abs(raw @ basis.conj()) ** 2, axis=1) / n_active ** 2
    spectrum = np.maximum(spectrum - noise_power[:, None] / n_active, 0.0)
    return np.maximum(spectrum, DELAY_PROFILE_FLOOR * spectrum.max(axis=1, keepdims=True))


def frequency_smoothers(profile: np.ndarray, noise_var: np.ndarray, params: OfdmParams) -> np.ndarray:
    """Wiener smoothers across the carriers, one per burst.

    With ``R = B diag(profile) B^H`` the channel's covariance across the
    active carriers, ``R (R + noise_var I)^-1`` is the LMMSE estimate of the
    channel from one noisy observation of every carrier.

    Parameters
    ----------
    profile : np.ndarray, shape ``(n_bursts, n_delays)``
        :func:`delay_profile`.
    noise_var : np.ndarray, shape ``(n_bursts,)``
        Noise variance of the observations to be smoothed.

    Returns
    -------
    np.ndarray, shape ``(n_bursts, n_active, n_active)``, complex128: the
    transposed smoothers, to multiply rows of carriers from the right
    (``observations @ smoother``, as :func:`smoothing_projection` ``.T``).
    """
    basis = delay_basis(params)
    covariance = np.einsum("kd,bd,ld->bkl", basis, profile, basis.conj())
    loaded = covariance + noise_var[:, None, None] * np.eye(basis.shape[0])
    # R (R + s I)^-1 transposed is (R + s I)^-T R^T: one batched solve.
    return np.linalg.solve(loaded.transpose(0, 2, 1), covariance.transpose(0, 2, 1))


def _smooth(observations: np.ndarray, smoothers: np.ndarray) -> np.ndarray:
    """``observations @ smoothers`` burst by burst: ``(n_bursts, rows,
    n_active)`` times ``(n_bursts, n_active, n_active)``."""
    return np.einsum("brk,bkl->brl", observations, smoothers)


@lru_cache(maxsize=64)
def _line_extrapolation(rows_fitted: int) -> np.ndarray:
    """Weights that fit a straight line to ``rows_fitted`` equally spaced
    values and evaluate it one row further: shape ``(rows_fitted,)``,
    float64 (a constant when only one row)."""
    fitted = np.arange(rows_fitted, dtype=np.float64)
    degree = min(1, rows_fitted - 1)
    solve = np.linalg.pinv(np.vander(fitted, degree + 1))
    return (np.vander(np.array([float(rows_fitted)]), degree + 1) @ solve)[0]


def _decide_forward(received: np.ndarray, mean: np.ndarray, energy: np.ndarray, noise_power: np.ndarray,
                    prior_llr: Optional[np.ndarray], mcs: Mcs, params: OfdmParams) -> np.ndarray:
    """Decide the payload one symbol at a time, each with the channel
    extrapolated from the symbols just before.

    The header's channel is right at the burst's start and the drift grows
    towards its end, so decisions made from the start outward stay right
    where one channel for the whole burst goes wrong. The extrapolated
    channel is smoothed across the carriers with the Wiener smoother of the
    delay profile the preamble and header show, for the noise a straight
    line through ``FORWARD_WINDOW`` noisy rows has one row ahead.

    Parameters
    ----------
    received, mean : np.ndarray, shape ``(n_bursts, KNOWN_ROWS + n_sym, n_active)``, complex64
        The arrived carriers, and the posterior mean of what was sent:
        preamble, header and pilots filled in; the payload's data carriers
        are written here.
    energy : np.ndarray, same shape, float32
        Posterior mean energy of what was sent, filled in like ``mean``.
    noise_power : np.ndarray, shape ``(n_bursts,)``
        Noise variance per carrier, from the header.
    prior_llr : np.ndarray, shape ``(n_bursts, KNOWN_ROWS + n_sym, n_data * bits_per_symbol)``, float32, or None
        A-priori LLRs of the bits of each row's data carriers, added to what
        the channel says (the decoder's extrinsics); None: none.

    Returns
    -------
    np.ndarray, same shape as ``received``, complex64: the channel each
    symbol was decided with (the prior for the fit that follows).
    """
    data_cols, _ = _columns(params)
    n_rows = received.shape[1]
    raw = np.zeros_like(received)
    raw[:, :KNOWN_ROWS] = received[:, :KNOWN_ROWS] / mean[:, :KNOWN_ROWS]
    extrapolation = _line_extrapolation(FORWARD_WINDOW)
    smoothers = frequency_smoothers(delay_profile(raw[:, :KNOWN_ROWS], noise_power, params),
                                    noise_power * float(np.sum(extrapolation ** 2)), params)
    predicted = raw.copy()
    for row in range(KNOWN_ROWS, n_rows):
        start = max(0, row - FORWARD_WINDOW)
        weights = extrapolation if row - start == FORWARD_WINDOW else _line_extrapolation(row - start)
        here = slice(row, row + 1)
        predicted[:, here] = _smooth(np.einsum("s,bsk->bk", weights, raw[:, start:row])[:, None], smoothers)
        mean[:, here, data_cols], energy[:, here, data_cols] = _soft_decide(
            received[:, here, data_cols], predicted[:, here, data_cols], noise_power, mcs,
            None if prior_llr is None else prior_llr[:, here])
        raw[:, here] = _imputed_raw(received[:, here], mean[:, here], energy[:, here], predicted[:, here])
    return predicted


def _soft_decide(received: np.ndarray, channel: np.ndarray, noise_power: np.ndarray, mcs: Mcs,
                 prior_llr: Optional[np.ndarray] = None):
    """Posterior mean and energy of symbols equalised with ``channel``
    (all ``(n_bursts, rows, carriers)``; ``noise_power`` per burst;
    ``prior_llr`` ``(n_bursts, rows, carriers * bits_per_symbol)`` or None)."""
    gain = np.maximum(np.abs(channel) ** 2, 1e-12)
    equalized = received * np.conj(channel) / gain
    llr = demap_maxlog(equalized.reshape(-1), (noise_power[:, None, None] / gain).reshape(-1), mcs.constellation)
    if prior_llr is not None:
        llr = llr + prior_llr.reshape(-1)
    symbol_mean, symbol_energy = soft_symbols(llr, mcs.constellation)
    return symbol_mean.reshape(received.shape), symbol_energy.reshape(received.shape)


@lru_cache(maxsize=256)
def _anchor_interpolation(n_rows: int, known: tuple, degree: int) -> np.ndarray:
    """Matrix that fits a polynomial of ``degree`` in time to the rows
    ``known`` and evaluates it on all ``n_rows``: shape ``(n_rows, len(known))``."""
    t = np.linspace(-1.0, 1.0, n_rows)
    basis = np.vander(t, degree + 1, increasing=True)
    return basis @ np.linalg.pinv(basis[list(known)])


def _decide_anchored(received: np.ndarray, mean: np.ndarray, energy: np.ndarray, noise_power: np.ndarray,
                     known_rows: np.ndarray, payload_rows: np.ndarray, mcs: Mcs,
                     params: OfdmParams) -> np.ndarray:
    """Decide the payload with the channel interpolated between the known
    symbols (preamble, header, midambles) of a mobile MCS.

    Arguments as :func:`_decide_forward`; ``known_rows`` and
    ``payload_rows`` index the rows of ``received``. Returns the
    interpolated channel, shape of ``received``.
    """
    data_cols, _ = _columns(params)
    n_rows = received.shape[1]
    # Known symbols sit in clusters (preamble with header, each midamble):
    # one degree of freedom in time per cluster at most.
    clusters = 1 + int(np.count_nonzero(np.diff(known_rows) > 1))
    degree = min(tracking_degree(n_rows), clusters)
    raw = received[:, known_rows] / mean[:, known_rows]
    interpolation = _anchor_interpolation(n_rows, tuple(int(r) for r in known_rows), degree)
    channel = (np.einsum("rs,bsk->brk", interpolation, raw) @ smoothing_projection(params).T).astype(np.complex64)
    where = (slice(None), payload_rows[:, None], data_cols[None, :])
    mean[where], energy[where] = _soft_decide(received[where], channel[where], noise_power, mcs)
    return channel


def tracking_degree(n_rows: int, max_degree: int = MAX_DEGREE) -> int:
    """Polynomial degree in time for a burst of ``n_rows`` known-or-decided symbols."""
    return int(min(max_degree, n_rows // SYMBOLS_PER_DEGREE))


@lru_cache(maxsize=64)
def _time_projection(n_rows: int, degree: int) -> np.ndarray:
    """Least-squares projection onto polynomials of ``degree`` over ``n_rows``
    equally spaced symbols, shape ``(n_rows, n_rows)``, float64 (orthonormal
    basis from a QR of the Vandermonde matrix on [-1, 1], for conditioning)."""
    t = np.linspace(-1.0, 1.0, n_rows)
    basis, _ = np.linalg.qr(np.vander(t, degree + 1, increasing=True))
    projection = basis @ basis.T
    projection.setflags(write=False)
    return projection


@lru_cache(maxsize=4)
def _columns(params: OfdmParams):
    """Positions of the data and the pilot carriers among the active ones."""
    active = active_indices(params)
    data, pilots = carrier_indices(params)
    return np.searchsorted(active, data), np.searchsorted(active, pilots)


def _gather_active(fft_symbols: np.ndarray, carrier_offset: np.ndarray, params: OfdmParams) -> np.ndarray:
    """Active carriers of each burst's symbols, integer carrier offset removed:
    ``(n_bursts, n_sym, fft_len)`` -> ``(n_bursts, n_sym, n_active)``."""
    active = active_indices(params)
    n_bursts, n_sym = fft_symbols.shape[:2]
    rows = np.arange(n_bursts)[:, None, None], np.arange(n_sym)[None, :, None]
    return fft_symbols[rows + (active[None, None, :] + carrier_offset.reshape(-1, 1, 1),)]


def _with_filler(llr: np.ndarray, n_bits: int) -> np.ndarray:
    """Coded-bit LLRs ``(n_bursts, n_coded)`` completed with the known
    filler bits up to ``n_bits`` per burst (LLRs as certain as the clip allows)."""
    n_filler = n_bits - llr.shape[1]
    filler_llr = ((1.0 - 2.0 * filler_bits(n_filler)) * 100.0).astype(np.float32)
    return np.concatenate([llr, np.broadcast_to(filler_llr, (llr.shape[0], n_filler))], axis=1)


def track_channel(payload_fft: np.ndarray, payload_rotation: np.ndarray, coded_llr: Optional[np.ndarray],
                  bursts: Sequence, mcs: Mcs, params: OfdmParams, max_degree: int = MAX_DEGREE,
                  extrinsic_llr: Optional[np.ndarray] = None) -> TrackedChannel:
    """Re-estimate each burst's channel symbol by symbol from decisions and
    equalise its payload again.

    Parameters
    ----------
    payload_fft : np.ndarray, shape ``(n_bursts, n_sym, fft_len)``, complex64
        The payload symbols' FFTs (fft-shifted, fine frequency offset removed).
    payload_rotation : np.ndarray, shape ``(n_bursts, n_sym)``, complex64
        Common phase of each payload symbol from the first equalisation.
    coded_llr : np.ndarray, shape ``(n_bursts, n_coded)``, float32, or None
        Posterior LLRs of the coded payload bits as sent (the decoder's
        latest, :attr:`~.payload_code.DecodedPayload.coded_llr`): the
        decisions to estimate from. None: decide symbol by symbol from the
        header on (:func:`_decide_forward`), which is what to start from
        when the first decoding failed badly.
    bursts : sequence of :class:`~.burst_decoding.BurstHeader`
        The bursts' headers (channel, offsets, header symbols and phases).
    mcs : Mcs
        The payloads' MCS (all the same).
    params : OfdmParams
    max_degree : int
        Highest degree of the channel's polynomial in time: 0 or 1 re-estimate
        a channel that barely moves from every symbol of the burst, which
        averages far more noise out than the preamble and header alone.
    extrinsic_llr : np.ndarray, shape ``(n_bursts, n_coded)``, float32, or None
        With ``coded_llr`` None and no midambles: what the last decoding
        learnt of each coded bit (as sent) from the others, its posterior
        less its channel LLR. The forward decisions weigh it in
        (``EXTRINSIC_WEIGHT``); None: the channel alone decides.
    """
    n_bursts, n_sym = payload_fft.shape[:2]
    data_cols, pilot_cols = _columns(params)
    n_data, n_active = len(data_cols), len(data_cols) + len(pilot_cols)
    n_rows = KNOWN_ROWS + n_sym
    carrier_offset = np.array([b.carrier_offset for b in bursts])
    noise_power = np.array([b.noise_power for b in bursts])

    # What was sent, as the posterior mean and energy of every active
    # carrier of every symbol: preamble, header and pilots are certain.
    mean = np.zeros((n_bursts, n_rows, n_active), dtype=np.complex64)
    mean[:, 0] = params.sync_words()[1][active_indices(params)]
    mean[:, 1:KNOWN_ROWS, pilot_cols] = pilot_rows(0, HEADER_OFDM_SYMBOLS)
    for j, burst in enumerate(bursts):
        mean[j, 1:KNOWN_ROWS][:, data_cols] = header_symbols(burst.header).reshape(HEADER_OFDM_SYMBOLS, -1)
    mean[:, KNOWN_ROWS:, pilot_cols] = pilot_rows(HEADER_OFDM_SYMBOLS, n_sym)
    midambles = KNOWN_ROWS + np.flatnonzero(midamble_rows(n_sym, mcs.midamble_period))
    payload_rows = KNOWN_ROWS + np.flatnonzero(~midamble_rows(n_sym, mcs.midamble_period))
    mean[:, midambles[:, None], data_cols[None, :]] = midamble_symbols(params)
    energy = np.abs(mean) ** 2
    bits_per_burst = payload_rows.size * n_data * mcs.bits_per_symbol

    # What arrived, with each symbol's common phase (relative to the
    # header's channel estimate) taken out, so that what is left of the
    # channel's change is smooth.
    received = np.empty_like(mean)
    header_fft = np.stack([b.header_fft for b in bursts])
    preamble_phase = np.exp(-1j * np.angle([b.anchor[0] for b in bursts]))
    known = _gather_active(header_fft, carrier_offset, params)
    received[:, 0] = known[:, 0] * preamble_phase[:, None]
    received[:, 1:KNOWN_ROWS] = known[:, 1:] * np.conj(np.stack([b.header_rotation for b in bursts]))[:, :, None]
    received[:, KNOWN_ROWS:] = _gather_active(payload_fft, carrier_offset, params) * np.conj(
        payload_rotation)[:, :, None]

    if coded_llr is None and midambles.size:
        prior = _decide_anchored(received, mean, energy, noise_power, np.concatenate(
            [np.arange(KNOWN_ROWS), midambles]), payload_rows, mcs, params)
    elif coded_llr is None:
        prior_llr = None
        if extrinsic_llr is not None:
            prior_llr = np.zeros((n_bursts, n_rows, n_data * mcs.bits_per_symbol), dtype=np.float32)
            prior_llr[:, payload_rows] = _with_filler(EXTRINSIC_WEIGHT * extrinsic_llr, bits_per_burst).reshape(
                n_bursts, payload_rows.size, -1)
        prior = _decide_forward(received, mean, energy, noise_power, prior_llr, mcs, params)
    else:
        llr = _with_filler(coded_llr, bits_per_burst)
        symbol_mean, symbol_energy = soft_symbols(llr.reshape(-1), mcs.constellation)
        where = payload_rows[:, None], data_cols[None, :]
        mean[(slice(None),) + where] = symbol_mean.reshape(n_bursts, payload_rows.size, n_data)
        energy[(slice(None),) + where] = symbol_energy.reshape(n_bursts, payload_rows.size, n_data)
        prior = np.broadcast_to(np.stack([b.channel[active_indices(params)] for b in bursts])[:, None, :],
                                mean.shape)

    # Fit a channel smooth in time and frequency to the observations, twice:
    # the second time unsure symbols lean on the first fit instead of on
    # the header's channel or the extrapolation. The polynomial in time
    # averages the noise of n_rows observations into degree + 1; the Wiener
    # smoother in frequency is built for what is left.
    degree = tracking_degree(n_rows, max_degree)
    time_projection = _time_projection(n_rows, degree)
    raw = _imputed_raw(received, mean, energy, prior)
    smoothers = frequency_smoothers(delay_profile(raw, noise_power, params),
                                    noise_power * (degree + 1) / n_rows, params)
    for round_ in range(FIT_ROUNDS):
        if round_:
            raw = _imputed_raw(received, mean, energy, prior)
        prior = channel = _smooth(np.einsum("rs,bsk->brk", time_projection, raw), smoothers).astype(np.complex64)

    # Noise from what is certainly known: preamble, header and pilots.
    residual = received - channel * mean
    known_error = (np.sum(np.abs(residual[:, :KNOWN_ROWS]) ** 2, axis=(1, 2))
                   + np.sum(np.abs(residual[:, KNOWN_ROWS:, pilot_cols]) ** 2, axis=(1, 2)))
    count = KNOWN_ROWS * n_active + n_sym * len(pilot_cols)
    # The fit spent (degree + 1) times the smoother's trace (its degrees of
    # freedom in frequency) of the observations' degrees of freedom.
    fit_share = (degree + 1) * np.trace(smoothers, axis1=1, axis2=2).real / (n_rows * n_active)
    noise = np.maximum(known_error / count / (1.0 - fit_share), 1e-12)

    payload_channel = channel[:, KNOWN_ROWS:, :][:, :, data_cols]
    gain = np.maximum(np.abs(payload_channel) ** 2, 1e-12)
    symbols = received[:, KNOWN_ROWS:, :][:, :, data_cols] * np.conj(payload_channel) / gain
    noise_var = noise[:, None, None] / gain
    change = np.sum(np.abs(channel[:, -1] - channel[:, 0]) ** 2, axis=1) / np.maximum(
        np.mean(np.sum(np.abs(channel) ** 2, axis=2), axis=1), 1e-12)
    return TrackedChannel(symbols.reshape(n_bursts, -1).astype(np.complex64),
                          noise_var.reshape(n_bursts, -1).astype(np.float32), change)
