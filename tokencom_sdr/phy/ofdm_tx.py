"""OFDM burst transmitter as a GNU Radio hierarchical block."""

from gnuradio import blocks, digital, fft, gr

from .modulation import bits_per_symbol, make_constellation
from .ofdm_params import LENGTH_TAG, OfdmParams, make_pilot_symbols

_SCRAMBLER_MASK, _SCRAMBLER_SEED, _SCRAMBLER_LEN = 0x8A, 0x7F, 7


class OfdmBurstTx(gr.hier_block2):
    """Packets in, OFDM bursts out.

    Each packet becomes one burst: two Schmidl & Cox preamble symbols, one
    BPSK header symbol (payload length, packet number, CRC-8) and the payload
    symbols, followed by ``params.gap_len`` zero samples. Bursts have unit
    mean power over their non-gap samples, so a channel's SNR is simply
    ``1 / noise_power``.

    Input: ``uint8`` tagged stream, one packet per ``packet_len`` tag
    (e.g. from ``pdu_to_tagged_stream``).
    Output: ``complex64`` stream of bursts, each tagged with ``packet_len``.

    Parameters
    ----------
    modulation : str
        Payload modulation: ``"bpsk"`` or ``"qpsk"``.
    params : OfdmParams
        Numerology and gap length; must match the receiver's.
    """

    def __init__(self, modulation: str = "qpsk", params: OfdmParams = None):
        gr.hier_block2.__init__(self, "tokencom_ofdm_tx",
                                gr.io_signature(1, 1, gr.sizeof_char),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.params = params = params or OfdmParams()
        self.modulation = modulation
        bps = bits_per_symbol(modulation)
        sync_word_1, sync_word_2 = params.sync_words()

        header_format = digital.packet_header_ofdm(
            params.occupied_carriers, n_syms=1, len_tag_key=LENGTH_TAG,
            bits_per_header_sym=1, bits_per_payload_sym=bps, scramble_header=True)
        self.header_generator = digital.packet_headergenerator_bb(header_format.base(), LENGTH_TAG)
        self.header_mapper = digital.chunks_to_symbols_bc(digital.constellation_bpsk().points())
        # Whitening keeps long runs of equal bits from piling energy into a
        # few carriers (PAPR) and gives the equaliser varied decisions.
        self.payload_scrambler = digital.additive_scrambler_bb(
            _SCRAMBLER_MASK, _SCRAMBLER_SEED, _SCRAMBLER_LEN, 0,
            bits_per_byte=8, reset_tag_key=LENGTH_TAG)
        self.payload_unpacker = blocks.repack_bits_bb(8, bps, LENGTH_TAG)
        self.payload_mapper = digital.chunks_to_symbols_bc(make_constellation(modulation).points())
        self.header_payload_mux = blocks.tagged_stream_mux(gr.sizeof_gr_complex, LENGTH_TAG, 1)
        self.allocator = digital.ofdm_carrier_allocator_cvc(
            params.fft_len, params.occupied_carriers, params.pilot_carriers_per_symbol,
            make_pilot_symbols(), [list(sync_word_1), list(sync_word_2)], LENGTH_TAG, True)
        self.ifft = fft.fft_vcc(params.fft_len, False, [], True)
        self.cyclic_prefixer = digital.ofdm_cyclic_prefixer(
            params.fft_len, params.symbol_len, 0, LENGTH_TAG)
        self.normaliser = blocks.multiply_const_cc(params.tx_scale)
        self.gap_inserter = digital.burst_shaper_cc([], 0, params.gap_len, False, LENGTH_TAG)

        self.connect(self, self.header_generator, self.header_mapper, (self.header_payload_mux, 0))
        self.connect(self, self.payload_scrambler, self.payload_unpacker, self.payload_mapper,
                     (self.header_payload_mux, 1))
        self.connect(self.header_payload_mux, self.allocator, self.ifft, self.cyclic_prefixer,
                     self.normaliser, self.gap_inserter, self)
