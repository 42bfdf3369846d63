"""Quality against token budget, through the real link layer, without the PHY.

For each budget ``alpha`` and order (``importance``: the receiver's context
model ranks the tokens; ``random``: the control) the sender keeps
``ceil(alpha * n)`` tokens and packs them
(:func:`~tokencom_sdr.app.token_budget.budget_aggregation`); the packets
are encoded, optionally some are lost, and
:func:`~tokencom_sdr.link.depacketize` rebuilds the frame from the headers
alone, so unsent positions are erasures the receiver fills:

* images: :class:`~tokencom_sdr.context.image_recovery.ImageRecovery`
  (``context``), scored by PSNR and MS-SSIM against the original image;
* text: :class:`~tokencom_sdr.context.text_recovery.TextRecovery`
  (``fill``), scored by MiniLM semantic similarity x 100
  (:mod:`tokencom_sdr.metrics.semantic`) and the exact-token rate.

:func:`image_quality_table` and :func:`text_quality_table` also measure
quality when a share of the budget's packets is lost, the table the
budget controller (:mod:`.budget_controller`) looks its outcomes up in, with
the air time of each budget at each MCS.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from ..app.token_budget import TokenBudget, budget_aggregation
from ..context.image_recovery import ImageRecovery
from ..context.text_recovery import TextRecovery
from ..link import IMAGE_RANKINGS, FrameGeometry, depacketize, packetize
from ..metrics.image_quality import ms_ssim, psnr
from ..phy.burst_mapping import burst_length
from ..phy.ofdm_params import OfdmParams
from ..tokens.frame import TokenFrame

__all__ = ["budget_packets", "receive_budget", "image_budget_curve", "text_budget_curve",
           "image_quality_table", "text_quality_table", "airtime"]


def budget_packets(frame: TokenFrame, budget: TokenBudget, tokens_per_packet: int,
                   **models) -> List[bytes]:
    """The encoded packets a budgeted sender puts on the air for ``frame``.

    ``models``: ``text_context`` or ``image_context`` for the importance order.
    """
    return packetize(frame, 1, budget_aggregation(frame, budget, tokens_per_packet, **models))


def receive_budget(frame: TokenFrame, packets: Sequence[bytes],
                   lost: Optional[np.ndarray] = None) -> TokenFrame:
    """What the receiver rebuilds from the packets that arrive.

    Parameters
    ----------
    frame : TokenFrame
        The sent frame: only its geometry is used (for when every packet is lost).
    packets : sequence of bytes
    lost : np.ndarray, shape ``(len(packets),)``, bool, optional

    Returns
    -------
    TokenFrame
        Unsent and lost positions erased.
    """
    lost = np.zeros(len(packets), bool) if lost is None else np.asarray(lost, bool)
    arrived = [p for p, gone in zip(packets, lost) if not gone]
    return depacketize(arrived, 1, expected=FrameGeometry.from_frame(frame)).frame


def airtime(packets: Sequence[bytes], mcs: str, params: Optional[OfdmParams] = None) -> int:
    """Channel uses (complex samples) of ``packets`` at ``mcs``, bursts' preambles,
    headers, padding and gaps included."""
    params = params or OfdmParams()
    return int(sum(burst_length(len(p), mcs, params) for p in packets))


def _mean_ci(values) -> Dict[str, float]:
    values = np.asarray(values, dtype=float)
    ci = float(1.96 * values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0
    return {"mean": float(values.mean()), "ci95": ci}


def image_budget_curve(images: Dict[str, np.ndarray], tokenizer, recovery: ImageRecovery,
                       alphas: Sequence[float], orders: Sequence[str] = ("importance", "random"),
                       tokens_per_packet: int = 32, seed: int = 0,
                       progress=None, image_ranking: str = IMAGE_RANKINGS[0]
                       ) -> List[Dict[str, object]]:
    """PSNR and MS-SSIM of each image at each budget and order (no packet loss).

    Parameters
    ----------
    images : dict of name -> np.ndarray, shape ``(H, W, 3)``, uint8
    recovery : ImageRecovery
        ``context``; its model also ranks the tokens.
    image_ranking : str
        How ``importance`` ranks (:class:`~tokencom_sdr.app.token_budget.TokenBudget`).

    Returns
    -------
    list of dict
        One row per image, budget and order: ``image``, ``alpha``, ``order``,
        ``psnr_db``, ``ms_ssim``, ``tokens``, ``tokens_sent``, ``packets``,
        ``bytes`` (on the air).
    """
    rows = []
    for name, image in images.items():
        frame = tokenizer.encode_frame(image)
        for alpha in alphas:
            for order in orders:
                packets = budget_packets(frame, TokenBudget(alpha, order, seed, image_ranking),
                                         tokens_per_packet, image_context=recovery.model)
                received = receive_budget(frame, packets)
                out = recovery.draw(recovery.recover(received), image.shape[:2])
                rows.append({"image": name, "alpha": float(alpha), "order": order,
                             "psnr_db": psnr(image, out), "ms_ssim": ms_ssim(image, out),
                             "tokens": len(frame), "tokens_sent": int((~received.erased).sum()),
                             "packets": len(packets), "bytes": int(sum(map(len, packets)))})
                if progress is not None:
                    progress.update(1)
    return rows


def text_budget_curve(messages: Sequence[str], tokenizer, recovery: TextRecovery, encoder,
                      alphas: Sequence[float], orders: Sequence[str] = ("importance", "random"),
                      tokens_per_packet: int = 8, seed: int = 0,
                      progress=None) -> List[Dict[str, object]]:
    """Semantic similarity x 100 and token accuracy at each budget and order (no packet loss).

    Parameters
    ----------
    messages : sequence of str
        Held-out messages.
    recovery : TextRecovery
        Fills in ``fill`` mode; its model also ranks the tokens.
    encoder : MiniLMEncoder
        The semantic metric.

    Returns
    -------
    list of dict
        One row per budget and order: ``alpha``, ``order``,
        ``semantic_similarity_x100`` and ``token_accuracy`` (each ``{mean,
        ci95}`` over messages), ``tokens``, ``tokens_sent``, ``bytes``.
    """
    frames = [tokenizer.encode_frame(text) for text in messages]
    rows = []
    for alpha in alphas:
        for order in orders:
            outputs, accuracy, sent, sizes = [], [], 0, 0
            for index, frame in enumerate(frames):
                packets = budget_packets(frame, TokenBudget(alpha, order, seed + index),
                                         tokens_per_packet, text_context=recovery)
                received = receive_budget(frame, packets)
                filled = recovery.recover(received, mode="fill").frame
                outputs.append(tokenizer.decode_frame(filled))
                accuracy.append(float(np.mean(filled.ids == frame.ids)))
                sent += int((~received.erased).sum())
                sizes += int(sum(map(len, packets)))
                if progress is not None:
                    progress.update(1)
            similarity = 100.0 * encoder.similarities(list(messages), outputs)
            rows.append({"alpha": float(alpha), "order": order,
                         "semantic_similarity_x100": _mean_ci(similarity),
                         "token_accuracy": _mean_ci(accuracy),
                         "tokens": int(sum(len(f) for f in frames)), "tokens_sent": sent,
                         "bytes": sizes})
    return rows


def _lost_patterns(packets: int, share: float, draws: int, rng: np.random.Generator):
    """``draws`` loss patterns with exactly ``round(share * packets)`` packets lost."""
    count = int(round(share * packets))
    for _ in range(draws):
        lost = np.zeros(packets, bool)
        lost[rng.choice(packets, count, replace=False)] = True
        yield lost


def image_quality_table(images: Dict[str, np.ndarray], tokenizer, recovery: ImageRecovery,
                        alphas: Sequence[float], lost_shares: Sequence[float],
                        mcs_names: Sequence[str], tokens_per_packet: int = 32, draws: int = 1,
                        seed: int = 0, progress=None,
                        image_ranking: str = IMAGE_RANKINGS[0]) -> Dict[str, object]:
    """Mean PSNR at each budget (importance order, ranked by ``image_ranking``)
    and share of its packets lost.

    Returns
    -------
    dict
        ``alphas``, ``lost_shares``, ``psnr_db`` (``[alpha][share]``, mean
        over images and draws), ``packets`` and ``channel_uses`` (``{mcs:
        [alpha]}``, mean over images).
    """
    rng = np.random.default_rng([seed, 18])
    quality = np.zeros((len(alphas), len(lost_shares)))
    packets = np.zeros(len(alphas))
    uses = {m: np.zeros(len(alphas)) for m in mcs_names}
    for name, image in images.items():
        frame = tokenizer.encode_frame(image)
        for a, alpha in enumerate(alphas):
            sent = budget_packets(frame, TokenBudget(alpha, "importance", seed, image_ranking),
                                  tokens_per_packet, image_context=recovery.model)
            packets[a] += len(sent) / len(images)
            for mcs in mcs_names:
                uses[mcs][a] += airtime(sent, mcs) / len(images)
            for s, share in enumerate(lost_shares):
                for lost in _lost_patterns(len(sent), share, draws, rng):
                    received = receive_budget(frame, sent, lost)
                    out = recovery.draw(recovery.recover(received), image.shape[:2])
                    quality[a, s] += psnr(image, out) / (len(images) * draws)
                if progress is not None:
                    progress.update(1)
    return {"metric": "psnr_db", "alphas": [float(a) for a in alphas],
            "lost_shares": [float(s) for s in lost_shares], "quality": quality.tolist(),
            "packets": packets.tolist(), "channel_uses": {m: u.tolist() for m, u in uses.items()}}


def text_quality_table(messages: Sequence[str], tokenizer, recovery: TextRecovery, encoder,
                       alphas: Sequence[float], lost_shares: Sequence[float],
                       mcs_names: Sequence[str], tokens_per_packet: int = 8, draws: int = 1,
                       seed: int = 0, progress=None) -> Dict[str, object]:
    """Mean semantic similarity x 100 at each budget (importance order) and
    share of its packets lost; the text counterpart of :func:`image_quality_table`."""
    rng = np.random.default_rng([seed, 18])
    frames = [tokenizer.encode_frame(text) for text in messages]
    quality = np.zeros((len(alphas), len(lost_shares)))
    packets = np.zeros(len(alphas))
    uses = {m: np.zeros(len(alphas)) for m in mcs_names}
    for a, alpha in enumerate(alphas):
        sent = [budget_packets(frame, TokenBudget(alpha, "importance", seed), tokens_per_packet,
                               text_context=recovery) for frame in frames]
        packets[a] = np.mean([len(p) for p in sent])
        for mcs in mcs_names:
            uses[mcs][a] = np.mean([airtime(p, mcs) for p in sent])
        for s, share in enumerate(lost_shares):
            references, outputs = [], []
            for text, frame, pkts in zip(messages, frames, sent):
                for lost in _lost_patterns(len(pkts), share, draws, rng):
                    filled = recovery.recover(receive_budget(frame, pkts, lost), mode="fill").frame
                    references.append(text)
                    outputs.append(tokenizer.decode_frame(filled))
            quality[a, s] = 100.0 * float(np.mean(encoder.similarities(references, outputs)))
            if progress is not None:
                progress.update(1)
    return {"metric": "semantic_similarity_x100", "alphas": [float(a) for a in alphas],
            "lost_shares": [float(s) for s in lost_shares], "quality": quality.tolist(),
            "packets": packets.tolist(), "channel_uses": {m: u.tolist() for m, u in uses.items()}}
