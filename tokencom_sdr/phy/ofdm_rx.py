"""OFDM burst receiver as a GNU Radio hierarchical block."""

from gnuradio import blocks, gr

from .burst_decoder_block import BurstDecoderBlock
from .hier_message_ports import export_message_output
from .non_finite_guard import NonFiniteHold
from .schmidl_cox import SchmidlCoxDetector
from .ofdm_params import OfdmParams

DEFAULT_SYNC_THRESHOLD = 0.3

# Measured: the detector's mark falls about this many samples after a burst's
# first sample (one symbol, less 12). The header decoder's timing correction,
# centred on this lag, takes care of the wander under noise and multipath.
MARK_LEAD = 12
# Input buffer of the decoder, in samples (about 60 bursts of 100 bytes):
# the more bursts a work() call brings, the larger its batches. Measured
# (bench/phy_throughput.py's receiver, best of 9): 2^15 / 2^16 / 2^17 / 2^18
# samples took 0.28 / 0.21 / 0.18 / 0.21 s.
_DECODER_INPUT_ITEMS = 1 << 17


class OfdmBurstRx(gr.hier_block2):
    """OFDM bursts in, decoded packets out as PDUs, with soft information.

    Sample-rate work is a Schmidl & Cox timing detector (:mod:`.schmidl_cox`:
    gr-digital's metric with running sums in GNU Radio's C++ blocks, and a
    plateau stage in numpy whose state outlives each work() call). One
    Python block (:class:`~.burst_decoder_block.BurstDecoderBlock`) takes
    the samples and the detector's triggers in large chunks, buffers each
    burst itself and does everything else once per burst in numpy (see
    :mod:`~.burst_decoding`): frequency offset and symbol timing from the
    preamble, FFT, channel estimation, equalisation with a phase reference
    from the decoded header and the pilots, soft demapping and LDPC decoding
    of header and payload.

    The detection threshold is a parameter. The stock ``ofdm_rx`` fixes it
    at 0.9, but the timing metric's plateau is only about (SNR/(1+SNR))^2,
    so it misses most frames below ~10 dB. At a low threshold false triggers
    are harmless: their header fails its CRC-16 and the next trigger is
    tried; and because the frequency offset is estimated per burst from its
    own preamble, a trigger inside a burst cannot disturb it.

    Input: ``complex64`` baseband samples (stream tags are ignored).
    Output: message port ``pdus``: ``(meta, u8vector)`` per burst whose
    header decoded (see :func:`~.burst_pdu.pdu_meta` for ``meta``). Every
    such burst is delivered, even if its FEC failed, so that the link layer
    can keep its soft values; the link CRC decides what is good. Message
    port ``symbols``: each burst's equalised payload symbols (c32vector
    PDUs), for a constellation display. Scripts can instead take every burst
    as a :class:`~.received_burst.ReceivedBurst` from ``decoder.listeners``
    (no PMT round trip, and nothing lost when a finite run stops). The
    message ports do not keep the receiver alive after its flowgraph is
    dropped (:mod:`.hier_message_ports`), so a process can build and drop
    receivers without end.

    Parameters
    ----------
    sync_threshold : float
        Schmidl & Cox timing-metric threshold in (0, 1).
    params : OfdmParams
        Numerology; must match the transmitter's. The MCS comes in the header.
    channel_tracking : bool
        Track the channel across payloads whose first decoding failed
        (:mod:`.channel_tracking`): what a moving radio needs, free on a
        static channel. False only to measure what it brings.
    """

    def __init__(self, sync_threshold: float = DEFAULT_SYNC_THRESHOLD, params: OfdmParams = None,
                 channel_tracking: bool = True):
        gr.hier_block2.__init__(self, "tokencom_ofdm_rx",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        if not 0.0 < sync_threshold < 1.0:
            raise ValueError(f"sync_threshold must lie in (0, 1), got {sync_threshold}")
        self.params = params = params or OfdmParams()

        self.decoder = BurstDecoderBlock(params, trigger_lag=params.symbol_len - MARK_LEAD,
                                         channel_tracking=channel_tracking)
        # Each work() call of a Python block costs tens of microseconds of
        # scheduling and wrapping, and the decoder decodes the headers and
        # payloads a call completes as batches: large input buffers let it
        # take many bursts per call (the sample buffer in front of it
        # belongs to the block upstream, hence a copy). Non-finite samples
        # are held out of the detector, and zeroed (and counted) by the decoder.
        self.sample_buffer = blocks.copy(gr.sizeof_gr_complex)
        self.sample_buffer.set_min_output_buffer(0, _DECODER_INPUT_ITEMS)
        self.detector_input = NonFiniteHold()
        self.sync_detector = SchmidlCoxDetector(params.fft_len, params.cp_len, sync_threshold,
                                                output_items=_DECODER_INPUT_ITEMS)
        self.connect(self, self.sample_buffer, (self.decoder, 0))
        self.connect(self, self.detector_input, self.sync_detector, (self.decoder, 1))
        export_message_output(self, self.decoder, "pdus")
        export_message_output(self, self.decoder, "symbols")

    @property
    def samples_zeroed(self) -> int:
        """Non-finite input samples set to zero so far."""
        return self.decoder.samples_zeroed
