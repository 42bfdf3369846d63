"""A received message, before and after context recovery."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ...phy.received_burst import ReceivedBurst
from ...tokens.frame import Modality, TokenFrame
from ...tokens.soft import ReceivedFrame
from ..layout import MessageLayout

__all__ = ["ReceivedMessage"]


@dataclass
class ReceivedMessage:
    """One message as the receiver rebuilt it, from its packets alone.

    Attributes
    ----------
    message_id : int
    modality : Modality
    tokenizer : str or None
        Name of the tokenizer the headers name (None if the receiver has none
        for it: then ``text``/``image`` are None and ``problem`` says why).
    layout : MessageLayout
        Geometry and aggregation, from the packet headers.
    raw : ReceivedFrame
        What the radio delivered: the frame with the tokens of CRC-good
        packets (the rest erased) and the soft values of CRC-failed packets.
    frame : TokenFrame
        After re-decoding and recovery; ``raw.frame`` when recovery is ``none``.
    recovery : str
        The recovery mode used (:mod:`tokencom_sdr.context.modes`).
    confidence : np.ndarray, shape ``(n,)``, dtype ``float32``
        The receiver's probability that each token of ``frame`` is right (1 for
        tokens of CRC-good packets, 0 where still erased).
    packets_expected : int
        Packets the message was sent in (from the headers).
    packets_received : int
        Packets that passed their CRC as the radio delivered them.
    packets_redecoded : int
        CRC-failed packets that passed it after re-decoding with the known
        header (and, for text, the model's prior).
    failed_packets_used : int
        CRC-failed packets matched to a sequence number, whose soft values
        reached the context layer.
    bursts_failed : int
        Bursts given for the message that failed the link CRC.
    bursts : list of ReceivedBurst
        Every burst given for the message, CRC-failed ones included.
    redecoding : dict or None
        :meth:`~tokencom_sdr.link.receiver.redecoding.ContextDecoding.summary`
        when re-decoding ran.
    recovery_s : float
        Seconds of re-decoding and recovery.
    text_raw, text : str or None
        Text messages: the text as the radio delivered it (erased tokens
        shown as U+2047) and after recovery.
    image_raw, image : np.ndarray or None, shape ``(H, W, 3)``, dtype ``uint8``
        Image messages: drawn with recovery ``none`` and after recovery, at
        the token grid's full size.
    problem : str or None
        Why the message could not be detokenized, if it could not.
    reason : str or None
        Why the stream receiver delivered it (``complete``, ``timeout``,
        ``superseded``, ``stopped``); None when received in one call.
    recovered_by : str or None
        Text messages recovered with a model: ``general``, or the domain of
        the expert the message was routed to (``corpus``;
        :mod:`tokencom_sdr.context.domain_expert`). None otherwise.
    """

    message_id: int
    modality: Modality
    tokenizer: Optional[str]
    layout: MessageLayout
    raw: ReceivedFrame
    frame: TokenFrame
    recovery: str
    confidence: np.ndarray
    packets_expected: int
    packets_received: int
    packets_redecoded: int = 0
    failed_packets_used: int = 0
    bursts_failed: int = 0
    bursts: List[ReceivedBurst] = field(default_factory=list)
    redecoding: Optional[dict] = None
    recovery_s: float = 0.0
    text_raw: Optional[str] = None
    text: Optional[str] = None
    image_raw: Optional[np.ndarray] = None
    image: Optional[np.ndarray] = None
    problem: Optional[str] = None
    reason: Optional[str] = None
    recovered_by: Optional[str] = None

    # ------------------------------------------------------------- derived
    @property
    def token_erasure_rate(self) -> float:
        """Share of tokens the radio did not deliver in a CRC-good packet."""
        erased = self.raw.frame.erased
        return float(np.mean(erased)) if erased.size else 0.0

    @property
    def expected_token_error_rate(self) -> float:
        """The receiver's own estimate of the share of wrong tokens after
        recovery, ``mean(1 - confidence)`` (what it can say without the original)."""
        return float(np.mean(1.0 - self.confidence)) if self.confidence.size else 0.0

    @property
    def snr_db(self) -> Optional[float]:
        """Mean SNR of the message's bursts (power average), if the PHY gave it."""
        values = [b.snr_db for b in self.bursts if b.snr_db is not None]
        if not values:
            return None
        return float(10 * np.log10(np.mean(10.0 ** (np.minimum(values, 100.0) / 10.0))))

    @property
    def cfo(self) -> Optional[float]:
        """Mean frequency offset of the message's bursts (normalised)."""
        values = [b.cfo for b in self.bursts if b.cfo is not None]
        return float(np.mean(values)) if values else None

    @property
    def mcs(self) -> Optional[str]:
        """MCS of the message's bursts (the most common one)."""
        names = [b.mcs for b in self.bursts if b.mcs]
        return max(set(names), key=names.count) if names else None

    def summary(self) -> Dict[str, object]:
        """The JSON-ready fields every report of a received message shares."""
        out = {
            "modality": self.modality.name.lower(),
            "message_id": self.message_id,
            "tokenizer": self.tokenizer,
            "recovery": self.recovery,
            "tokens_sent": len(self.frame),
            "packets_sent": self.packets_expected,
            "packets_received": self.packets_received,
            "packet_error_rate": 1.0 - self.packets_received / self.packets_expected
            if self.packets_expected else 0.0,
            "packets_redecoded": self.packets_redecoded,
            "failed_packets_used": self.failed_packets_used,
            "pdus_rejected": self.bursts_failed,
            "token_erasure_rate": self.token_erasure_rate,
            "expected_token_error_rate": self.expected_token_error_rate,
            "recovery_s": self.recovery_s,
            "context_decoding": self.redecoding,
            "snr_db": self.snr_db,
            "cfo": self.cfo,
            "mcs": self.mcs,
            "reason": self.reason,
            "problem": self.problem,
        }
        if self.modality == Modality.TEXT:
            out["received_text_raw"] = self.text_raw
            out["received_text"] = self.text
            out["recovered_by"] = self.recovered_by
        else:
            out["grid"] = list(self.layout.geometry.shape)
            out["image_size"] = None if self.image is None else list(self.image.shape[:2])
        return out
