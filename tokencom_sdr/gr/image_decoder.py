"""TokenCom Image Decoder: received packet PDUs in, recovered images out (PNG PDUs and files)."""

import io
import time
from pathlib import Path

import numpy as np

from ..context.modes import DEFAULT_IMAGE_RECOVERY
from ..link.receiver import ReceivedMessage, TokenReceiver
from ..tokens.frame import Modality
from .message_decoder import MessageDecoderBlock
from .pdu import make_byte_pdu

__all__ = ["TokenImageDecoder"]


def png_bytes(image: np.ndarray) -> bytes:
    """PNG encoding of an ``(H, W, 3)`` ``uint8`` image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


class TokenImageDecoder(MessageDecoderBlock):
    """Received packets -> images, after context recovery.

    A thin block over the receiver library
    (:class:`~tokencom_sdr.link.receiver.StreamReceiver`), like the Text
    Decoder: the packet headers say which tokenizer drew the tokens and the
    grid size; lost tokens are filled by ``recovery``, failed codewords
    decoded again with the known header first (``context``).

    Ports
    -----
    pdus (in, message)
        The OFDM RX's PDUs.
    image (out, message)
        One PDU per message: data is the recovered image as PNG; meta holds
        ``message_id``, ``recovery``, ``tokenizer``, ``height``, ``width``,
        ``packets_received``, ``packets_expected``, ``packets_redecoded``,
        ``packet_error_rate``, ``token_erasure_rate``, ``pdus_rejected``,
        ``complete``, ``reason`` and, when ``out_dir`` is set,
        ``received_file`` and ``recovered_file``.

    Parameters
    ----------
    out_dir : str
        When not empty, each message is also written there as
        ``message_<id>_<n>_received.png`` (recovery ``none``) and
        ``message_<id>_<n>_recovered.png``.
    recovery : str
        ``none``, ``copy`` or ``context`` (the best, default).
    timeout, max_messages
        As for the Text Decoder.

    Attributes
    ----------
    messages : list of dict
        The last delivered messages: the metadata above plus ``image`` (the
        recovered ``(H, W, 3)`` uint8 array), ``image_raw`` and ``time``.
    """

    def __init__(self, out_dir: str = "", recovery: str = DEFAULT_IMAGE_RECOVERY,
                 timeout: float = 1.0, max_messages: int = 100):
        receiver = TokenReceiver(image_recovery=recovery)
        MessageDecoderBlock.__init__(self, "tokencom_image_decoder", "image", Modality.IMAGE,
                                     receiver, timeout, max_messages)
        self.out_dir = Path(out_dir) if str(out_dir) else None
        self.recovery = recovery

    def publish(self, message: ReceivedMessage):
        image = message.image
        meta = {
            "message_id": message.message_id,
            "recovery": message.recovery,
            "tokenizer": message.tokenizer,
            "height": None if image is None else int(image.shape[0]),
            "width": None if image is None else int(image.shape[1]),
            "packets_received": message.packets_received,
            "packets_expected": message.packets_expected,
            "packets_redecoded": message.packets_redecoded,
            "packet_error_rate": 1.0 - message.packets_received / message.packets_expected,
            "token_erasure_rate": message.token_erasure_rate,
            "pdus_rejected": message.bursts_failed,
            "complete": message.packets_received == message.packets_expected,
            "reason": message.reason,
            "problem": message.problem,
        }
        if image is not None and self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            base = self.out_dir / f"message_{message.message_id:05d}_{self.counters['messages_delivered']:04d}"
            for key, picture in (("received", message.image_raw), ("recovered", image)):
                path = base.with_name(f"{base.name}_{key}.png")
                path.write_bytes(png_bytes(picture))
                meta[f"{key}_file"] = str(path)
        data = b"" if image is None else png_bytes(image)
        record = dict(meta, image=image, image_raw=message.image_raw, time=time.time())
        return record, make_byte_pdu(data, meta)
