"""GNU Radio blocks for token-domain multiple access (thin wrappers over
:mod:`tokencom_sdr.todma`).

* :class:`TodmaDeviceTx`: one device; its text's first ``slots`` BPE tokens
  as codewords of the shared codebook on a ToDMA OFDM frame (Schmidl & Cox
  preamble, data carriers, pilots: :mod:`tokencom_sdr.todma.ofdm_frame`),
  times a fixed gain, between ``guard`` zero samples either side; a finite
  stream. Per-device fading comes from a gr-channels block after it.
* :class:`TodmaTextRx`: the receiver. gr-digital's C++ Schmidl & Cox
  detector (the PHY receiver's) marks the frame; a Python block
  (:class:`TodmaFrameRx`) buffers the samples, and once a whole frame after
  the mark has arrived it runs the ToDMA receiver (timing and CFO from the
  preamble and pilots, detection, clustering with K estimated or given,
  joint detection, collision masking, context fill) and publishes one
  message per device cluster on its ``text`` port, a PMT dict with
  ``device`` (cluster index), ``text``, ``masked`` (tokens masked before the
  fill) and ``collisions``.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import pmt
from gnuradio import blocks, digital, gr

from ..phy.burst_decoding import TIMING_PADDING
from ..phy.hier_message_ports import export_message_output
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD

__all__ = ["TodmaDeviceTx", "TodmaTextRx", "TodmaFrameRx"]


class TodmaDeviceTx(gr.hier_block2):
    """One ToDMA device sending a text on one OFDM frame.

    Parameters
    ----------
    text : str
        At least ``slots`` BPE tokens long.
    gain : complex
        A fixed gain (1 when a fading block follows).
    codeword_len : int
        L.
    slots : int
        Tokens sent (one per slot).
    codebook_seed : int
        Seed of the shared codebook (the receiver's must match).
    guard : int
        Zero samples before and after the frame.
    """

    def __init__(self, text: str, gain: complex = 1.0, codeword_len: int = 64,
                 slots: int = 16, codebook_seed: int = 0, guard: int = 200):
        gr.hier_block2.__init__(self, "todma_device_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        from ..todma import FrameLayout, frame_waveforms, gaussian_codebook
        from ..tokens.text_bpe import TextTokenizer

        if guard < TIMING_PADDING:
            raise ValueError(f"guard must be >= {TIMING_PADDING} samples, got {guard}")
        tokenizer = TextTokenizer.default()
        tokens = tokenizer.encode(text)
        if tokens.size < slots:
            raise ValueError(f"the text has {tokens.size} tokens, fewer than the {slots} slots")
        codebook = gaussian_codebook(codeword_len, 1 << tokenizer.bits_per_token, codebook_seed)
        self.tokens = tokens[:slots]
        self.layout = FrameLayout(slots=slots, codeword_len=codeword_len)
        frame = complex(gain) * frame_waveforms(codebook, self.tokens[None, :], self.layout)[0]
        silence = np.zeros(guard, dtype=np.complex64)
        self.samples = np.concatenate([silence, frame.astype(np.complex64), silence])
        self.source = blocks.vector_source_c(self.samples.tolist(), False)
        self.connect(self.source, self)


class TodmaFrameRx(gr.sync_block):
    """The Python half of :class:`TodmaTextRx`: samples and the detector's
    marks in, one message per device out, once per frame.

    Parameters
    ----------
    num_devices : int
        K, or 0 to let the receiver estimate it.
    codeword_len, slots : int
        L and N of the frame.
    snr_db : float
        The per-use SNR the noise was set for (the receiver's noise variance).
    codebook_seed : int
    recovery : bool
        Fill masked tokens with the text context model.
    """

    def __init__(self, num_devices: int = 0, codeword_len: int = 64, slots: int = 16,
                 snr_db: float = 20.0, codebook_seed: int = 0, recovery: bool = True):
        gr.sync_block.__init__(self, "todma_frame_rx", in_sig=[np.complex64, np.int8],
                               out_sig=None)
        from ..todma import FrameLayout, ToDMAReceiver, gaussian_codebook, noise_variance
        from ..tokens.text_bpe import TextTokenizer

        self.tokenizer = TextTokenizer.default()
        codebook = gaussian_codebook(codeword_len, 1 << self.tokenizer.bits_per_token,
                                     codebook_seed)
        self.receiver = ToDMAReceiver(codebook, num_devices or None)
        self.layout = FrameLayout(slots=slots, codeword_len=codeword_len)
        self.noise_var = noise_variance(snr_db, codeword_len)
        self.text_recovery = None
        if recovery:
            from ..context.text_recovery import TextRecovery
            self.text_recovery = TextRecovery()
        self.samples = np.zeros(0, dtype=np.complex64)
        self.first_sample = 0  # stream index of self.samples[0]
        self.mark: Optional[int] = None  # stream index of the pending frame's mark
        #: One dict per device of every frame received (also published on ``text``).
        self.messages: List[dict] = []
        self.frames = 0
        self.message_port_register_out(pmt.intern("text"))

    def work(self, input_items, output_items):
        from ..todma import start_from_mark

        samples, marks = input_items[0], input_items[1]
        arrived = self.nitems_read(0)
        if self.mark is None:
            found = np.flatnonzero(marks)
            if found.size:
                self.mark = arrived + int(found[0])
        self.samples = np.concatenate([self.samples, samples])
        if self.mark is not None:
            start = start_from_mark(self.mark - self.first_sample, self.layout.params)
            if self.samples.size >= start + self.layout.samples + TIMING_PADDING:
                self._receive(max(start, TIMING_PADDING))
        if self.mark is None:
            # Nothing to wait for: keep only what a frame starting later could need.
            keep = self.layout.params.symbol_len + TIMING_PADDING
            drop = max(self.samples.size - keep, 0)
            self.samples, self.first_sample = self.samples[drop:], self.first_sample + drop
        return len(samples)

    def _receive(self, start: int) -> None:
        try:
            result = self.receiver.receive_samples(
                self.samples, self.noise_var, self.layout, start=start,
                text_recovery=self.text_recovery, bits_per_token=self.tokenizer.bits_per_token)
        except ValueError as error:  # a frame cut short: report it, never hang the flowgraph
            gr.log.warn(f"ToDMA frame at {self.first_sample + start} not received: {error}")
        else:
            self.frames += 1
            ids = result.filled if result.filled is not None else result.sequences.tokens
            for device in range(ids.shape[0]):
                message = {"device": device, "text": self.tokenizer.decode(ids[device]),
                           "masked": int(result.sequences.erased[device].sum()),
                           "collisions": int(result.sequences.collision[device].sum())}
                self.messages.append(message)
                self.message_port_pub(pmt.intern("text"), pmt.to_pmt(message))
        # The next frame starts after this one; marks inside it are ignored.
        end = start + self.layout.samples
        self.samples, self.first_sample = self.samples[end:], self.first_sample + end
        self.mark = None


class TodmaTextRx(gr.hier_block2):
    """The ToDMA receiver for text: gr-digital's Schmidl & Cox detector and
    :class:`TodmaFrameRx` (parameters as there, plus ``sync_threshold``)."""

    def __init__(self, num_devices: int = 0, codeword_len: int = 64, slots: int = 16,
                 snr_db: float = 20.0, codebook_seed: int = 0, recovery: bool = True,
                 sync_threshold: float = DEFAULT_SYNC_THRESHOLD):
        gr.hier_block2.__init__(self, "todma_text_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        from ..todma import FrameLayout

        params = FrameLayout(slots=slots, codeword_len=codeword_len).params
        self.detector = digital.ofdm_sync_sc_cfb(params.fft_len, params.cp_len, False,
                                                 sync_threshold)
        self.frequency_sink = blocks.null_sink(gr.sizeof_float)
        self.frame_rx = TodmaFrameRx(num_devices, codeword_len, slots, snr_db, codebook_seed,
                                     recovery)
        self.connect(self, (self.frame_rx, 0))
        self.connect(self, self.detector)
        self.connect((self.detector, 0), self.frequency_sink)
        self.connect((self.detector, 1), (self.frame_rx, 1))
        export_message_output(self, self.frame_rx, "text")

    @property
    def messages(self) -> List[dict]:
        """Every message received so far."""
        return self.frame_rx.messages
