"""OFDM burst receiver as a GNU Radio hierarchical block."""

from gnuradio import analog, blocks, digital, fft, gr, pdu

from .modulation import bits_per_symbol, make_constellation
from .ofdm_params import (FRAME_LENGTH_TAG, LENGTH_TAG, PACKET_NUM_TAG, OfdmParams,
                          make_pilot_symbols)
from .ofdm_tx import _SCRAMBLER_LEN, _SCRAMBLER_MASK, _SCRAMBLER_SEED

DEFAULT_SYNC_THRESHOLD = 0.7


class OfdmBurstRx(gr.hier_block2):
    """OFDM bursts in, received packets out as PDUs.

    Built from gr-digital's OFDM blocks like the stock ``ofdm_rx``, with one
    difference that matters at low SNR: the Schmidl & Cox detection threshold
    is a parameter. The stock receiver fixes it at 0.9, but the timing
    metric's plateau is only about SNR/(1+SNR), so frames below ~15 dB are
    missed. False triggers at a lower threshold cost nothing: their header
    fails its CRC-8, and a payload that slips through fails the link CRC-32.

    Input: ``complex64`` baseband samples at the TX sample rate.
    Output: message port ``pdus``; each PDU is ``(meta, u8vector)`` with the
    packet bytes exactly as the receiver decided them (unchecked: the link
    layer's CRC decides whether they are good). ``meta`` carries the tags of
    the burst, e.g. ``ofdm_sync_carr_offset`` and ``packet_num``.

    Parameters
    ----------
    modulation : str
        Payload modulation, as at the transmitter.
    sync_threshold : float
        Schmidl & Cox timing-metric threshold in (0, 1).
    params : OfdmParams
        Numerology; must match the transmitter's.
    """

    def __init__(self, modulation: str = "qpsk", sync_threshold: float = DEFAULT_SYNC_THRESHOLD,
                 params: OfdmParams = None):
        gr.hier_block2.__init__(self, "tokencom_ofdm_rx",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        if not 0.0 < sync_threshold < 1.0:
            raise ValueError(f"sync_threshold must lie in (0, 1), got {sync_threshold}")
        self.message_port_register_hier_out("pdus")
        self.params = params = params or OfdmParams()
        self.modulation = modulation
        bps = bits_per_symbol(modulation)
        sync_word_1, sync_word_2 = params.sync_words()
        fft_len = params.fft_len

        # --- Sync: timing from the S&C plateau, fine CFO removed by a mixer.
        self.sync_detector = digital.ofdm_sync_sc_cfb(fft_len, params.cp_len, False, sync_threshold)
        self.sync_delay = blocks.delay(gr.sizeof_gr_complex, params.symbol_len)
        self.cfo_oscillator = analog.frequency_modulator_fc(-2.0 / fft_len)
        self.cfo_mixer = blocks.multiply_cc()
        self.header_payload_demux = digital.header_payload_demux(
            3, fft_len, params.cp_len, FRAME_LENGTH_TAG, "", True)
        # Tags from upstream (a transmitter's packet_len in a loopback) would
        # be taken for our own framing tags by the demux; a radio has none.
        self.tag_blocker = blocks.tag_gate(gr.sizeof_gr_complex, False)
        self.connect(self, self.tag_blocker, self.sync_detector)
        self.connect(self.tag_blocker, self.sync_delay, (self.cfo_mixer, 0), (self.header_payload_demux, 0))
        self.connect((self.sync_detector, 0), self.cfo_oscillator, (self.cfo_mixer, 1))
        self.connect((self.sync_detector, 1), (self.header_payload_demux, 1))

        # --- Header: channel estimate from the preamble, BPSK decisions.
        header_format = digital.packet_header_ofdm(
            params.occupied_carriers, 1, LENGTH_TAG, FRAME_LENGTH_TAG, PACKET_NUM_TAG,
            1, bps, scramble_header=True)
        self.header_fft = fft.fft_vcc(fft_len, True, [], True)
        self.channel_estimator = digital.ofdm_chanest_vcvc(list(sync_word_1), list(sync_word_2), 1)
        self.header_equaliser_model = digital.ofdm_equalizer_simpledfe(
            fft_len, digital.constellation_bpsk().base(), params.occupied_carriers,
            params.pilot_carriers_per_symbol, make_pilot_symbols(), 0)
        self.header_equaliser = digital.ofdm_frame_equalizer_vcvc(
            self.header_equaliser_model.base(), params.cp_len, FRAME_LENGTH_TAG, True, 1)
        self.header_serialiser = digital.ofdm_serializer_vcc(
            fft_len, params.occupied_carriers, FRAME_LENGTH_TAG)
        self.header_slicer = digital.constellation_decoder_cb(digital.constellation_bpsk().base())
        self.header_parser = digital.packet_headerparser_b(header_format.formatter())
        self.connect((self.header_payload_demux, 0), self.header_fft, self.channel_estimator,
                     self.header_equaliser, self.header_serialiser, self.header_slicer,
                     self.header_parser)
        self.msg_connect(self.header_parser, "header_data", self.header_payload_demux, "header_data")

        # --- Payload: equalise with pilot/decision tracking, slice, repack.
        self.payload_constellation = make_constellation(modulation)
        self.payload_fft = fft.fft_vcc(fft_len, True, [], True)
        self.payload_equaliser_model = digital.ofdm_equalizer_simpledfe(
            fft_len, self.payload_constellation.base(), params.occupied_carriers,
            params.pilot_carriers_per_symbol, make_pilot_symbols(), 1, 0.1)
        self.payload_equaliser = digital.ofdm_frame_equalizer_vcvc(
            self.payload_equaliser_model.base(), params.cp_len, FRAME_LENGTH_TAG)
        self.payload_serialiser = digital.ofdm_serializer_vcc(
            fft_len, params.occupied_carriers, FRAME_LENGTH_TAG, LENGTH_TAG, 1)
        self.payload_slicer = digital.constellation_decoder_cb(self.payload_constellation.base())
        self.payload_packer = blocks.repack_bits_bb(bps, 8, LENGTH_TAG, True)
        self.payload_descrambler = digital.additive_scrambler_bb(
            _SCRAMBLER_MASK, _SCRAMBLER_SEED, _SCRAMBLER_LEN, 0,
            bits_per_byte=8, reset_tag_key=LENGTH_TAG)
        self.to_pdu = pdu.tagged_stream_to_pdu(gr.types.byte_t, LENGTH_TAG)
        self.connect((self.header_payload_demux, 1), self.payload_fft, self.payload_equaliser,
                     self.payload_serialiser, self.payload_slicer, self.payload_packer,
                     self.payload_descrambler, self.to_pdu)
        self.msg_connect(self.to_pdu, "pdus", self, "pdus")
