"""TokenCom Image Encoder: an image in, link-layer packet PDUs out (a GNU Radio block)."""

import numpy as np

from .message_encoder import MessageEncoderBlock

__all__ = ["TokenImageEncoder"]


class TokenImageEncoder(MessageEncoderBlock):
    """Image -> VQ tokens -> CRC-protected TokenCom packets, one PDU each.

    Sends ``image`` when the flowgraph starts (once, or ``repeat`` times
    every ``interval`` seconds) and each image named on port ``image``, each
    message under a new message id. The packet headers carry the tokenizer's
    wire id and the token grid, so a receiver draws the image unaided. See
    :class:`~tokencom_sdr.gr.message_encoder.MessageEncoderBlock` for the
    scheduling parameters.

    Ports
    -----
    image (in, message)
        A path or bundled image name, as a PMT symbol or a PDU of UTF-8 bytes.
    pdus (out, message)
        One PDU per packet.

    Parameters
    ----------
    image : str
        Image file or bundled image name (e.g. ``astronaut``) sent when the
        flowgraph starts; empty sends nothing.
    tokenizer : str or ImageTokenizer
        ``standard`` (f=4, 512 codes, ~0.56 bpp) or ``low-rate`` (f=8, 1024
        codes, ~0.16 bpp), or a loaded tokenizer.
    max_side : int
        Shrink images larger than this (pixels per side, keeping the aspect)
        before tokenizing; 0 sends them as they are.
    id_search : int
        ``ImageTokenizer.search_candidates``: 0 sends each position's nearest
        codeword; ``N >= 2`` chooses among the ``N`` nearest by the decoded
        picture's error (:mod:`tokencom_sdr.tokens.id_search`).
    id_refine : int
        ``ImageTokenizer.refine``: rounds of gradient steps of the decoded
        picture's error that may replace nearest codewords by closer-decoding
        ones (0: off; one round: about +0.4 dB on photographs, 0.2 s per
        256 x 256 image).
    (the others: see ``MessageEncoderBlock``)
    """

    def __init__(self, image: str = "", tokenizer="standard", max_side: int = 0,
                 id_search: int = 0, id_refine: int = 0, tokens_per_packet: int = 32,
                 aggregation: str = "interleaved", repeat: int = 1, interval: float = 0.0,
                 message_gap: float = 0.0, first_message_id: int = 0):
        from ..tokens.image_vq import ImageTokenizer

        if int(max_side) < 0:
            raise ValueError(f"max_side must be >= 0 (0: as is), got {max_side}")
        if int(id_search) < 0:
            raise ValueError(f"id_search must be >= 0 (0: off), got {id_search}")
        if int(id_refine) < 0:
            raise ValueError(f"id_refine must be >= 0 (0: off), got {id_refine}")
        MessageEncoderBlock.__init__(self, "tokencom_image_encoder", "image", str(image),
                                     tokens_per_packet, aggregation, repeat, interval,
                                     message_gap, first_message_id)
        self.tokenizer = tokenizer if isinstance(tokenizer, ImageTokenizer) \
            else ImageTokenizer.default(str(tokenizer))
        if int(id_search):
            self.tokenizer.search_candidates = int(id_search)
        if int(id_refine):
            self.tokenizer.refine = int(id_refine)
        self.max_side = int(max_side)

    def load(self, source) -> np.ndarray:
        """The image a message names (a path or bundled name), or an array as is."""
        from ..data.image_data import load_image_source, to_rgb_uint8

        if isinstance(source, np.ndarray):
            return to_rgb_uint8(source)
        return load_image_source(str(source), self.max_side)

    def to_frame(self, message):
        return self.tokenizer.encode_frame(self.load(message))

    def describe(self, message):
        return {"image": message if isinstance(message, str) else "<array>",
                "tokenizer": self.tokenizer.name}
