"""The Python API in a few calls: a source to IQ, and IQ to received messages.

Between the two goes whatever carries IQ: a software channel
(:class:`~tokencom_sdr.channel.loopback_channel.LoopbackChannel`), a
recording, or a radio (``tokencom tx``/``rx``). Reception is the receiver
library's (:class:`~tokencom_sdr.link.receiver.TokenReceiver`), with the same
default recovery as ``tokencom rx`` and the GRC decoder blocks: text
``soft``, images ``context``.
"""

from __future__ import annotations

from typing import List, Optional, Union

import numpy as np

from ..link import make_aggregation, packetize
from ..link.receiver import ReceivedMessage, StreamReceiver, TokenReceiver
from ..phy.modem import demodulate, modulate
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD
from ..tokens.frame import TokenFrame

__all__ = ["text_to_iq", "image_to_iq", "frame_to_iq", "receive_iq"]


def frame_to_iq(frame: TokenFrame, mcs: str = "qpsk-1/2", tokens_per_packet: int = 32,
                aggregation: str = "interleaved", message_id: int = 1) -> np.ndarray:
    """A token frame as OFDM IQ: packets, then one burst each.

    Returns
    -------
    np.ndarray, shape ``(n,)``, dtype ``complex64``
        Unit-power bursts, each followed by its gap of zeros.
    """
    packets = packetize(frame, message_id, make_aggregation(aggregation, tokens_per_packet))
    return modulate(packets, mcs)


def text_to_iq(text: str, mcs: str = "qpsk-1/2", tokens_per_packet: int = 32,
               message_id: int = 1, tokenizer=None) -> np.ndarray:
    """``text`` as BPE tokens in OFDM IQ (see :func:`frame_to_iq`)."""
    from ..tokens.text_bpe import TextTokenizer

    if not text:
        raise ValueError("nothing to send: the message is empty")
    tokenizer = tokenizer or TextTokenizer.default()
    return frame_to_iq(tokenizer.encode_frame(text), mcs, tokens_per_packet,
                       message_id=message_id)


def image_to_iq(image: Union[np.ndarray, str], tokenizer="standard", mcs: str = "qpsk-1/2",
                tokens_per_packet: int = 32, message_id: int = 1, max_side: int = 0) -> np.ndarray:
    """An image (array, file or bundled name such as ``astronaut``) as VQ tokens
    in OFDM IQ; ``max_side`` > 0 shrinks it first (see :func:`frame_to_iq`)."""
    from ..data.image_data import load_image_source, to_rgb_uint8
    from ..tokens.image_vq import ImageTokenizer

    if isinstance(image, np.ndarray):
        pixels = to_rgb_uint8(image)
    else:
        pixels = load_image_source(str(image), max_side)
    tok = tokenizer if isinstance(tokenizer, ImageTokenizer) else ImageTokenizer.default(tokenizer)
    return frame_to_iq(tok.encode_frame(pixels), mcs, tokens_per_packet, message_id=message_id)


def receive_iq(iq: np.ndarray, channel=None, receiver: Optional[TokenReceiver] = None,
               sync_threshold: float = DEFAULT_SYNC_THRESHOLD) -> List[ReceivedMessage]:
    """Every message in ``iq``, received and recovered.

    Parameters
    ----------
    iq : np.ndarray, shape ``(n,)``, dtype ``complex64``
    channel : gr block, optional
        Applied before the receiver, e.g. ``LoopbackChannel(snr_db=3)``.
    receiver : TokenReceiver, optional
        Default: the best recovery modes.

    Returns
    -------
    list of ReceivedMessage
        In the order their packets arrived.
    """
    stream = StreamReceiver(receiver or TokenReceiver())
    messages: List[ReceivedMessage] = []
    for index, burst in enumerate(demodulate(iq, channel, sync_threshold)):
        messages += stream.push(burst, float(index))
    return messages + stream.flush("end of stream")
