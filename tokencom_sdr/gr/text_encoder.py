"""TokenCom Text Encoder: text in, link-layer packet PDUs out (a GNU Radio block)."""


from .message_encoder import MessageEncoderBlock

__all__ = ["TokenTextEncoder"]


class TokenTextEncoder(MessageEncoderBlock):
    """Text -> BPE tokens -> CRC-protected TokenCom packets, one PDU each.

    Sends ``text`` when the flowgraph starts (once, or ``repeat`` times every
    ``interval`` seconds) and each text that arrives on port ``text``, each
    message under a new message id; see
    :class:`~tokencom_sdr.gr.message_encoder.MessageEncoderBlock` for the
    ports and the scheduling parameters.

    Ports
    -----
    text (in, message)
        A PMT symbol/string, or a PDU (or bare ``u8vector``) of UTF-8 bytes.
    pdus (out, message)
        One PDU per packet.

    Parameters
    ----------
    text : str
        Sent when the flowgraph starts; empty sends nothing.
    tokenizer : TextTokenizer, optional
        Defaults to the embedded one.
    (the others: see ``MessageEncoderBlock``)
    """

    def __init__(self, text: str = "", tokens_per_packet: int = 32,
                 aggregation: str = "interleaved", repeat: int = 1, interval: float = 0.0,
                 message_gap: float = 0.0, first_message_id: int = 0, tokenizer=None):
        from ..tokens.text_bpe import TextTokenizer

        MessageEncoderBlock.__init__(self, "tokencom_text_encoder", "text", str(text),
                                     tokens_per_packet, aggregation, repeat, interval,
                                     message_gap, first_message_id)
        self.tokenizer = tokenizer or TextTokenizer.default()

    @property
    def text(self) -> str:
        return self.message

    def to_frame(self, message: str):
        return self.tokenizer.encode_frame(str(message))

    def describe(self, message: str):
        return {"text": message}
