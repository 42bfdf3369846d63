"""Cross-modal context: how much a caption helps image-token recovery.

Held-out labelled images (:func:`~tokencom_sdr.data.labelled_images.digit_images`)
are tokenized, sent in packets (interleaved unless asked) over a
packet-erasure channel (:func:`~tokencom_sdr.experiments.image_erasure_eval.packet_erasure_channel`)
and recovered four ways from the same loss draws: ``none``, ``copy``,
``context`` (the caption model with no caption) and ``context+caption``
(the same model reading the image's caption). Using one model for both
context rows makes the caption's gain a paired difference.

Bandwidth efficiency at equal quality (TokCom's measure of cross-modal
context): a receiver that tolerates more token loss at the same quality
lets the sender send fewer tokens. For a quality target ``Q`` (the PSNR a
method reaches at a reference loss), each method needs a delivered token
share ``s(Q)``, read off its PSNR-against-loss curve by linear
interpolation. Its cost is ``s(Q) * N * b`` bits for ``N`` tokens of ``b``
bits, plus the caption's text tokens (12 bits each) for
``context+caption``. The gain of A over B is ``cost_B / cost_A - 1``.

Semantic score (beside PSNR): the share of recovered images that a digit
classifier, trained by :func:`digit_classifier` on the training digits
only, puts in the right class. It asks whether the recovered image still
shows the digit that was sent, which PSNR weighs no more than any other
pixel error.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from ..context.image_maskgit import ImageContextModel
from ..context.image_recovery import ImageRecovery
from ..data.labelled_images import LabelledImage, digit_images
from ..metrics.image_quality import psnr
from ..tokens.image_vq import ImageTokenizer
from .image_erasure_eval import CAPTIONED, packet_erasure_channel

__all__ = ["CAPTION_METHODS", "evaluate_captions", "share_for_quality", "efficiency_at_quality",
           "digit_classifier"]

#: Rows of :func:`evaluate_captions`, in order.
CAPTION_METHODS = ("none", "copy", "context", CAPTIONED)


def digit_classifier() -> Callable[[np.ndarray], int]:
    """A digit classifier for recovered images, trained on the training split.

    A support-vector machine (RBF kernel, ``C = 10``, scikit-learn) on the
    32x32 grey levels of the training digits; it puts 97.0 % of the 539
    held-out digits, as they are, in the right class.

    Returns
    -------
    callable
        ``image -> class``, ``image`` of shape ``(32, 32, 3)``, dtype ``uint8``.
    """
    from sklearn.svm import SVC

    train = digit_images("train")
    features = np.stack([_grey(item.image) for item in train])
    machine = SVC(C=10.0, gamma="scale").fit(features, [item.label for item in train])
    return lambda image: int(machine.predict(_grey(image)[None])[0])


def _grey(image: np.ndarray) -> np.ndarray:
    """``(32, 32, 3)`` uint8 -> ``(1024,)`` float grey levels in [0, 1]."""
    return np.asarray(image, dtype=np.float64).mean(axis=2).reshape(-1) / 255.0


def evaluate_captions(model: ImageContextModel, tokenizer: ImageTokenizer,
                      images: Sequence[LabelledImage], losses: Sequence[float],
                      tokens_per_packet: int = 4, steps: int = 2, seed: int = 0,
                      text_bits_per_token: int = 12, caption_tokens=None,
                      progress=None,
                      classify: Optional[Callable[[np.ndarray], int]] = None,
                      aggregation: str = "interleaved") -> Dict[str, object]:
    """Mean PSNR of every method at every loss rate, one loss draw per image.

    Parameters
    ----------
    model : ImageContextModel
        Trained with captions (:mod:`tokencom_sdr.training.caption_context`).
    images : sequence of LabelledImage
    losses : floats in ``[0, 1]``
        Packet-loss probabilities.
    caption_tokens : callable, optional
        ``caption -> number of text tokens`` (default: the text tokenizer's).
    progress : callable, optional
        Called with no argument after each image and loss rate.
    classify : callable, optional
        ``image -> class`` (:func:`digit_classifier`); adds the semantic score.
    aggregation : str
        Token-to-packet mapping (``interleaved`` or ``sequential``).

    Returns
    -------
    dict
        ``rows``: ``{recovery, loss, psnr_db, psnr_sem_db, token_erasure_rate,
        images}``, plus ``class_accuracy`` with ``classify``;
        ``paired_gains``: ``{loss, caption_gain_db, caption_gain_sem_db}``,
        plus ``caption_accuracy_gain`` with ``classify``;
        ``psnr_tokens_only_db`` (and ``class_accuracy_tokens_only``);
        ``image_bits`` (``N * b``); ``caption_bits`` (mean over images); ``grid``.
    """
    if caption_tokens is None:
        from ..tokens.text_bpe import TextTokenizer
        text = TextTokenizer.default()
        caption_tokens = lambda caption: len(text.encode(caption))  # noqa: E731
    fixers = {m: ImageRecovery("context" if m == CAPTIONED else m, tokenizer,
                               model if m in ("context", CAPTIONED) else None, steps=steps)
              for m in CAPTION_METHODS}
    scores = {(m, loss): [] for m in CAPTION_METHODS for loss in losses}
    correct = {(m, loss): [] for m in CAPTION_METHODS for loss in losses}
    erased = {loss: [] for loss in losses}
    clean_scores, clean_correct, caption_bits = [], [], []
    frame = None
    for index, item in enumerate(images):
        frame = tokenizer.encode_frame(item.image)
        size = item.image.shape[:2]
        clean = tokenizer.decode_frame(frame, size)
        clean_scores.append(psnr(item.image, clean))
        if classify is not None:
            clean_correct.append(classify(clean) == item.label)
        caption_bits.append(text_bits_per_token * caption_tokens(item.caption))
        for loss in losses:
            rng = np.random.default_rng([seed, index, int(round(float(loss) * 1e6))])
            received = packet_erasure_channel(frame, float(loss), tokens_per_packet, rng,
                                              aggregation=aggregation)
            erased[loss].append(float(received.erased.mean()))
            for method, fixer in fixers.items():
                result = fixer.recover(received, caption=item.caption if method == CAPTIONED
                                       else None)
                drawn = fixer.draw(result, size)
                scores[(method, loss)].append(psnr(item.image, drawn))
                if classify is not None:
                    correct[(method, loss)].append(classify(drawn) == item.label)
            if progress is not None:
                progress()
    rows = [{"recovery": m, "loss": float(loss),
             "psnr_db": float(np.mean(scores[(m, loss)])),
             "psnr_sem_db": float(np.std(scores[(m, loss)]) / np.sqrt(len(images))),
             "token_erasure_rate": float(np.mean(erased[loss])), "images": len(images)}
            for loss in losses for m in CAPTION_METHODS]
    gains = [{"loss": float(loss),
              "caption_gain_db": float(np.mean(np.subtract(scores[(CAPTIONED, loss)],
                                                           scores[("context", loss)]))),
              "caption_gain_sem_db": float(np.std(np.subtract(
                  scores[(CAPTIONED, loss)], scores[("context", loss)])) / np.sqrt(len(images)))}
             for loss in losses]
    out = {"rows": rows, "paired_gains": gains,
           "psnr_tokens_only_db": float(np.mean(clean_scores)),
           "image_bits": len(frame) * frame.bits_per_token,
           "caption_bits": float(np.mean(caption_bits)), "grid": list(frame.shape)}
    if classify is not None:
        for row in rows:
            row["class_accuracy"] = float(np.mean(correct[(row["recovery"], row["loss"])]))
        for gain in gains:
            gain["caption_accuracy_gain"] = float(
                np.mean(correct[(CAPTIONED, gain["loss"])]) -
                np.mean(correct[("context", gain["loss"])]))
        out["class_accuracy_tokens_only"] = float(np.mean(clean_correct))
    return out


def share_for_quality(losses: Sequence[float], psnrs: Sequence[float],
                      target_db: float) -> Optional[float]:
    """Delivered token share ``1 - loss`` at which a curve reaches ``target_db``.

    Linear interpolation between measured points of a PSNR-against-loss
    curve (``losses`` increasing). None when the curve never reaches the
    target; 0-loss share 1.0 when only the loss-free point does.
    """
    loss = np.asarray(losses, dtype=float)
    quality = np.asarray(psnrs, dtype=float)
    order = np.argsort(loss)
    loss, quality = loss[order], quality[order]
    best = None
    for i in range(len(loss)):
        if quality[i] >= target_db:
            best = loss[i]
            if i + 1 < len(loss) and quality[i + 1] < target_db:
                # The curve crosses the target between i and i + 1.
                t = (quality[i] - target_db) / (quality[i] - quality[i + 1])
                best = loss[i] + t * (loss[i + 1] - loss[i])
    return None if best is None else float(1.0 - best)


def efficiency_at_quality(result: Dict[str, object], reference_loss: float,
                          reference_method: str = "context") -> List[dict]:
    """Bits each method needs for the quality ``reference_method`` reaches at
    ``reference_loss``, and the gain of each over the others.

    Returns
    -------
    list of dict
        One per method: ``recovery``, ``target_psnr_db``, ``token_share``,
        ``bits`` (caption included for ``context+caption``), and
        ``gain_over_<method>`` for every other method that reaches it.
    """
    rows = result["rows"]
    target = next(r["psnr_db"] for r in rows
                  if r["recovery"] == reference_method and r["loss"] == reference_loss)
    costs = {}
    for method in CAPTION_METHODS:
        curve = sorted((r["loss"], r["psnr_db"]) for r in rows if r["recovery"] == method)
        share = share_for_quality([c[0] for c in curve], [c[1] for c in curve], target)
        if share is not None:
            costs[method] = (share, share * result["image_bits"] +
                             (result["caption_bits"] if method == CAPTIONED else 0.0))
    out = []
    for method in CAPTION_METHODS:
        row = {"recovery": method, "target_psnr_db": target, "reference_loss": reference_loss,
               "token_share": costs.get(method, (None, None))[0],
               "bits": costs.get(method, (None, None))[1]}
        if method in costs:
            for other, (_, bits) in costs.items():
                if other != method:
                    row[f"gain_over_{other}"] = bits / costs[method][1] - 1.0
        out.append(row)
    return out
