"""OFDM burst transmitter as a GNU Radio hierarchical block."""

from gnuradio import blocks, digital, fft, gr

from .burst_mapper_block import BurstMapperBlock
from .burst_mapping import MAX_BURST_OFDM_SYMBOLS
from .mcs import get_mcs
from .ofdm_params import LENGTH_TAG, OfdmParams, make_pilot_symbols


class OfdmBurstTx(gr.hier_block2):
    """Packets in, coded OFDM bursts out.

    Each packet becomes one burst: two Schmidl & Cox preamble symbols, two
    BPSK symbols of LDPC-coded PHY header (payload length, MCS, packet
    number, CRC-16) and the payload coded and mapped with the MCS, followed
    by ``params.gap_len`` zero samples. Bursts have unit mean power over
    their non-gap samples, so a channel's SNR is simply ``1 / noise_power``.

    Coding and mapping run in numpy once per packet (``BurstMapperBlock``);
    carrier allocation, IFFT and cyclic prefix are gr-digital's C++ blocks.

    Input: ``uint8`` tagged stream, one packet per ``packet_len`` tag
    (e.g. from ``pdu_to_tagged_stream``).
    Output: ``complex64`` stream of bursts, each tagged with ``packet_len``.

    Parameters
    ----------
    mcs : str
        Modulation and coding scheme (see ``tokencom_sdr.phy.mcs``), e.g.
        ``"qpsk-1/2"``; ``"bpsk"``/``"qpsk"`` are uncoded.
    params : OfdmParams
        Numerology and gap length; must match the receiver's.
    """

    def __init__(self, mcs: str = "qpsk-1/2", params: OfdmParams = None):
        gr.hier_block2.__init__(self, "tokencom_ofdm_tx",
                                gr.io_signature(1, 1, gr.sizeof_char),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.params = params = params or OfdmParams()
        self.mcs = get_mcs(mcs)
        sync_word_1, sync_word_2 = params.sync_words()

        self.mapper = BurstMapperBlock(self.mcs, params)
        self.allocator = digital.ofdm_carrier_allocator_cvc(
            params.fft_len, params.occupied_carriers, params.pilot_carriers_per_symbol,
            make_pilot_symbols(), [list(sync_word_1), list(sync_word_2)], LENGTH_TAG, True)
        self.ifft = fft.fft_vcc(params.fft_len, False, [], True)
        self.cyclic_prefixer = digital.ofdm_cyclic_prefixer(
            params.fft_len, params.symbol_len, 0, LENGTH_TAG)
        self.normaliser = blocks.multiply_const_cc(params.tx_scale)
        self.gap_inserter = digital.burst_shaper_cc([], 0, params.gap_len, False, LENGTH_TAG)

        # Tagged-stream blocks emit a whole burst per call: every buffer on
        # the way must hold the longest burst the PHY allows, twice over (the
        # scheduler never offers a whole buffer at once).
        symbols = 2 * MAX_BURST_OFDM_SYMBOLS
        samples = 2 * (MAX_BURST_OFDM_SYMBOLS * params.symbol_len + params.gap_len)
        for block, items in ((self.allocator, symbols), (self.ifft, symbols),
                             (self.cyclic_prefixer, samples), (self.normaliser, samples),
                             (self.gap_inserter, samples)):
            block.set_min_output_buffer(0, items)
        self.connect(self, self.mapper, self.allocator, self.ifft, self.cyclic_prefixer,
                     self.normaliser, self.gap_inserter, self)
