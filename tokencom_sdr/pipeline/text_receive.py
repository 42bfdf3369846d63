"""Receiver side of a text message: PDUs -> soft frame -> context recovery -> metrics.

Shared by the loopback report (:mod:`.text_loopback`) and anything else that
receives one text message and wants the issue-5 metrics: token error rate
before and after recovery, exact match and MiniLM semantic similarity.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from ..channel.soft_bit_channel import SoftPacket
from ..link import Aggregation, FrameGeometry
from ..metrics.token_errors import token_error_rate
from ..tokens.frame import TokenFrame
from ..tokens.text_bpe import TextTokenizer
from .soft_reassembly import SoftReassembly, soft_depacketize

__all__ = ["receive_text", "pdus_as_soft_packets"]


def pdus_as_soft_packets(pdus: Sequence) -> list:
    """PHY outputs (objects with ``data`` and optionally ``bit_llr``, or raw
    bytes) as :class:`SoftPacket` s; ``llrs`` is None where the PHY gave none."""
    out = []
    for pdu in pdus:
        if isinstance(pdu, (bytes, bytearray)):
            out.append(SoftPacket(bytes(pdu), None))
        elif isinstance(pdu, SoftPacket):
            out.append(pdu)
        else:
            out.append(SoftPacket(bytes(pdu.data), getattr(pdu, "bit_llr", None)))
    return out


def receive_text(pdus: Sequence, text: str, sent_frame: TokenFrame, message_id: int,
                 aggregation: Aggregation, tokenizer: TextTokenizer, recovery_mode: str = "none",
                 recovery=None, semantic: bool = True) -> Dict[str, object]:
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

    Returns
    -------
    dict
        ``recovery``, ``token_error_rate_raw`` (erased or wrong before
        recovery), ``token_error_rate`` (after), ``token_erasure_rate``
        (before), ``exact`` (after), ``semantic_similarity`` (after),
        ``received_text_raw`` (erasures shown as U+2047), ``received_text``
        (after recovery), ``failed_packets_used`` (CRC-failed packets whose
        soft content reached the context layer), ``recovery_s`` and
        ``reassembly`` (the :class:`SoftReassembly`, not JSON; pop it).
    """
    from ..context.text_recovery import RECOVERY_MODES, TextRecovery, model_free_recover

    if recovery_mode not in RECOVERY_MODES:
        raise ValueError(f"unknown recovery {recovery_mode!r}; choose {', '.join(RECOVERY_MODES)}")
    soft: SoftReassembly = soft_depacketize(
        pdus_as_soft_packets(pdus), message_id,
        FrameGeometry.from_frame(sent_frame, aggregation), aggregation)
    raw_frame = soft.received.frame
    raw_text = tokenizer.decode_frame(raw_frame)
    if recovery_mode in ("none", "hard"):
        result = model_free_recover(soft.received, mode=recovery_mode,
                                    vocab_size=tokenizer.vocab_size)
    else:
        recovery = recovery or TextRecovery()
        result = recovery.recover(soft.received, mode=recovery_mode)
    recovered_text = tokenizer.decode_frame(result.frame)
    similarity = None
    if semantic:
        from ..metrics.semantic import semantic_similarity_or_none
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
        "recovery_s": result.elapsed_s,
        "reassembly": soft,
    }
