"""Receiver side of a text message: PDUs -> soft frame -> context recovery -> metrics.

Shared by the loopback report (:mod:`.text_loopback`) and anything else that
receives one text message and wants the issue-5 metrics: token error rate
before and after recovery, exact match and MiniLM semantic similarity.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from ...channel.soft_bit_channel import SoftPacket
from .. import Aggregation, FrameGeometry
from ...metrics.token_errors import token_error_rate
from ...tokens.frame import TokenFrame
from ...tokens.text_bpe import TextTokenizer
from .soft_reassembly import SoftReassembly, soft_depacketize

__all__ = ["receive_text", "recover_frame", "pdus_as_soft_packets"]


def pdus_as_soft_packets(pdus: Sequence) -> list:
    """PHY outputs (objects with ``data`` and optionally ``bit_llr``,
    ``code_llr`` and ``meta["mcs"]``, or raw bytes) as :class:`SoftPacket` s;
    ``llrs`` is None where the PHY gave none."""
    out = []
    for pdu in pdus:
        if isinstance(pdu, (bytes, bytearray)):
            out.append(SoftPacket(bytes(pdu), None))
        elif isinstance(pdu, SoftPacket):
            out.append(pdu)
        else:
            meta = getattr(pdu, "meta", None) or {}
            out.append(SoftPacket(bytes(pdu.data), getattr(pdu, "bit_llr", None),
                                  getattr(pdu, "code_llr", None), meta.get("mcs")))
    return out


def recover_frame(soft: SoftReassembly, pdus: Sequence[SoftPacket], message_id: int,
                  geometry: FrameGeometry, aggregation: Aggregation, mode: str, recovery=None,
                  context_decoding: str = "model", vocab_size: Optional[int] = None):
    """One message's recovery in a given mode: the step every text receiver shares.

    ``none`` and ``hard`` use the radio's reassembly ``soft`` as it is;
    ``fill`` runs the model on it; ``soft`` first decodes CRC-failed
    codewords again with prior knowledge (``context_decoding``, see
    :func:`~tokencom_sdr.link.receiver.redecoding.context_decode`; nothing
    changes for packets without ``code_llr``), then runs the MAP recovery.

    Parameters
    ----------
    soft : SoftReassembly
        :func:`soft_depacketize` of ``pdus``.
    pdus : sequence of SoftPacket
        What the PHY delivered (:func:`pdus_as_soft_packets`).
    recovery : TextRecovery
        Needed for ``fill`` and ``soft``.

    Returns
    -------
    (RecoveryResult, ContextDecoding or None)
        The decoding is None unless ``soft`` re-decoding ran; its
        ``elapsed_s`` is not included in the result's.
    """
    from ...context.text_recovery import model_free_recover
    from .redecoding import context_decode

    if mode in ("none", "hard"):
        return model_free_recover(soft.received, mode=mode, vocab_size=vocab_size), None
    if recovery is None:
        raise ValueError(f"recovery {mode!r} needs a TextRecovery")
    decoding = None
    received = soft.received
    if mode == "soft" and context_decoding != "off":
        decoding = context_decode(pdus, message_id, geometry, aggregation, recovery,
                                  use_model=context_decoding in ("model", "model-only"),
                                  use_header=context_decoding in ("model", "header"),
                                  soft=soft)
        received = decoding.soft.received
    return recovery.recover(received, mode=mode), decoding


def receive_text(pdus: Sequence, text: str, sent_frame: TokenFrame, message_id: int,
                 aggregation: Aggregation, tokenizer: TextTokenizer, recovery_mode: str = "none",
                 recovery=None, semantic: bool = True,
                 context_decoding: str = "model") -> Dict[str, object]:
    """Reassemble, recover and score one received text message.

    Parameters
    ----------
    pdus : sequence
        What the PHY delivered: ``ReceivedPdu`` objects (``data``, optional
        ``bit_llr`` of shape ``(8 * len(data),)`` float32, positive = 0),
        :class:`SoftPacket` s or bytes.
    text, sent_frame
        The message sent and its frame (for the metrics and the geometry).
    message_id, aggregation
        As used by the transmitter.
    recovery_mode : str
        ``none``, ``hard``, ``fill`` or ``soft``
        (:data:`~tokencom_sdr.context.text_recovery.RECOVERY_MODES`).
    recovery : TextRecovery, optional
        Used for ``fill``/``soft``; one with the committed model by default.
    semantic : bool
        Compute ``semantic_similarity`` (None when MiniLM is unavailable).
    context_decoding : str
        ``soft`` only: how CRC-failed codewords that brought their channel
        LLRs are decoded again before the MAP recovery
        (:mod:`~tokencom_sdr.link.receiver.redecoding`): ``model`` (known
        header, then the model's token prior), ``header`` (known header
        only), ``model-only`` (the model's prior without header knowledge)
        or ``off``.

    Returns
    -------
    dict
        ``recovery``, ``token_error_rate_raw`` (erased or wrong before
        recovery), ``token_error_rate`` (after), ``token_erasure_rate``
        (before), ``exact`` (after), ``semantic_similarity`` (after),
        ``received_text_raw`` (erasures shown as U+2047), ``received_text``
        (after recovery), ``failed_packets_used`` (CRC-failed packets whose
        soft content reached the context layer), ``recovery_s`` (context
        decoding included), ``context_decoding`` (``soft``: the counts of
        :meth:`ContextDecoding.summary`, e.g. ``recovered`` failed packets
        that passed their CRC after re-decoding; None otherwise) and
        ``reassembly`` (the radio's :class:`SoftReassembly` before any
        re-decoding, not JSON; pop it).
    """
    from ...context.text_recovery import RECOVERY_MODES, TextRecovery
    from .redecoding import CONTEXT_DECODING

    if recovery_mode not in RECOVERY_MODES:
        raise ValueError(f"unknown recovery {recovery_mode!r}; choose {', '.join(RECOVERY_MODES)}")
    if context_decoding not in CONTEXT_DECODING:
        raise ValueError(f"unknown context decoding {context_decoding!r}; "
                         f"choose {', '.join(CONTEXT_DECODING)}")
    pdus = pdus_as_soft_packets(pdus)
    geometry = FrameGeometry.from_frame(sent_frame, aggregation)
    soft: SoftReassembly = soft_depacketize(pdus, message_id, geometry, aggregation)
    raw_frame = soft.received.frame
    raw_text = tokenizer.decode_frame(raw_frame)
    if recovery_mode in ("fill", "soft"):
        recovery = recovery or TextRecovery()
    result, decoding = recover_frame(soft, pdus, message_id, geometry, aggregation,
                                     recovery_mode, recovery, context_decoding,
                                     tokenizer.vocab_size)
    recovery_s = result.elapsed_s + (decoding.elapsed_s if decoding is not None else 0.0)
    recovered_text = tokenizer.decode_frame(result.frame)
    similarity = None
    if semantic:
        from ...metrics.semantic import semantic_similarity_or_none
        similarity = semantic_similarity_or_none(text, recovered_text)
    return {
        "recovery": recovery_mode,
        "token_error_rate_raw": token_error_rate(sent_frame, raw_frame),
        "token_error_rate": token_error_rate(sent_frame, result.frame),
        "token_erasure_rate": float(np.mean(raw_frame.erased)) if len(raw_frame) else 0.0,
        "exact": recovered_text == text,
        "semantic_similarity": similarity,
        "received_text_raw": raw_text,
        "received_text": recovered_text,
        "failed_packets_used": soft.failed_packets_used,
        "recovery_s": recovery_s,
        "context_decoding": decoding.summary() if decoding is not None else None,
        "reassembly": soft,
    }
