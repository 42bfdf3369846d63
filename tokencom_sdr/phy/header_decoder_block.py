"""GNU Radio sink: synchronise and decode each burst's PHY header, tell the demux."""

import numpy as np
import pmt
from gnuradio import gr

from .burst_mapping import HEADER_OFDM_SYMBOLS, header_from_symbols, header_symbols, payload_ofdm_symbols
from .mcs import MCS_BY_INDEX
from .ofdm_equalizer import (channel_fit_share, cut_symbols, equalize_burst, fine_frequency_offset,
                             integer_carrier_offset, preamble_channel, preamble_correlation,
                             refine_channel, smooth_channel, timing_error, to_frequency_domain)
from .ofdm_params import FRAME_LENGTH_TAG, OfdmParams

PREAMBLE_SYMBOLS = 2
SYMBOLS_PER_HEADER = PREAMBLE_SYMBOLS + HEADER_OFDM_SYMBOLS
#: Raw samples the demux adds before and after each header, so that the
#: symbol timing can be corrected by up to this much in either direction.
TIMING_PADDING = 24
#: Timing errors (samples) below this are left to the channel estimate.
RECUT_THRESHOLD = 3
#: hpd's key for moving the payload start by a number of samples.
PAYLOAD_OFFSET_KEY = "payload_offset"

# Fields the header decoder hands to the payload decoder (as demux tags).
CHANNEL_KEY = "tokencom_channel"
CARRIER_OFFSET_KEY = "tokencom_carrier_offset"
FINE_CFO_KEY = "tokencom_fine_cfo"
PHASE_ANCHOR_KEY = "tokencom_phase_anchor"


class HeaderDecoderBlock(gr.sync_block):
    """Preamble and header symbols in, ``header_data`` messages out.

    Input: raw complex64 samples from ``header_payload_demux``: per burst,
    the two preamble and two header symbols with their cyclic prefixes, plus
    ``TIMING_PADDING`` samples on either side.

    Per burst, in numpy: the fine frequency offset from the halves of the
    first preamble symbol (latched per burst, so a later false trigger cannot
    change it mid-burst as it would a free-running mixer); FFT; the
    whole-carrier offset and the channel from the second preamble symbol;
    symbol timing from the channel's impulse response (the detector's mark
    wanders by several samples at low SNR), and a second pass cut at the
    corrected timing; equalisation and LDPC decoding of the header; then,
    with the header known, a refined channel, phase reference and noise
    estimate for the payload, whose start moves by the same correction.

    Output message port ``header_data``: for the demux, a dict with
    ``frame_len`` (payload OFDM symbols) and the fields that travel as tags to
    the payload decoder, or ``#f`` when the header fails its CRC. Every burst
    gets exactly one answer: the demux waits for it.
    """

    def __init__(self, params: OfdmParams = None):
        self.params = params or OfdmParams()
        gr.sync_block.__init__(self, "tokencom_header_decoder", in_sig=[np.complex64], out_sig=None)
        self.message_port_register_out(pmt.intern("header_data"))
        self._sync_word_2 = self.params.sync_words()[1].astype(np.complex64)
        self._chunk = SYMBOLS_PER_HEADER * self.params.symbol_len + 2 * TIMING_PADDING
        self._pending = np.zeros(0, dtype=np.complex64)
        # Callables given every answer (dict or #f) as it is published, for
        # observers that must not depend on message delivery at end of run.
        self.listeners = []
        self.headers_ok = 0
        self.headers_failed = 0

    def work(self, input_items, output_items):
        samples = np.concatenate([self._pending, input_items[0]])
        used = 0
        while samples.shape[0] - used >= self._chunk:
            self._answer(samples[used:used + self._chunk])
            used += self._chunk
        self._pending = samples[used:].copy()
        return len(input_items[0])

    def _answer(self, samples):
        try:
            message = self._decode(samples)
        except Exception as error:  # noqa: BLE001 - the demux must get an answer
            gr.log.warn(f"tokencom header decoder: {error}")
            message = None
        if message is None:
            self.headers_failed += 1
            message = pmt.PMT_F
        else:
            self.headers_ok += 1
        for listener in self.listeners:
            listener(message)
        self.message_port_pub(pmt.intern("header_data"), message)

    def _synchronise(self, samples, start):
        params = self.params
        time_symbols = cut_symbols(samples, start, SYMBOLS_PER_HEADER, params)
        fine_cfo = fine_frequency_offset(time_symbols[0])
        fft_symbols = to_frequency_domain(time_symbols, 0, fine_cfo, params)
        carrier_offset = integer_carrier_offset(fft_symbols[1], self._sync_word_2, params)
        raw_channel = preamble_channel(fft_symbols[1], self._sync_word_2, carrier_offset, params)
        return fine_cfo, fft_symbols, carrier_offset, raw_channel

    def _decode(self, samples):
        params, sync_word_2 = self.params, self._sync_word_2
        fine_cfo, fft_symbols, carrier_offset, raw_channel = self._synchronise(samples, TIMING_PADDING)
        correction = int(np.clip(timing_error(raw_channel, params), -TIMING_PADDING, TIMING_PADDING))
        # A few samples either way stay inside the cyclic prefix's margin and
        # the channel estimate absorbs them; only a real miss is re-cut.
        if abs(correction) < RECUT_THRESHOLD:
            correction = 0
        else:
            fine_cfo, fft_symbols, carrier_offset, raw_channel = self._synchronise(
                samples, TIMING_PADDING + correction)
        channel = smooth_channel(raw_channel, params)
        header_fft = fft_symbols[PREAMBLE_SYMBOLS:]
        anchor = [preamble_correlation(fft_symbols[1], sync_word_2, channel, carrier_offset, params)]
        burst = equalize_burst(header_fft, channel, carrier_offset, 0, params, anchor=anchor)
        header = header_from_symbols(burst.symbols, burst.noise_var)
        if header is None or header.mcs_index not in MCS_BY_INDEX:
            return None
        # The decoded header is a known training sequence: it triples the
        # observations behind the channel estimate the payload will use,
        # anchors the payload's phase, and gives a noise estimate far better
        # than 8 pilots alone.
        known = header_symbols(header)
        channel = refine_channel(header_fft, raw_channel, carrier_offset, 0, known, burst.rotation, params)
        anchor = [preamble_correlation(fft_symbols[1], sync_word_2, channel, carrier_offset, params)]
        burst = equalize_burst(header_fft, channel, carrier_offset, 0, params, known_data=known, anchor=anchor)
        payload_anchor = np.concatenate([anchor, burst.correlation]).astype(np.complex64)
        # The refined channel was fitted to these same header symbols, so
        # their residual underestimates the noise by the share of degrees of
        # freedom the fit used (delays over observations).
        noise = burst.noise_power / (1.0 - channel_fit_share(params, HEADER_OFDM_SYMBOLS + 1))
        snr_db = burst.snr_db - 10 * np.log10(noise / burst.noise_power)
        mcs = MCS_BY_INDEX[header.mcs_index]
        residual = burst.phase_slope / (2 * np.pi * params.symbol_len)
        cfo = fine_cfo + carrier_offset / params.fft_len + residual
        fields = {
            FRAME_LENGTH_TAG: pmt.from_long(payload_ofdm_symbols(header.payload_bytes, mcs, params)),
            PAYLOAD_OFFSET_KEY: pmt.from_long(correction),
            "tokencom_payload_bytes": pmt.from_long(header.payload_bytes),
            "tokencom_mcs": pmt.from_long(header.mcs_index),
            "tokencom_packet_number": pmt.from_long(header.packet_number),
            "tokencom_header_noise": pmt.from_double(noise),
            "tokencom_snr_db": pmt.from_double(snr_db),
            "tokencom_cfo": pmt.from_double(float(cfo)),
            FINE_CFO_KEY: pmt.from_double(fine_cfo),
            CARRIER_OFFSET_KEY: pmt.from_long(carrier_offset),
            CHANNEL_KEY: pmt.init_c32vector(len(channel), channel),
            PHASE_ANCHOR_KEY: pmt.init_c32vector(len(payload_anchor), payload_anchor),
        }
        message = pmt.make_dict()
        for key, value in fields.items():
            message = pmt.dict_add(message, pmt.intern(key), value)
        return message
