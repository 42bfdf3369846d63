"""The receiver: the bursts of one message -> the message, before and after
context recovery. Every receive path (loopback, ``tokencom rx``, SigMF
replay, the GRC decoder blocks, the evaluations) goes through
:meth:`TokenReceiver.receive`.

Steps, each from what arrived and nothing the sender said:

1. **Reassembly.** The bursts' bytes are checked by the link layer
   (:func:`~tokencom_sdr.link.depacketize`); the CRC-good packets give the
   frame geometry, the tokenizer and the aggregation
   (:func:`~tokencom_sdr.link.layout.infer_layout`).
2. **Soft reassembly.** CRC-failed bursts are matched to the packets that
   are missing by their expected headers, and their bit LLRs kept
   (:func:`.soft_reassembly.soft_depacketize`).
3. **Re-decoding.** With a coded MCS, failed codewords are decoded again
   with the known link header as a prior, and for text with the context
   model's token prior; a packet counts only if it then passes its CRC-32
   (:func:`.redecoding.context_decode`). Text ``soft`` and image
   ``context`` do this.
4. **Recovery.** Text: ``none``, ``hard``, ``fill`` or ``soft``
   (:class:`~tokencom_sdr.context.text_recovery.TextRecovery`). Images:
   ``none``, ``copy`` or ``context``
   (:class:`~tokencom_sdr.context.image_recovery.ImageRecovery`).
5. **Detokenizing** with the tokenizer the headers name
   (:mod:`tokencom_sdr.tokens.registry`), before recovery and after.

Scoring against a known original is separate (:mod:`.scoring`).
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ...context.modes import (DEFAULT_IMAGE_RECOVERY, DEFAULT_TEXT_RECOVERY,
                              IMAGE_RECOVERY_MODES, TEXT_RECOVERY_MODES)
from ...phy.received_burst import ReceivedBurst
from ...tokens.frame import Modality, TokenFrame
from ...tokens.registry import TOKENIZER_IDS, tokenizer_id, tokenizer_name
from ..errors import PacketError, ReassemblyError
from ..layout import infer_layout
from ..packet import TokenPacket, parse_packet
from ..packetizer import depacketize
from .layout_estimate import estimate_layout
from .message import ReceivedMessage
from .redecoding import CONTEXT_DECODING, context_decode
from .soft_reassembly import SoftReassembly, as_bursts, soft_depacketize

__all__ = ["TokenReceiver"]


class TokenReceiver:
    """Rebuilds messages from their bursts, with context recovery.

    Models load on first use and are kept, so one receiver serves a whole
    run. Not thread-safe: give each thread its own, or a lock.

    Parameters
    ----------
    text_recovery : str
        ``none``, ``hard``, ``fill`` or ``soft`` (the default, the best).
    image_recovery : str
        ``none``, ``copy`` or ``context`` (the default, the best).
    context_decoding : str
        Text ``soft`` only: how CRC-failed codewords are decoded again:
        ``model`` (known header, then the model's prior), ``header``,
        ``model-only`` or ``off``.
    text_tokenizer : TextTokenizer, optional
        For text messages; default: the embedded BPE. Messages whose headers
        name another tokenizer are decoded with it only if it is given here.
    text_context : TextRecovery, optional
        The text context model (default: the committed one with its memory).
    image_tokenizers : dict, optional
        ``{wire id: ImageTokenizer}`` for tokenizers beyond the embedded ones
        (or to replace them).
    image_context : ImageContextModel, optional
        A context model to use instead of the embedded one of the tokenizer.
    image_steps : int
        MaskGIT rounds of image ``context`` recovery.
    soft_images : bool
        ``context`` draws the expected codeword of the model's beliefs.
    image_caption : str, optional
        Caption that conditions ``context`` image recovery (cross-modal
        context); ``image_context`` must then be a model trained with
        captions. It can be changed between messages (e.g. set from a
        received caption message).
    """

    def __init__(self, text_recovery: str = DEFAULT_TEXT_RECOVERY,
                 image_recovery: str = DEFAULT_IMAGE_RECOVERY, *,
                 context_decoding: str = "model", text_tokenizer=None, text_context=None,
                 image_tokenizers: Optional[Dict[int, object]] = None, image_context=None,
                 image_steps: int = 2, soft_images: bool = True,
                 image_caption: Optional[str] = None):
        if text_recovery not in TEXT_RECOVERY_MODES:
            raise ValueError(f"unknown text recovery {text_recovery!r}; choose "
                             f"{', '.join(TEXT_RECOVERY_MODES)}")
        if image_recovery not in IMAGE_RECOVERY_MODES:
            raise ValueError(f"unknown image recovery {image_recovery!r}; choose "
                             f"{', '.join(IMAGE_RECOVERY_MODES)}")
        if context_decoding not in CONTEXT_DECODING:
            raise ValueError(f"unknown context decoding {context_decoding!r}; choose "
                             f"{', '.join(CONTEXT_DECODING)}")
        self.text_recovery = text_recovery
        self.image_recovery = image_recovery
        self.context_decoding = context_decoding
        self.image_steps = int(image_steps)
        self.soft_images = bool(soft_images)
        self._text_tokenizer = text_tokenizer
        self._text_context = text_context
        self._image_tokenizers: Dict[int, object] = dict(image_tokenizers or {})
        self._image_context = image_context
        self._image_fixers: Dict[Tuple[str, int], object] = {}
        self.image_caption = image_caption

    # ------------------------------------------------------------ models
    @property
    def text_tokenizer(self):
        """The tokenizer of text messages (loaded on first use)."""
        if self._text_tokenizer is None:
            from ...tokens.text_bpe import TextTokenizer
            self._text_tokenizer = TextTokenizer.default()
        return self._text_tokenizer

    @property
    def text_context(self):
        """The text context model, a ``TextRecovery`` (loaded on first use)."""
        if self._text_context is None:
            from ...context.text_recovery import TextRecovery
            self._text_context = TextRecovery()
        return self._text_context

    def image_tokenizer(self, wire_id: int):
        """The image tokenizer of wire id ``wire_id``, or None if unknown."""
        if wire_id not in self._image_tokenizers:
            name = tokenizer_name(Modality.IMAGE, wire_id)
            if name is None:
                return None
            from ...tokens.image_vq import ImageTokenizer
            self._image_tokenizers[wire_id] = ImageTokenizer.default(name)
        return self._image_tokenizers[wire_id]

    def known_tokenizers(self) -> List[Tuple[Modality, int, int]]:
        """``(modality, wire id, bits per token)`` of every tokenizer this
        receiver can detokenize with (loads the embedded image tokenizers)."""
        text = self.text_tokenizer
        known = [(Modality.TEXT, tokenizer_id(Modality.TEXT, text.name), text.bits_per_token)]
        for wire_id in sorted(set(TOKENIZER_IDS[Modality.IMAGE].values()) |
                              set(self._image_tokenizers)):
            tokenizer = self.image_tokenizer(wire_id)
            if tokenizer is not None:
                known.append((Modality.IMAGE, wire_id, tokenizer.bits_per_token))
        return known

    def _image_fixer(self, method: str, wire_id: int):
        key = (method, wire_id)
        if key not in self._image_fixers:
            from ...context.image_recovery import ImageRecovery
            self._image_fixers[key] = ImageRecovery(
                method, self.image_tokenizer(wire_id),
                self._image_context if method == "context" else None, steps=self.image_steps)
        return self._image_fixers[key]

    # ----------------------------------------------------------- receive
    def receive(self, bursts: Sequence[Union[bytes, ReceivedBurst]],
                message_id: Optional[int] = None) -> Optional[ReceivedMessage]:
        """Rebuild one message from its bursts.

        Parameters
        ----------
        bursts : sequence of ReceivedBurst or bytes
            What the PHY delivered for the message, in any order: CRC-good
            and CRC-failed bursts, possibly others' packets or noise.
        message_id : int, optional
            The message to rebuild; default: the id most CRC-good packets carry.

        Returns
        -------
        ReceivedMessage or None
            None when nothing says what the message was: no CRC-good packet
            of it arrived, and the failed ones' headers, combined, name no
            layout that at least half of the message's packets fit.
        """
        start = time.perf_counter()
        bursts = as_bursts(bursts)
        packets = [_parsed(burst) for burst in bursts]  # a TokenPacket, or the bytes that failed
        failed = [b for b, p in zip(bursts, packets) if not isinstance(p, TokenPacket)]
        try:
            plain = depacketize(packets, message_id)
        except ReassemblyError:
            # Not one CRC-good packet: the failed packets' headers, combined,
            # may still say what the message is.
            estimate = estimate_layout(failed, message_id, self.known_tokenizers())
            if estimate is None:
                return None
            layout, message_id = estimate
        else:
            message_id = plain.message_id
            rejected = {r.index for r in plain.stats.rejected}
            layout = infer_layout([p for i, p in enumerate(packets) if i not in rejected
                                   and isinstance(p, TokenPacket) and p.message_id == message_id])
        soft = soft_depacketize(bursts, message_id, layout)
        if soft.reassembly.stats.packets_received == 0 and \
                2 * soft.failed_packets_used < layout.geometry.num_packets:
            # An estimated layout is trusted only when the bursts fit at least
            # half its packets; fewer are stragglers of some other message,
            # or noise.
            return None
        modality = layout.geometry.modality
        if modality == Modality.TEXT:
            message = self._receive_text(bursts, message_id, layout, soft)
        else:
            message = self._receive_image(bursts, message_id, layout, soft)
        message.bursts = bursts
        message.bursts_failed = len(failed)
        message.recovery_s = time.perf_counter() - start
        return message

    def _base(self, message_id, layout, soft: SoftReassembly, recovery: str, tokenizer):
        frame = soft.received.frame
        return ReceivedMessage(
            message_id=message_id, modality=layout.geometry.modality, tokenizer=tokenizer,
            layout=layout, raw=soft.received, frame=frame, recovery=recovery,
            confidence=(~frame.erased).astype(np.float32),
            packets_expected=int(layout.geometry.num_packets),
            packets_received=soft.reassembly.stats.packets_received,
            failed_packets_used=soft.failed_packets_used)

    def _receive_text(self, bursts: List[ReceivedBurst], message_id: int, layout,
                      soft: SoftReassembly) -> ReceivedMessage:
        mode = self.text_recovery
        wire_id = layout.geometry.tokenizer
        tokenizer = self.text_tokenizer
        usable = (wire_id == tokenizer_id(Modality.TEXT, tokenizer.name)
                  and tokenizer.bits_per_token == layout.geometry.bits_per_token)
        message = self._base(message_id, layout, soft, mode, tokenizer.name if usable else None)
        if not usable:
            message.problem = (f"the packets name text tokenizer {wire_id}, which this receiver "
                               f"does not have (it has {tokenizer.name})")
            return message
        message.text_raw = tokenizer.decode_frame(soft.received.frame)
        received = soft.received
        if mode == "soft" and self.context_decoding != "off":
            decoding = context_decode(
                bursts, message_id, layout, self.text_context,
                use_model=self.context_decoding in ("model", "model-only"),
                use_header=self.context_decoding in ("model", "header"), soft=soft)
            received = decoding.soft.received
            message.redecoding = decoding.summary()
            message.packets_redecoded = decoding.recovered
        if mode in ("none", "hard"):
            from ...context.text_recovery import model_free_recover
            result = model_free_recover(received, mode=mode, vocab_size=tokenizer.vocab_size)
        else:
            result = self.text_context.recover(received, mode=mode)
            message.recovered_by = result.domain
        message.frame = result.frame
        message.confidence = result.confidence
        message.text = tokenizer.decode_frame(result.frame)
        return message

    def _receive_image(self, bursts: List[ReceivedBurst], message_id: int, layout,
                       soft: SoftReassembly) -> ReceivedMessage:
        mode = self.image_recovery
        wire_id = layout.geometry.tokenizer
        tokenizer = self.image_tokenizer(wire_id)
        message = self._base(message_id, layout, soft, mode,
                             None if tokenizer is None else tokenizer.name)
        if tokenizer is None or tokenizer.bits_per_token != layout.geometry.bits_per_token:
            message.problem = (f"the packets name image tokenizer {wire_id} "
                               f"({layout.geometry.bits_per_token}-bit tokens), which this "
                               f"receiver does not have")
            message.tokenizer = None
            return message
        received = soft.received
        if mode == "context":
            decoding = context_decode(bursts, message_id, layout, use_model=False, soft=soft)
            received = decoding.soft.received
            message.redecoding = decoding.summary()
            message.packets_redecoded = decoding.recovered
        none = self._image_fixer("none", wire_id)
        message.image_raw = none.draw(none.recover(soft.received.frame))
        fixer = self._image_fixer(mode, wire_id)
        result = fixer.recover(received.frame,
                               caption=self.image_caption if mode == "context" else None)
        message.frame = result.frame
        message.confidence = _image_confidence(received.frame, result)
        message.image = fixer.draw(result, soft=self.soft_images)
        return message


def _parsed(burst: ReceivedBurst):
    """The burst's packet, or its bytes when they do not parse (CRC or field error)."""
    try:
        return parse_packet(burst.data)
    except PacketError:
        return burst.data


def _image_confidence(frame: TokenFrame, result) -> np.ndarray:
    """1 for received tokens; the model's probability of its choice where
    ``context`` filled one; 0 where a fixed or copied code stands in."""
    confidence = (~frame.erased).astype(np.float32)
    beliefs = result.beliefs
    if beliefs is not None and len(beliefs["positions"]):
        chosen = result.frame.ids[beliefs["positions"]]
        hit = beliefs["ids"] == chosen[:, None]
        confidence[beliefs["positions"]] = np.where(hit, beliefs["p"], 0.0).sum(axis=1)
    return confidence
