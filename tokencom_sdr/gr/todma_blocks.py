"""GNU Radio blocks for token-domain multiple access (thin wrappers over
:mod:`tokencom_sdr.todma`).

* :class:`TodmaDeviceTx`: one device; its text's first ``slots`` BPE tokens
  as codewords of the shared codebook, times its channel gain, as a finite
  complex stream (``slots x L`` samples, then the block is done).
* :class:`TodmaTextRx`: the receiver; it collects one frame of
  ``slots x L`` samples of the devices' sum plus noise, runs the ToDMA
  receiver (detection, clustering, collision masking, context fill) and
  publishes one message per device cluster on its ``text`` port, a PMT dict
  with ``device`` (cluster index), ``text``, ``masked`` (tokens masked before
  the fill) and ``collisions``.
"""

from __future__ import annotations

from typing import List

import numpy as np
import pmt
from gnuradio import blocks, gr

__all__ = ["TodmaDeviceTx", "TodmaTextRx"]


class TodmaDeviceTx(gr.hier_block2):
    """One ToDMA device sending a text.

    Parameters
    ----------
    text : str
        At least ``slots`` BPE tokens long.
    gain : complex
        The device's flat channel.
    codeword_len : int
        L.
    slots : int
        Tokens sent (one per slot).
    codebook_seed : int
        Seed of the shared codebook (the receiver's must match).
    """

    def __init__(self, text: str, gain: complex = 1.0, codeword_len: int = 64,
                 slots: int = 16, codebook_seed: int = 0):
        gr.hier_block2.__init__(self, "todma_device_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        from ..todma import device_samples, gaussian_codebook
        from ..tokens.text_bpe import TextTokenizer

        tokenizer = TextTokenizer.default()
        tokens = tokenizer.encode(text)
        if tokens.size < slots:
            raise ValueError(f"the text has {tokens.size} tokens, fewer than the {slots} slots")
        codebook = gaussian_codebook(codeword_len, 1 << tokenizer.bits_per_token, codebook_seed)
        self.tokens = tokens[:slots]
        self.samples = device_samples(codebook, self.tokens, complex(gain))
        self.source = blocks.vector_source_c(self.samples.tolist(), False)
        self.connect(self.source, self)


class TodmaTextRx(gr.sync_block):
    """The ToDMA receiver for text: one frame in, one message per device out.

    Parameters
    ----------
    num_devices : int
        K.
    codeword_len : int
        L.
    slots : int
        Slots per frame.
    snr_db : float
        The per-use SNR the noise was set for (the receiver's noise variance:
        :func:`~tokencom_sdr.todma.transmitter.noise_variance`).
    codebook_seed : int
    recovery : bool
        Fill masked tokens with the text context model.
    """

    def __init__(self, num_devices: int = 4, codeword_len: int = 64, slots: int = 16,
                 snr_db: float = 20.0, codebook_seed: int = 0, recovery: bool = True):
        gr.sync_block.__init__(self, "todma_text_rx", in_sig=[np.complex64], out_sig=None)
        from ..todma import ToDMAReceiver, gaussian_codebook, noise_variance
        from ..tokens.text_bpe import TextTokenizer

        self.tokenizer = TextTokenizer.default()
        codebook = gaussian_codebook(codeword_len, 1 << self.tokenizer.bits_per_token,
                                     codebook_seed)
        self.receiver = ToDMAReceiver(codebook, num_devices)
        self.noise_var = noise_variance(snr_db, codeword_len)
        self.frame_len = slots * codeword_len
        self.codeword_len = codeword_len
        self.text_recovery = None
        if recovery:
            from ..context.text_recovery import TextRecovery
            self.text_recovery = TextRecovery()
        self.buffer: List[np.ndarray] = []
        self.buffered = 0
        #: One dict per device of the last frame (also published on ``text``).
        self.messages: List[dict] = []
        self.message_port_register_out(pmt.intern("text"))

    def work(self, input_items, output_items):
        samples = input_items[0]
        if self.buffered < self.frame_len:
            take = samples[:self.frame_len - self.buffered].copy()
            self.buffer.append(take)
            self.buffered += take.size
            if self.buffered == self.frame_len:
                self._receive(np.concatenate(self.buffer))
        return len(samples)

    def _receive(self, frame: np.ndarray) -> None:
        result = self.receiver.receive(frame.reshape(-1, self.codeword_len), self.noise_var,
                                       self.text_recovery, self.tokenizer.bits_per_token)
        ids = result.filled if result.filled is not None else result.sequences.tokens
        for device in range(ids.shape[0]):
            message = {"device": device, "text": self.tokenizer.decode(ids[device]),
                       "masked": int(result.sequences.erased[device].sum()),
                       "collisions": int(result.sequences.collision[device].sum())}
            self.messages.append(message)
            self.message_port_pub(pmt.intern("text"), pmt.to_pmt(message))
