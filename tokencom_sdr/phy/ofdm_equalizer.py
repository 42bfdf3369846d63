"""Per-burst OFDM synchronisation and equalisation in numpy.

Works on the raw samples of bursts as the burst decoder cuts them
(cyclic prefixes kept), and on their FFTs (fft-shifted: DC at index
fft_len/2): of one burst, or of a batch along a leading axis, every burst
computed exactly as it would be alone (no BLAS products, row-major
operands, no large temporaries multiplied in place). From the preamble it finds the frequency offset (fine, from the
first symbol's halves; whole carriers, from the second symbol), the channel
and the symbol timing. Then per group of symbols it

1. picks each carrier out of the bin it was shifted to by the whole-carrier
   offset;
2. estimates the common phase of every symbol as a straight line in the
   symbol index (what a residual frequency offset produces), from pilots and
   any known symbols, anchored on earlier known symbols, which is robust at
   low SNR where single-symbol estimates are not;
3. estimates the noise variance from the residuals of what is known;
4. returns equalised data symbols with the per-symbol noise variance that
   soft demapping needs (noise over |H|^2: weak carriers give weak LLRs).
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .ofdm_params import OfdmParams, make_pilot_symbols


@lru_cache(maxsize=4)
def carrier_indices(params: OfdmParams):
    """Fft-shifted bins of the data and of the pilot carriers."""
    half = params.fft_len // 2
    data = np.array(params.data_carriers) + half
    pilots = np.array(params.pilot_carriers) + half
    return data, pilots


@lru_cache(maxsize=4)
def active_indices(params: OfdmParams) -> np.ndarray:
    """Fft-shifted bins of every active carrier (data and pilots), ascending."""
    return np.array(sorted(params.data_carriers + params.pilot_carriers)) + params.fft_len // 2


# Delays (in samples) the smoothed channel may have: a little before the
# symbol start (the sync may trigger a few samples early, which looks like a
# negative delay) up to 14 samples after the strongest path, which the timing
# puts at WINDOW_ADVANCE = 8. 3GPP's typical-urban profile (ETU) spreads
# over 5 us, 10 samples at 2 MS/s, and its first path is often not the
# strongest; cut at the cyclic prefix (16), its late paths were projected
# out of the estimate, an error floor near -15 dB.
_CHANNEL_DELAYS = np.arange(-4, 23)


@lru_cache(maxsize=4)
def delay_basis(params: OfdmParams) -> np.ndarray:
    """What a unit path at each allowed delay looks like on the active carriers.

    Returns
    -------
    np.ndarray, shape ``(n_active, len(_CHANNEL_DELAYS))``, dtype ``complex128``, read-only
    """
    carriers = active_indices(params) - params.fft_len // 2
    basis = np.exp(-2j * np.pi * np.outer(carriers, _CHANNEL_DELAYS) / params.fft_len)
    basis.setflags(write=False)
    return basis


@lru_cache(maxsize=4)
def smoothing_projection(params: OfdmParams) -> np.ndarray:
    """Matrix that projects a per-carrier channel onto short impulse responses.

    A channel of at most ``len(_CHANNEL_DELAYS)`` taps has that many degrees
    of freedom, so a least-squares fit over the 52 active carriers removes
    most of the estimate's noise (~52/21 in power).

    Returns
    -------
    np.ndarray, shape ``(n_active, n_active)``, dtype ``complex128``
    """
    basis = delay_basis(params)
    return basis @ np.linalg.pinv(basis)


def channel_fit_share(params: OfdmParams, n_observations: int) -> float:
    """Share of the observations a smoothed channel estimate uses up: its
    free parameters (one per delay) over the known carriers it was fitted to."""
    n_active = len(params.data_carriers) + len(params.pilot_carriers)
    return len(_CHANNEL_DELAYS) / (n_active * n_observations)


def smooth_channel(channel: np.ndarray, params: OfdmParams) -> np.ndarray:
    """Least-squares smoothing of a per-carrier channel estimate.

    Parameters
    ----------
    channel : np.ndarray, shape ``(..., fft_len)``, complex (fft-shifted)
        One estimate, or several along leading axes.

    Returns
    -------
    np.ndarray, shape ``(..., fft_len)``, dtype ``complex64``; zero off the
    active carriers.
    """
    active = active_indices(params)
    channel = np.asarray(channel)
    out = np.zeros(channel.shape, dtype=np.complex64)
    # A product and a sum along the last axis rather than a matrix product:
    # BLAS rounds a row differently with the number of rows, and a burst
    # must come out the same whichever others share its batch (a replay
    # decodes as live).
    out[..., active] = (smoothing_projection(params) * channel[..., None, active]).sum(axis=-1)
    return out


def refine_channel(fft_symbols: np.ndarray, channel: np.ndarray, carrier_offset,
                   first_pilot_index: int, known_data: np.ndarray, rotation: np.ndarray,
                   params: OfdmParams) -> np.ndarray:
    """Average a preamble channel estimate with symbols now known (a decoded
    header), then smooth it; for one burst or a batch (a leading axis of
    ``n_bursts`` on every array, ``carrier_offset`` one per burst).

    Parameters
    ----------
    fft_symbols : np.ndarray, shape ``([n_bursts,] n_sym, fft_len)``, complex
    channel : np.ndarray, shape ``([n_bursts,] fft_len)``, complex: the preamble's estimate
    carrier_offset : int, or np.ndarray of shape ``(n_bursts,)``, int
    known_data : np.ndarray, shape ``([n_bursts,] n_sym * n_data)``: what was sent
    rotation : np.ndarray, shape ``([n_bursts,] n_sym)``: common phase of each symbol
        relative to ``channel`` (from :func:`equalize_bursts`)

    Returns
    -------
    np.ndarray, shape ``([n_bursts,] fft_len)``, dtype ``complex64``
    """
    total = np.array(channel, dtype=np.complex64)
    batch = total.shape[:-1]
    Y = np.asarray(fft_symbols, dtype=np.complex64).reshape(batch + (-1, params.fft_len))
    n_sym = Y.shape[-2]
    data_idx, pilot_idx = carrier_indices(params)
    pilots = pilot_rows(first_pilot_index, n_sym)
    derotate = np.conj(np.asarray(rotation, dtype=np.complex64)).reshape(batch + (n_sym, 1))
    known = np.asarray(known_data, dtype=np.complex64).reshape(batch + (n_sym, -1))
    Y_data, Y_pilot = _carriers(Y, carrier_offset, data_idx), _carriers(Y, carrier_offset, pilot_idx)
    total[..., data_idx] += np.sum(Y_data * derotate / known, axis=-2)
    total[..., pilot_idx] += np.sum(Y_pilot * derotate / pilots, axis=-2)
    return smooth_channel(total / (n_sym + 1), params)


def _carriers(Y: np.ndarray, carrier_offset, carriers: np.ndarray) -> np.ndarray:
    """``Y[..., carriers + carrier_offset]``, each burst moved by its own
    whole-carrier offset.

    Parameters
    ----------
    Y : np.ndarray, shape ``(..., fft_len)`` (one burst), or
        ``(n_bursts, ..., fft_len)`` with ``carrier_offset`` of shape ``(n_bursts,)``
    carrier_offset : int or np.ndarray of ints
    carriers : np.ndarray, shape ``(n_carriers,)``, int
    """
    # Both ways give a row-major array, whatever the layout of Y (indexing
    # with [..., carriers] would not): numpy sums a row in another order when
    # it is strided, and a burst must come out the same whichever others
    # share its batch (a replay decodes as live).
    offset = np.asarray(carrier_offset)
    if offset.ndim == 0 or (offset == offset.flat[0]).all():
        return np.take(Y, carriers + int(offset.flat[0]), axis=-1)
    index = (carriers + offset.reshape((-1,) + (1,) * (Y.ndim - 1)))
    return np.take_along_axis(Y, np.broadcast_to(index, Y.shape[:-1] + (carriers.size,)), axis=-1)


@lru_cache(maxsize=1)
def _pilot_table() -> np.ndarray:
    return np.array(make_pilot_symbols(), dtype=np.complex64)


@lru_cache(maxsize=1024)
def pilot_rows(first_pilot_index: int, n_sym: int) -> np.ndarray:
    """Pilot symbols of ``n_sym`` OFDM symbols from ``first_pilot_index`` on,
    shape ``(n_sym, n_pilots)`` (cached: bursts repeat a few lengths)."""
    table = _pilot_table()
    rows = table[(first_pilot_index + np.arange(n_sym)) % len(table)]
    rows.setflags(write=False)
    return rows


@lru_cache(maxsize=1024)
def _phase_index(n_anchor: int, n_sym: int) -> np.ndarray:
    index = np.arange(-n_anchor, n_sym, dtype=np.float64)
    index.setflags(write=False)
    return index


def _linear_phases(correlation: np.ndarray, anchor) -> (np.ndarray, np.ndarray):
    """Common phase of each symbol of each burst, modelled as ``a + b * index``.

    ``correlation[j, i]`` is the sum of ``Y * conj(H * X)`` over the known
    carriers of symbol ``i`` of burst ``j``; its angle is that symbol's
    phase and its magnitude grows with how much is known. ``anchor`` holds
    the same for symbols just before these (a decoded header: 52 known
    carriers each, a much firmer reference than 4 pilots), at indices
    -n_anchor .. -1. A coarse slope from neighbour products (robust to
    wrapping) is refined by least squares on the small residual phases,
    weighted by magnitude.

    Parameters
    ----------
    correlation : np.ndarray, shape ``(n_bursts, n_sym)``, complex
    anchor : np.ndarray, shape ``(n_bursts, n_anchor)``, complex, or None

    Returns
    -------
    (np.ndarray, shape ``(n_bursts, n_sym)``: phase per symbol;
    np.ndarray, shape ``(n_bursts,)``: slope per symbol)
    """
    n_anchor = 0 if anchor is None else anchor.shape[1]
    z = correlation if n_anchor == 0 else np.concatenate([anchor.astype(np.complex64), correlation], axis=1)
    index = _phase_index(n_anchor, correlation.shape[1])
    if z.shape[1] == 1:
        return np.angle(z), np.zeros(z.shape[0])
    coarse_slope = np.angle((z[:, 1:] * np.conj(z[:, :-1])).sum(axis=1))
    derotated = z * np.exp(-1j * coarse_slope[:, None] * index)
    coarse_offset = np.angle(derotated.sum(axis=1))
    residual = np.angle(derotated * np.exp(-1j * coarse_offset)[:, None])
    weight = np.abs(z).astype(np.float64)
    total = np.maximum(weight.sum(axis=1), 1e-12)
    centre = (weight @ index) / total
    offset = index - centre[:, None]
    spread = (weight * offset ** 2).sum(axis=1)
    # (spread is 0 only where every weight * offset is, and then so is the
    # numerator: no fix, without a division by zero)
    slope_fix = (weight * offset * residual).sum(axis=1) / np.maximum(spread, 1e-300)
    offset_fix = (weight * residual).sum(axis=1) / total - slope_fix * centre
    slope = coarse_slope + slope_fix
    phase = (coarse_offset + offset_fix)[:, None] + slope[:, None] * index
    return phase[:, n_anchor:], slope


@dataclass(frozen=True)
class EqualizedBursts:
    """Equalised data carriers of ``n_sym`` OFDM symbols of each of ``n_bursts`` bursts.

    Attributes
    ----------
    symbols : np.ndarray, shape ``(n_bursts, n_sym * n_data)``, dtype ``complex64``
        Data symbols in transmission order (symbol by symbol, carriers in
        ascending order).
    noise_var : np.ndarray, shape ``(n_bursts, n_sym * n_data)``, dtype ``float32``
        Noise variance of each equalised symbol.
    noise_power : np.ndarray, shape ``(n_bursts,)``, float64
        Noise variance per FFT bin (before equalisation).
    snr_db : np.ndarray, shape ``(n_bursts,)``, float64
        Burst SNR estimate: mean carrier power over noise, scaled back to
        time-domain samples (gaps excluded), i.e. comparable to the channel's
        ``snr_db``.
    phase_slope : np.ndarray, shape ``(n_bursts,)``, float64
        Common phase advance per OFDM symbol in radians (residual CFO).
    rotation : np.ndarray, shape ``(n_bursts, n_sym)``, dtype ``complex64``
        Common phase of each symbol relative to the channel estimate.
    correlation : np.ndarray, shape ``(n_bursts, n_sym)``, dtype ``complex64``
        Per-symbol phase reference (sum of ``Y * conj(H * X)`` over the
        known carriers), to anchor the phase of the symbols that follow.
    """

    symbols: np.ndarray
    noise_var: np.ndarray
    noise_power: np.ndarray
    snr_db: np.ndarray
    phase_slope: np.ndarray
    rotation: np.ndarray
    correlation: np.ndarray


def _power(x: np.ndarray) -> np.ndarray:
    """Sum of ``|x|^2`` over all but the first axis (complex64 in, float64 out)."""
    # (fancy indexing may hand over a column-major array, which a view can't reinterpret)
    real = np.ascontiguousarray(x).view(np.float32).reshape(x.shape[0], -1)
    return np.einsum("ij,ij->i", real, real, dtype=np.float64)


def equalize_bursts(fft_symbols: np.ndarray, channel: np.ndarray, carrier_offset: np.ndarray,
                    first_pilot_index: int, params: OfdmParams,
                    known_data: np.ndarray = None, anchor: np.ndarray = None) -> EqualizedBursts:
    """Equalise several bursts of the same length at once, each with its own
    channel, carrier offset and anchor (the headers, or the payloads, that a
    chunk of samples completes). Each burst comes out exactly as it would
    alone (see :func:`_carriers`).

    Parameters
    ----------
    fft_symbols : np.ndarray, shape ``(n_bursts, n_sym, fft_len)``, complex
        FFT outputs (fft-shifted), integer carrier offset not yet removed.
    channel : np.ndarray, shape ``(n_bursts, fft_len)``, complex
        Channel estimate per carrier.
    carrier_offset : np.ndarray, shape ``(n_bursts,)``, int
        Whole-carrier frequency offset: carrier ``c`` sits in bin
        ``c + carrier_offset``.
    first_pilot_index : int
        Index into the pilot sequence of the first symbol (the carrier
        allocator counts symbols from the first one after the preamble).
    params : OfdmParams
    known_data : np.ndarray, shape ``(n_bursts, n_sym * n_data)``, optional
        Transmitted data symbols when they are known (a decoded header):
        they join the pilots in the phase and noise estimates.
    anchor : np.ndarray, shape ``(n_bursts, n_anchor)``, complex, optional
        Phase references of the symbols just before these (see
        :func:`_linear_phases`), from :attr:`EqualizedBursts.correlation`.
    """
    # Written for few numpy calls: a burst's arrays are small, so each call's
    # fixed overhead, not the arithmetic, is what this costs; a batch of
    # bursts pays it once.
    Y = np.asarray(fft_symbols, dtype=np.complex64)
    n_bursts, n_sym = Y.shape[:2]
    data_idx, pilot_idx = carrier_indices(params)
    H = np.asarray(channel, dtype=np.complex64)
    H_data, H_pilot = H[:, data_idx], H[:, pilot_idx]
    # An integer carrier offset moves every carrier by the same number of bins.
    Y_data, Y_pilot = _carriers(Y, carrier_offset, data_idx), _carriers(Y, carrier_offset, pilot_idx)
    reference = H_pilot[:, None, :] * pilot_rows(first_pilot_index, n_sym)
    correlation = (Y_pilot * np.conj(reference)).sum(axis=2)
    if known_data is not None:
        known_reference = H_data[:, None, :] * np.asarray(known_data, dtype=np.complex64).reshape(
            n_bursts, n_sym, -1)
        # (Each factor named: numpy multiplies into a large temporary right
        # operand in place, with the operands swapped, which rounds the
        # products differently, and a burst must come out the same
        # whichever others share its batch.)
        known_conj = np.conj(known_reference)
        correlation += (Y_data * known_conj).sum(axis=2)
    phase, slope = _linear_phases(correlation, anchor)
    rotation = np.exp(1j * phase).astype(np.complex64)[:, :, None]

    squared_error = _power(Y_pilot - reference * rotation)
    count = Y_pilot[0].size
    if known_data is not None:
        squared_error += _power(Y_data - known_reference * rotation)
        count += Y_data[0].size
    noise_power = np.maximum(squared_error / count, 1e-12)

    data_power = np.abs(H_data) ** 2
    gain = np.maximum(data_power, 1e-12)
    symbols = Y_data * (np.conj(H_data) / gain)[:, None, :] * np.conj(rotation)
    noise_var = np.broadcast_to((noise_power[:, None] / gain).astype(np.float32)[:, None, :], symbols.shape)
    n_active = len(data_idx) + len(pilot_idx)
    signal = (data_power.sum(axis=1, dtype=np.float64) + _power(H_pilot)) / n_active
    snr = signal / noise_power * n_active / params.fft_len
    return EqualizedBursts(symbols.reshape(n_bursts, -1), noise_var.reshape(n_bursts, -1), noise_power,
                           10 * np.log10(np.maximum(snr, 1e-12)), slope, rotation.reshape(n_bursts, -1),
                           correlation.astype(np.complex64))


def preamble_correlation(sync_fft_2: np.ndarray, sync_word_2: np.ndarray, channel: np.ndarray,
                         carrier_offset, params: OfdmParams):
    """Phase reference of the second preamble symbol against ``channel``
    (sum of ``Y * conj(H * X)`` over its carriers), for use as an anchor.

    Parameters
    ----------
    sync_fft_2 : np.ndarray, shape ``([n_bursts,] fft_len)``, complex
    sync_word_2 : np.ndarray, shape ``(fft_len,)``, complex
    channel : np.ndarray, shape ``([n_bursts,] fft_len)``, complex
    carrier_offset : int, or np.ndarray of shape ``(n_bursts,)``, int

    Returns
    -------
    np.complex64, or np.ndarray of shape ``(n_bursts,)``, dtype ``complex64``
    """
    active = active_indices(params)
    channel = np.asarray(channel)
    correlation = np.sum(_carriers(np.asarray(sync_fft_2), carrier_offset, active)
                         * np.conj(channel[..., active] * sync_word_2[active]), axis=-1)
    return correlation.astype(np.complex64) if correlation.ndim else np.complex64(correlation)


# --- Synchronisation from the preamble (time-domain symbols, CP removed) ---

def fine_frequency_offset(sync_symbol_1: np.ndarray):
    """Frequency offset from the two halves of the first preamble symbol.

    Parameters
    ----------
    sync_symbol_1 : np.ndarray, shape ``([n_bursts,] fft_len)``, complex (time domain)

    Returns
    -------
    float, or np.ndarray of shape ``(n_bursts,)``, float64
        Offset in cycles per sample, within +-1/fft_len (the half-symbol
        phase is ambiguous by 2*pi, i.e. by two carriers).
    """
    half = sync_symbol_1.shape[-1] // 2
    # Only odd carriers are used, so the second half is the first one
    # negated (e^{j*pi*odd}); the minus sign undoes that.
    phase = np.angle(-np.sum(np.conj(sync_symbol_1[..., :half]) * sync_symbol_1[..., half:], axis=-1))
    offset = phase / (2 * np.pi * half)
    return float(offset) if np.ndim(offset) == 0 else offset.astype(np.float64)


def to_frequency_domain(time_symbols: np.ndarray, first_symbol: int, cfo: float,
                        params: OfdmParams) -> np.ndarray:
    """Remove a frequency offset and FFT the symbols of one burst (or of
    several bursts, each with its own offset).

    Parameters
    ----------
    time_symbols : np.ndarray, shape ``(n_sym, fft_len)``, complex
        FFT windows as :func:`cut_symbols` returns them; with an array of
        offsets, shape ``(n_bursts, n_sym, fft_len)``.
    first_symbol : int
        Index of the first of them within the burst (0 = first preamble
        symbol), so the phase ramp stays continuous from header to payload.
    cfo : float, or np.ndarray of shape ``(n_bursts,)``
        Offset to remove, in cycles per sample.

    Returns
    -------
    np.ndarray, shape like ``time_symbols``, dtype ``complex64``, fft-shifted
    """
    cfo = np.asarray(cfo, dtype=np.float64)
    x = np.asarray(time_symbols, dtype=np.complex64).reshape(cfo.shape + (-1, params.fft_len))
    n_sym = x.shape[-2]
    # The ramp over sample time t = symbol start + offset in the window, as
    # the product of a per-symbol and a per-sample phasor: n_sym + fft_len
    # complex exponentials instead of n_sym * fft_len.
    step = (-2j * np.pi * cfo)[..., None, None]
    symbol_starts = (first_symbol + np.arange(n_sym)) * params.symbol_len + params.cp_len - WINDOW_ADVANCE
    ramp = (np.exp(step * symbol_starts[:, None]) * np.exp(step * np.arange(params.fft_len))).astype(np.complex64)
    # (Named, not a temporary: see equalize_bursts.)
    spectrum = np.fft.fft(x * ramp, axis=-1)
    return spectrum[..., _fftshift_index(params.fft_len)].astype(np.complex64)


@lru_cache(maxsize=4)
def _fftshift_index(fft_len: int) -> np.ndarray:
    """Column order that fft-shifts a spectrum (DC to the middle), as an
    index: cheaper than ``np.fft.fftshift``'s roll on small arrays."""
    return np.fft.fftshift(np.arange(fft_len))


@lru_cache(maxsize=4)
def _ifftshift_index(fft_len: int) -> np.ndarray:
    return np.fft.ifftshift(np.arange(fft_len))


@lru_cache(maxsize=4)
def _neighbour_pairs(params: OfdmParams, max_offset: int):
    """Active carriers whose upper neighbour is active too (fft-shifted), and
    the even offsets to try that keep every pair inside the FFT."""
    active = active_indices(params)
    pairs = active[:-1][np.diff(active) == 1]
    offsets = np.arange(-max_offset, max_offset + 1, 2)
    offsets = offsets[(pairs.min() + offsets >= 0) & (pairs.max() + 1 + offsets < params.fft_len)]
    return pairs, offsets, pairs[None, :] + offsets[:, None]


def integer_carrier_offset(sync_fft_2: np.ndarray, sync_word_2: np.ndarray, params: OfdmParams,
                           max_offset: int = 4):
    """Whole-carrier offset left after fine correction (even, see above).

    Differential correlation of neighbouring carriers with the known second
    preamble symbol: insensitive to the channel's phase, which changes little
    from one carrier to the next.

    Parameters
    ----------
    sync_fft_2 : np.ndarray, shape ``([n_bursts,] fft_len)``, complex
    sync_word_2 : np.ndarray, shape ``(fft_len,)``, complex

    Returns
    -------
    int, or np.ndarray of shape ``(n_bursts,)``, int64
    """
    pairs, offsets, lo = _neighbour_pairs(params, max_offset)
    reference = np.conj(sync_word_2[pairs] * np.conj(sync_word_2[pairs + 1]))
    metric = np.abs(np.sum(sync_fft_2[..., lo] * np.conj(sync_fft_2[..., lo + 1]) * reference, axis=-1))
    best = offsets[np.argmax(metric, axis=-1)]
    return int(best) if np.ndim(best) == 0 else best.astype(np.int64)


def preamble_channel(sync_fft_2: np.ndarray, sync_word_2: np.ndarray, carrier_offset,
                     params: OfdmParams) -> np.ndarray:
    """Least-squares channel estimate on the active carriers from the second
    preamble symbol (zero elsewhere).

    Parameters
    ----------
    sync_fft_2 : np.ndarray, shape ``([n_bursts,] fft_len)``, complex
    sync_word_2 : np.ndarray, shape ``(fft_len,)``, complex
    carrier_offset : int, or np.ndarray of shape ``(n_bursts,)``, int

    Returns
    -------
    np.ndarray, shape ``([n_bursts,] fft_len)``, dtype ``complex64``
    """
    active = active_indices(params)
    channel = np.zeros(sync_fft_2.shape, dtype=np.complex64)
    channel[..., active] = _carriers(sync_fft_2, carrier_offset, active) / sync_word_2[active]
    return channel


# --- Symbol timing ---------------------------------------------------------

#: Where the FFT window starts: this many samples before the end of each
#: cyclic prefix. Half the prefix: room for echoes (delays up to 8 samples)
#: and for a residual timing error either way.
WINDOW_ADVANCE = 8


def cut_symbols(samples: np.ndarray, start, n_sym: int, params: OfdmParams) -> np.ndarray:
    """FFT windows of ``n_sym`` consecutive symbols from raw samples.

    Parameters
    ----------
    samples : np.ndarray, shape ``(m,)`` or ``(n_bursts, m)``, complex
        Raw samples with cyclic prefixes (of several bursts: rows).
    start : int, or np.ndarray of shape ``(n_bursts,)``, int
        Index of the first symbol's cyclic prefix in ``samples`` (in each
        row, or per row).

    Returns
    -------
    np.ndarray, shape ``(n_sym, fft_len)`` (``(n_bursts, n_sym, fft_len)``),
    dtype ``complex64``: each window starts ``WINDOW_ADVANCE`` samples before
    the end of its prefix.
    """
    samples = np.asarray(samples, dtype=np.complex64)
    index = np.arange(n_sym)[:, None] * params.symbol_len + np.arange(params.fft_len)[None, :]
    first = np.asarray(start) + params.cp_len - WINDOW_ADVANCE
    if first.ndim == 0:
        return samples[..., int(first) + index]
    rows = (first[:, None] + index.reshape(1, -1))
    return np.take_along_axis(samples, rows, axis=-1).reshape(len(first), n_sym, params.fft_len)


def timing_error(raw_channel: np.ndarray, params: OfdmParams):
    """How many samples too early the FFT windows were cut.

    The strongest path of the channel's impulse response should sit at delay
    ``WINDOW_ADVANCE``; a window that starts ``e`` samples too early shows it
    at ``WINDOW_ADVANCE + e`` (negative ``e``: too late, the response wraps).

    Parameters
    ----------
    raw_channel : np.ndarray, shape ``([n_bursts,] fft_len)``, complex, fft-shifted

    Returns
    -------
    int, or np.ndarray of shape ``(n_bursts,)``, int64
    """
    # (ifftshift as a cached index: np.roll costs more than the FFT here)
    response = np.abs(np.fft.ifft(raw_channel[..., _ifftshift_index(params.fft_len)], axis=-1))
    peak = np.argmax(response, axis=-1)
    # Past the middle the response has wrapped: a negative delay.
    peak = np.where(peak >= params.fft_len // 2, peak - params.fft_len, peak) - WINDOW_ADVANCE
    return int(peak) if np.ndim(peak) == 0 else peak.astype(np.int64)
