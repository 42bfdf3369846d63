"""GNU Radio sink: synchronise and decode each burst's PHY header, tell the demux."""

import numpy as np
import pmt
from gnuradio import gr

from .burst_mapping import HEADER_OFDM_SYMBOLS, header_from_symbols, header_symbols, payload_ofdm_symbols
from .mcs import MCS_BY_INDEX
from .ofdm_equalizer import (equalize_burst, fine_frequency_offset, integer_carrier_offset,
                             preamble_channel, refine_channel, smooth_channel, to_frequency_domain)
from .ofdm_params import FRAME_LENGTH_TAG, OfdmParams

PREAMBLE_SYMBOLS = 2
SYMBOLS_PER_HEADER = PREAMBLE_SYMBOLS + HEADER_OFDM_SYMBOLS

# Fields the header decoder hands to the payload decoder (as demux tags).
CHANNEL_KEY = "tokencom_channel"
CARRIER_OFFSET_KEY = "tokencom_carrier_offset"
FINE_CFO_KEY = "tokencom_fine_cfo"


class HeaderDecoderBlock(gr.sync_block):
    """Preamble and header symbols in, ``header_data`` messages out.

    Input: time-domain OFDM symbols (``fft_len`` complex64, cyclic prefix
    removed) from ``header_payload_demux``: four per burst, two preamble and
    two header symbols.

    Per burst, in numpy: the fine frequency offset from the halves of the
    first preamble symbol (latched per burst, so a later false trigger cannot
    change it mid-burst as it would a free-running mixer); FFT; the
    whole-carrier offset and the channel from the second preamble symbol;
    equalisation and LDPC decoding of the header; then, with the header
    known, a refined channel and noise estimate for the payload.

    Output message port ``header_data``: for the demux, a dict with
    ``frame_len`` (payload OFDM symbols) and the fields that travel as tags to
    the payload decoder, or ``#f`` when the header fails its CRC. Every burst
    gets exactly one answer: the demux waits for it.
    """

    def __init__(self, params: OfdmParams = None):
        self.params = params or OfdmParams()
        gr.sync_block.__init__(self, "tokencom_header_decoder",
                               in_sig=[(np.complex64, self.params.fft_len)], out_sig=None)
        self.message_port_register_out(pmt.intern("header_data"))
        self._sync_word_2 = self.params.sync_words()[1].astype(np.complex64)
        self._pending = np.zeros((0, self.params.fft_len), dtype=np.complex64)
        # Callables given every answer (dict or #f) as it is published, for
        # observers that must not depend on message delivery at end of run.
        self.listeners = []
        self.headers_ok = 0
        self.headers_failed = 0

    def work(self, input_items, output_items):
        symbols = np.concatenate([self._pending, input_items[0]])
        used = 0
        while symbols.shape[0] - used >= SYMBOLS_PER_HEADER:
            self._answer(symbols[used:used + SYMBOLS_PER_HEADER])
            used += SYMBOLS_PER_HEADER
        self._pending = symbols[used:].copy()
        return len(input_items[0])

    def _answer(self, time_symbols):
        try:
            message = self._decode(time_symbols)
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

    def _decode(self, time_symbols):
        params = self.params
        fine_cfo = fine_frequency_offset(time_symbols[0])
        fft_symbols = to_frequency_domain(time_symbols, 0, fine_cfo, params)
        carrier_offset = integer_carrier_offset(fft_symbols[1], self._sync_word_2, params)
        raw_channel = preamble_channel(fft_symbols[1], self._sync_word_2, carrier_offset, params)
        header_fft = fft_symbols[PREAMBLE_SYMBOLS:]
        burst = equalize_burst(header_fft, smooth_channel(raw_channel, params), carrier_offset, 0, params)
        header = header_from_symbols(burst.symbols, burst.noise_var)
        if header is None or header.mcs_index not in MCS_BY_INDEX:
            return None
        # The decoded header is a known training sequence: it triples the
        # observations behind the channel estimate the payload will use, and
        # gives a noise estimate far better than 8 pilots alone.
        known = header_symbols(header)
        channel = refine_channel(header_fft, raw_channel, carrier_offset, 0, known, burst.rotation, params)
        burst = equalize_burst(header_fft, channel, carrier_offset, 0, params, known_data=known)
        mcs = MCS_BY_INDEX[header.mcs_index]
        residual = burst.phase_slope / (2 * np.pi * params.symbol_len)
        cfo = fine_cfo + carrier_offset / params.fft_len + residual
        fields = {
            FRAME_LENGTH_TAG: pmt.from_long(payload_ofdm_symbols(header.payload_bytes, mcs, params)),
            "tokencom_payload_bytes": pmt.from_long(header.payload_bytes),
            "tokencom_mcs": pmt.from_long(header.mcs_index),
            "tokencom_packet_number": pmt.from_long(header.packet_number),
            "tokencom_header_noise": pmt.from_double(burst.noise_power),
            "tokencom_snr_db": pmt.from_double(burst.snr_db),
            "tokencom_cfo": pmt.from_double(float(cfo)),
            FINE_CFO_KEY: pmt.from_double(fine_cfo),
            CARRIER_OFFSET_KEY: pmt.from_long(carrier_offset),
            CHANNEL_KEY: pmt.init_c32vector(len(channel), channel),
        }
        message = pmt.make_dict()
        for key, value in fields.items():
            message = pmt.dict_add(message, pmt.intern(key), value)
        return message
