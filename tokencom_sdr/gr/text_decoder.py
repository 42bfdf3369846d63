"""TokenCom Text Decoder: received packet PDUs in, recovered text with metrics out."""

import time

from ..context.modes import DEFAULT_TEXT_RECOVERY
from ..link.receiver import COMPLETE, STOPPED, SUPERSEDED, TIMEOUT, ReceivedMessage, TokenReceiver
from ..tokens.frame import Modality
from ..tokens.text_bpe import ERASED_MARKER
from .message_decoder import MessageDecoderBlock
from .pdu import make_byte_pdu

__all__ = ["TokenTextDecoder", "ERASED_MARKER", "COMPLETE", "TIMEOUT", "SUPERSEDED", "STOPPED"]


class TokenTextDecoder(MessageDecoderBlock):
    """Received packets -> text messages, after context recovery.

    A thin block over the receiver library
    (:class:`~tokencom_sdr.link.receiver.StreamReceiver`): it groups packets
    by message, keeps the soft values of CRC-failed packets, decodes failed
    codewords again and restores lost or corrupted tokens with the context
    model (``recovery``), exactly as ``tokencom rx`` does. A message is
    delivered when all its packets arrived (``complete``), ``timeout``
    seconds after its last packet (``timeout``), when another message starts
    (``superseded``) or when the flowgraph stops (``stopped``). A PDU that
    fails the link CRC is never delivered as good; tokens nothing restores
    show as ``'⁇'``.

    Ports
    -----
    pdus (in, message)
        The OFDM RX's PDUs (``(meta, u8vector)``; bare byte PDUs work too).
    text (out, message)
        One PDU per message: data is the recovered text in UTF-8; meta holds
        ``message_id``, ``recovery``, ``text_raw`` (as the radio delivered
        it), ``packets_received``, ``packets_expected``, ``packets_redecoded``,
        ``packet_error_rate``, ``token_erasure_rate``,
        ``expected_token_error_rate`` (the receiver's estimate after
        recovery), ``tokens``, ``pdus_rejected`` (CRC-failed bursts of the
        message), ``complete`` and ``reason``.

    Parameters
    ----------
    timeout : float
        Seconds of silence after a message's last packet before it is
        delivered with what arrived (> 0).
    print_messages : bool
        Also print one line per delivered message.
    max_messages : int
        How many delivered messages :attr:`messages` keeps.
    recovery : str
        ``none``, ``hard``, ``fill`` or ``soft`` (the best, default).
    tokenizer : TextTokenizer, optional
        Defaults to the embedded one; must match the encoder's.

    Attributes
    ----------
    messages : list of dict
        The last delivered messages, oldest first: the metadata above plus
        ``text`` and ``time`` (wall clock).
    """

    def __init__(self, timeout: float = 1.0, print_messages: bool = False,
                 max_messages: int = 1000, recovery: str = DEFAULT_TEXT_RECOVERY,
                 tokenizer=None):
        receiver = TokenReceiver(text_recovery=recovery, text_tokenizer=tokenizer)
        MessageDecoderBlock.__init__(self, "tokencom_text_decoder", "text", Modality.TEXT,
                                     receiver, timeout, max_messages)
        self.print_messages = bool(print_messages)
        self.recovery = recovery

    def publish(self, message: ReceivedMessage):
        text = message.text if message.text is not None else ""
        meta = {
            "message_id": message.message_id,
            "recovery": message.recovery,
            "text_raw": message.text_raw,
            "packets_received": message.packets_received,
            "packets_expected": message.packets_expected,
            "packets_redecoded": message.packets_redecoded,
            "packet_error_rate": 1.0 - message.packets_received / message.packets_expected,
            "token_erasure_rate": message.token_erasure_rate,
            "expected_token_error_rate": message.expected_token_error_rate,
            "tokens": len(message.frame),
            "pdus_rejected": message.bursts_failed,
            "complete": message.packets_received == message.packets_expected,
            "reason": message.reason,
        }
        if self.print_messages:
            print(f"[TokenCom RX] message {message.message_id} ({message.reason}): "
                  f"{message.packets_received}/{message.packets_expected} packets"
                  f"{f' (+{message.packets_redecoded} re-decoded)' if message.packets_redecoded else ''}, "
                  f"{message.token_erasure_rate:.1%} tokens erased, {message.recovery} recovery: "
                  f"{text}", flush=True)
        record = dict(meta, text=text, time=time.time())
        return record, make_byte_pdu(text.encode("utf-8"), meta)
