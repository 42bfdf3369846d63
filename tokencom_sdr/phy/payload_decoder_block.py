"""GNU Radio sink: equalise, soft-demap and decode each burst's payload."""

import numpy as np
import pmt
from gnuradio import gr

from .burst_mapping import HEADER_OFDM_SYMBOLS, payload_from_symbols
from .header_decoder_block import (CARRIER_OFFSET_KEY, CHANNEL_KEY, FINE_CFO_KEY, PHASE_ANCHOR_KEY,
                                   SYMBOLS_PER_HEADER)
from .mcs import MCS_BY_INDEX
from .ofdm_equalizer import cut_symbols, equalize_burst, to_frequency_domain
from .payload_code import warm_up_codes
from .phy_header import HEADER_CODED_BITS
from .ofdm_params import FRAME_LENGTH_TAG, OfdmParams



class PayloadDecoderBlock(gr.sync_block):
    """Payload FFT vectors in, decoded packets out as PDUs.

    Input: raw complex64 samples from the demux's payload output, whole
    symbols with cyclic prefixes, starting where the header decoder's timing
    says; the first sample of each burst carries the header decoder's fields
    as tags (``frame_len`` in symbols, MCS, payload size, frequency offsets,
    channel estimate, phase anchor).
    Output message port ``pdus``: ``(meta, u8vector)`` per burst, with
    every burst delivered, decodable or not; the link layer's CRC decides.
    ``meta`` holds ``mcs`` (name), ``fec_ok`` (all codewords converged),
    ``snr_db``, ``cfo`` (normalised to the sample rate: preamble fine
    estimate + whole-carrier offset + residual on the header), ``packet_number``
    and ``bit_llr`` (f32vector, one posterior LLR per payload bit, positive
    favours 0); when the FEC failed also ``code_llr`` (f32vector, the channel
    LLRs of the coded payload as sent).
    Output message port ``symbols``: the burst's equalised payload symbols
    (c32vector PDU), for a constellation display.
    """

    def __init__(self, params: OfdmParams = None):
        self.params = params or OfdmParams()
        gr.sync_block.__init__(self, "tokencom_payload_decoder", in_sig=[np.complex64], out_sig=None)
        self.message_port_register_out(pmt.intern("pdus"))
        # The equalised payload symbols of each burst, for a constellation
        # display (PDU To Stream -> QT GUI Constellation Sink in GRC).
        self.message_port_register_out(pmt.intern("symbols"))
        warm_up_codes()  # not inside the first burst's work() call
        # Callables given each PDU as it is published (finite runs collect
        # PDUs here, race-free, instead of through a message sink).
        self.listeners = []
        self._frame = []
        self._frame_fields = None
        self._need = 0  # samples the current burst still lacks
        self.bursts_decoded = 0
        self.bursts_dropped = 0

    def work(self, input_items, output_items):
        samples = input_items[0]
        start = self.nitems_read(0)
        fields_at = {}
        for tag in self.get_tags_in_window(0, 0, len(samples)):
            fields_at.setdefault(tag.offset - start, {})[pmt.symbol_to_string(tag.key)] = tag.value
        burst_starts = sorted(o for o, fields in fields_at.items() if FRAME_LENGTH_TAG in fields)
        position = 0
        for boundary in burst_starts + [len(samples)]:
            self._collect(samples[position:boundary])
            if boundary < len(samples):
                self._begin(fields_at[boundary])
            position = boundary
        return len(samples)

    def _begin(self, fields):
        if self._frame:  # a new burst began before the last one filled
            self.bursts_dropped += 1
        self._frame_fields = fields
        self._frame = []
        self._need = int(pmt.to_long(fields[FRAME_LENGTH_TAG])) * self.params.symbol_len

    def _collect(self, samples):
        """Add samples to the burst being gathered (none: nothing to do)."""
        if self._frame_fields is None or len(samples) == 0:
            return
        take = min(self._need, len(samples))
        self._frame.append(np.array(samples[:take]))
        self._need -= take
        if self._need == 0:
            self._finish()

    def _finish(self):
        fields, frame = self._frame_fields, np.concatenate(self._frame)
        self._frame, self._frame_fields = [], None
        try:
            message = self._decode(frame, fields)
        except Exception as error:  # noqa: BLE001 - never stall the flowgraph
            gr.log.warn(f"tokencom payload decoder dropped a burst: {error}")
            self.bursts_dropped += 1
            return
        self.bursts_decoded += 1
        for listener in self.listeners:
            listener(message)
        self.message_port_pub(pmt.intern("pdus"), message)

    def _decode(self, frame, fields):
        mcs = MCS_BY_INDEX[int(pmt.to_long(fields["tokencom_mcs"]))]
        n_bytes = int(pmt.to_long(fields["tokencom_payload_bytes"]))
        channel = np.array(pmt.c32vector_elements(fields[CHANNEL_KEY]), dtype=np.complex64)
        carrier_offset = int(pmt.to_long(fields[CARRIER_OFFSET_KEY]))
        n_sym = frame.size // self.params.symbol_len
        fft_symbols = to_frequency_domain(cut_symbols(frame, 0, n_sym, self.params), SYMBOLS_PER_HEADER,
                                          pmt.to_double(fields[FINE_CFO_KEY]), self.params)
        anchor = np.array(pmt.c32vector_elements(fields[PHASE_ANCHOR_KEY]), dtype=np.complex64)
        burst = equalize_burst(fft_symbols, channel, carrier_offset, HEADER_OFDM_SYMBOLS, self.params,
                               anchor=anchor)
        # Pool the pilot residuals with the header's data-aided estimate.
        header_noise = pmt.to_double(fields["tokencom_header_noise"])
        pilot_samples = len(self.params.pilot_carriers) * n_sym
        header_samples = HEADER_CODED_BITS + HEADER_OFDM_SYMBOLS * len(self.params.pilot_carriers)
        pooled = ((header_noise * header_samples + burst.noise_power * pilot_samples)
                  / (header_samples + pilot_samples))
        noise_var = burst.noise_var * np.float32(pooled / burst.noise_power)
        decoded = payload_from_symbols(burst.symbols, noise_var, n_bytes, mcs)
        self.message_port_pub(pmt.intern("symbols"), pmt.cons(
            pmt.make_dict(), pmt.init_c32vector(burst.symbols.size, burst.symbols)))
        meta = pmt.make_dict()
        for key, value in (
                ("mcs", pmt.intern(mcs.name)),
                ("fec_ok", pmt.from_bool(decoded.fec_ok)),
                ("snr_db", fields["tokencom_snr_db"]),
                ("cfo", fields["tokencom_cfo"]),
                ("packet_number", fields["tokencom_packet_number"]),
                ("bit_llr", pmt.init_f32vector(decoded.bit_llr.size, decoded.bit_llr))):
            meta = pmt.dict_add(meta, pmt.intern(key), value)
        if not decoded.fec_ok:
            # A failed codeword can still be decoded again by a receiver that
            # knows part of the payload (header fields, a token prior).
            code_llr = decoded.channel_llr
            meta = pmt.dict_add(meta, pmt.intern("code_llr"),
                                pmt.init_f32vector(code_llr.size, code_llr))
        return pmt.cons(meta, pmt.init_u8vector(n_bytes, list(decoded.data)))
