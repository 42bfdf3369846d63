"""Scoring a received message against the original, when it is known.

Separate from receiving on purpose: the receiver never sees the original.
A message that did not arrive at all (``None``) scores as entirely wrong.
Without the original, :func:`receiver_estimates` gives what the receiver can
say on its own.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ...metrics.token_errors import token_error_rate
from ...tokens.frame import TokenFrame
from .message import ReceivedMessage

__all__ = ["score_text", "score_image", "receiver_estimates"]


def receiver_estimates(message: ReceivedMessage) -> Dict[str, object]:
    """Token error rates as the receiver estimates them, with no original:
    ``token_error_rate_raw`` is the erased share (every erased token is
    wrong, the rest passed a CRC), ``token_error_rate`` the expected share of
    wrong tokens after recovery under the receiver's own confidences."""
    return {"token_error_rate_raw": message.token_erasure_rate,
            "token_error_rate": message.expected_token_error_rate,
            "token_error_rates_from": "receiver estimate"}


def _frame_errors(sent: TokenFrame, message: Optional[ReceivedMessage]) -> Dict[str, object]:
    if message is None or len(message.frame) != len(sent):
        return {"token_error_rate_raw": 1.0, "token_error_rate": 1.0,
                "token_error_rates_from": "original"}
    return {"token_error_rate_raw": token_error_rate(sent, message.raw.frame),
            "token_error_rate": token_error_rate(sent, message.frame),
            "token_error_rates_from": "original"}


def score_text(message: Optional[ReceivedMessage], original: str, tokenizer,
               semantic: bool = False) -> Dict[str, object]:
    """How well a text message arrived.

    Parameters
    ----------
    message : ReceivedMessage or None
    original : str
        The text that was sent.
    tokenizer : TextTokenizer
        The sender's tokenizer (for the original's tokens).
    semantic : bool
        Also compute ``semantic_similarity`` (MiniLM cosine after recovery;
        None if the encoder is unavailable).

    Returns
    -------
    dict
        ``exact_raw``, ``exact`` (the text before / after recovery equals the
        original), ``token_error_rate_raw``, ``token_error_rate`` (erased or
        wrong tokens), ``token_error_rates_from`` (``original``),
        ``sent_text`` and, with ``semantic``, ``semantic_similarity``.
    """
    out = _frame_errors(tokenizer.encode_frame(original), message)
    out["exact_raw"] = message is not None and message.text_raw == original
    out["exact"] = message is not None and message.text == original
    out["sent_text"] = original
    if semantic:
        from ...metrics.semantic import semantic_similarity_or_none
        received = "" if message is None or message.text is None else message.text
        out["semantic_similarity"] = semantic_similarity_or_none(original, received)
    return out


def score_image(message: Optional[ReceivedMessage], original: np.ndarray,
                tokenizer=None) -> Dict[str, object]:
    """How well an image message arrived.

    Parameters
    ----------
    message : ReceivedMessage or None
    original : np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
        The image that was sent. The received images cover the whole token
        grid, at most ``f - 1`` pixels more per side; they are cropped to it.
    tokenizer : ImageTokenizer, optional
        The sender's tokenizer; gives the token error rates against the
        original's tokens (omitted without it).

    Returns
    -------
    dict
        ``psnr_no_recovery_db``, ``ms_ssim_no_recovery`` (drawn with recovery ``none``),
        ``psnr_db``, ``ms_ssim`` (after recovery); with ``tokenizer``, the
        token error rates as in :func:`score_text`. A message that did not
        arrive or could not be drawn scores None.
    """
    from ...metrics.image_quality import ms_ssim, psnr

    h, w = original.shape[:2]
    out: Dict[str, object] = {"psnr_no_recovery_db": None, "ms_ssim_no_recovery": None,
                              "psnr_db": None, "ms_ssim": None}
    if message is not None and message.image is not None:
        raw = message.image_raw[:h, :w]
        recovered = message.image[:h, :w]
        if raw.shape[:2] == (h, w):
            out.update(psnr_no_recovery_db=psnr(original, raw),
                       ms_ssim_no_recovery=ms_ssim(original, raw),
                       psnr_db=psnr(original, recovered), ms_ssim=ms_ssim(original, recovered))
    if tokenizer is not None:
        out.update(_frame_errors(tokenizer.encode_frame(original), message))
    return out
