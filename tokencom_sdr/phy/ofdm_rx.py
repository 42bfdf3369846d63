"""OFDM burst receiver as a GNU Radio hierarchical block."""

from gnuradio import blocks, digital, gr

from .burst_mapping import MAX_BURST_OFDM_SYMBOLS
from .header_decoder_block import SYMBOLS_PER_HEADER, TIMING_PADDING, HeaderDecoderBlock
from .ofdm_params import FRAME_LENGTH_TAG, OfdmParams
from .payload_decoder_block import PayloadDecoderBlock

DEFAULT_SYNC_THRESHOLD = 0.3

# Measured: with a delay of one full symbol the detector's mark falls about
# 12 samples before the start of the first preamble symbol's useful part.
# Delaying that much less centres the header decoder's timing correction.
_MARK_LEAD = 12


class OfdmBurstRx(gr.hier_block2):
    """OFDM bursts in, decoded packets out as PDUs, with soft information.

    Sample-rate work is gr-digital's C++: Schmidl & Cox timing detection and
    the header/payload demux, which cuts each burst into CP-free symbols.
    Everything after that happens once per burst in numpy (see
    ``HeaderDecoderBlock`` and ``PayloadDecoderBlock``): frequency offset
    and symbol timing from the preamble, FFT, channel estimation,
    equalisation with a phase reference from the decoded header and the
    pilots, soft demapping and LDPC decoding of header and payload.

    The detection threshold is a parameter. The stock ``ofdm_rx`` fixes it
    at 0.9, but the timing metric's plateau is only about (SNR/(1+SNR))^2,
    so it misses most frames below ~10 dB. At a low threshold false triggers
    are harmless: their header fails its CRC-16 and the demux resumes
    searching; and because the frequency offset is estimated per burst from
    its own preamble, a trigger inside a burst cannot disturb it.

    Input: ``complex64`` baseband samples.
    Output: message port ``pdus``: ``(meta, u8vector)`` per burst whose
    header decoded (see ``PayloadDecoderBlock`` for ``meta``). Every such
    burst is delivered, even if its FEC failed, so that the link layer can
    keep its soft values; the link CRC decides what is good. Message port
    ``symbols``: each burst's equalised payload symbols (c32vector PDUs),
    for a constellation display.

    Parameters
    ----------
    sync_threshold : float
        Schmidl & Cox timing-metric threshold in (0, 1).
    params : OfdmParams
        Numerology; must match the transmitter's. The MCS comes in the header.
    message_output : bool
        Expose the ``pdus`` message port (for GRC and message-connected
        flowgraphs). Scripts that take PDUs from
        ``payload_decoder.listeners`` pass False: GNU Radio 3.10 never frees
        a hier block whose inner block is message-connected to the hier's own
        port (gnuradio#7706), and a sweep that builds hundreds of receivers
        in one process would run out of shared memory.
    """

    def __init__(self, sync_threshold: float = DEFAULT_SYNC_THRESHOLD, params: OfdmParams = None,
                 message_output: bool = True):
        gr.hier_block2.__init__(self, "tokencom_ofdm_rx",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        if not 0.0 < sync_threshold < 1.0:
            raise ValueError(f"sync_threshold must lie in (0, 1), got {sync_threshold}")
        if message_output:
            self.message_port_register_hier_out("pdus")
            self.message_port_register_hier_out("symbols")
        self.params = params = params or OfdmParams()

        # Tags from upstream (a transmitter's packet_len in a loopback) would
        # be copied onto our payloads by the demux; a radio has none.
        self.tag_blocker = blocks.tag_gate(gr.sizeof_gr_complex, False)
        self.sync_detector = digital.ofdm_sync_sc_cfb(params.fft_len, params.cp_len, False, sync_threshold)
        # The detector marks the start of the second preamble symbol; about
        # one symbol of delay makes the mark fall on the first.
        self.sync_delay = blocks.delay(gr.sizeof_gr_complex, params.symbol_len - _MARK_LEAD)
        self.frequency_sink = blocks.null_sink(gr.sizeof_float)
        # Raw samples out (cyclic prefixes kept, padding around the header):
        # the decoders cut the symbols where the channel says they are.
        self.header_payload_demux = digital.header_payload_demux(
            SYMBOLS_PER_HEADER, params.symbol_len, 0, FRAME_LENGTH_TAG, "", False,
            gr.sizeof_gr_complex, "", 1.0, [], TIMING_PADDING)
        # The demux takes and writes a whole payload at once: the buffers
        # into and out of it must hold the longest burst the PHY allows,
        # twice over (the scheduler never offers a whole buffer at once).
        longest = 2 * MAX_BURST_OFDM_SYMBOLS * params.symbol_len
        self.sync_delay.set_min_output_buffer(0, longest)
        # (a hier block's own buffers cannot be sized from here, hence a copy)
        self.trigger_buffer = blocks.copy(gr.sizeof_char)
        self.trigger_buffer.set_min_output_buffer(0, longest)
        # (min_noutput_items, which the demux raises to the payload length,
        # applies to both of its outputs)
        for port in (0, 1):
            self.header_payload_demux.set_min_output_buffer(port, longest)
        self.connect(self, self.tag_blocker, self.sync_detector)
        self.connect(self.tag_blocker, self.sync_delay, (self.header_payload_demux, 0))
        self.connect((self.sync_detector, 0), self.frequency_sink)
        self.connect((self.sync_detector, 1), self.trigger_buffer, (self.header_payload_demux, 1))

        self.header_decoder = HeaderDecoderBlock(params)
        self.connect((self.header_payload_demux, 0), self.header_decoder)
        self.msg_connect(self.header_decoder, "header_data", self.header_payload_demux, "header_data")

        self.payload_decoder = PayloadDecoderBlock(params)
        self.connect((self.header_payload_demux, 1), self.payload_decoder)
        if message_output:
            self.msg_connect(self.payload_decoder, "pdus", self, "pdus")
            self.msg_connect(self.payload_decoder, "symbols", self, "symbols")
