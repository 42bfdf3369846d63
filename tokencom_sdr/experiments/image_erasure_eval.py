"""Packet-loss evaluation of image recovery, without the PHY.

The image is tokenized and split into interleaved packets by the real link
layer (:func:`~tokencom_sdr.link.packetize`); each packet is lost
independently with probability ``loss`` (a packet-erasure channel, the
abstraction of CRC-failed bursts); :func:`~tokencom_sdr.link.depacketize`
rebuilds the frame with erasures; each recovery method fills it and the
tokenizer draws the image. All methods see the same loss draws, so their
differences are paired.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..channel.loss_models import LossProcess, make_loss_model
from ..context.image_maskgit import ImageContextModel
from ..context.image_recovery import IMAGE_RECOVERY_METHODS, ImageRecovery, default_context_model
from ..link import FrameGeometry, depacketize, make_aggregation, packetize
from ..metrics.image_quality import ms_ssim, psnr
from ..metrics.jpeg_baseline import jpeg_same_bpp_scores
from ..tokens.frame import TokenFrame
from ..tokens.image_vq import ImageTokenizer
from ..app.token_budget import TokenBudget, bits_sent, budget_aggregation

__all__ = ["packet_erasure_channel", "evaluate_erasures", "CONTEXT_VARIANTS", "CAPTIONED"]


def packet_erasure_channel(frame: TokenFrame, loss: float, tokens_per_packet: int,
                           rng: np.random.Generator, aggregation: str = "interleaved",
                           message_id: int = 1, trace: Optional[LossProcess] = None,
                           grouping=None) -> TokenFrame:
    """Send ``frame`` through packets that are each lost with probability ``loss``.

    With ``trace`` (a running loss model, e.g. Gilbert-Elliott or EP5), the
    trace decides which packets go instead, and ``loss`` and ``rng`` are unused.
    ``grouping`` (an :class:`~tokencom_sdr.link.Aggregation` for this frame,
    e.g. a token budget's) replaces ``aggregation`` and ``tokens_per_packet``.

    Returns
    -------
    TokenFrame
        What the receiver rebuilds: lost packets' positions erased (id 0).
    """
    if not 0.0 <= loss <= 1.0:
        raise ValueError(f"loss must lie in [0, 1], got {loss}")
    agg = grouping or make_aggregation(aggregation, tokens_per_packet)
    packets = packetize(frame, message_id, agg)
    lost = trace.lost(len(packets)) if trace is not None else rng.random(len(packets)) < loss
    arrived = [p for p, gone in zip(packets, lost) if not gone]
    return depacketize(arrived, message_id, expected=FrameGeometry.from_frame(frame, agg)).frame


#: The method name of caption-conditioned context recovery.
CAPTIONED = "context+caption"

#: Renderings of the ``context`` recovery that :func:`evaluate_erasures` can
#: score from the same fill: ``context`` draws the expected codeword of the
#: model's top candidates at filled positions, ``context-hard`` only its
#: argmax ids, ``context-latent`` its codeword-space regression output.
CONTEXT_VARIANTS = {"context": ("expected", True), "context-hard": ("expected", False),
                    "context-latent": ("latent", True)}


def evaluate_erasures(image: np.ndarray, tokenizer: ImageTokenizer, losses: Sequence[float],
                      methods: Sequence[str] = IMAGE_RECOVERY_METHODS, draws: int = 5,
                      tokens_per_packet: int = 32, seed: int = 0,
                      context_model: Optional[ImageContextModel] = None, steps: int = 2,
                      soft: bool = True, aggregation: str = "interleaved",
                      budget: Optional[TokenBudget] = None,
                      loss_model: str = "iid", burst: Optional[float] = None,
                      caption: Optional[str] = None) -> Dict[str, object]:
    """Quality of each recovery method at each packet-loss rate.

    Parameters
    ----------
    image : np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
    losses : floats in ``[0, 1]``
        Packet-loss probabilities (``iid`` and ``gilbert``); one row set per
        entry. For ``ep1`` ... ``ep6`` pass one entry (it is not used: those
        models fix their own loss rate).
    methods : names from :data:`IMAGE_RECOVERY_METHODS` or :data:`CONTEXT_VARIANTS`
    draws : int
        Loss draws per rate (shared by all methods).
    context_model : ImageContextModel, optional
        Default: the embedded model matching ``tokenizer``.
    steps : int
        MaskGIT rounds for ``context``.
    soft : bool
        ``context`` draws the expected codeword of the model's beliefs at
        filled positions (True) or only its hard choice of ids (False).
    loss_model : str
        ``iid``, ``gilbert`` (with ``burst``) or ``ep1`` ... ``ep6``. The
        draws of one loss rate are consecutive stretches of one trace.
    burst : float, optional
        Mean burst length in packets for ``gilbert``.
    budget : TokenBudget, optional
        Send only this share of the tokens (:mod:`tokencom_sdr.app.token_budget`,
        ranked by ``context_model``); the unsent ones are erasures like lost ones.
    caption : str, optional
        Adds the method ``context+caption``: context recovery conditioned on
        this caption (``context_model`` must take captions), from the same
        loss draws.

    Returns
    -------
    dict
        ``rows``: list of ``{recovery, loss, loss_model, mean_burst_length,
        packet_loss_rate, psnr_db, ms_ssim, psnr_std_db,
        token_erasure_rate, draws, recovery_ms}`` (means over draws);
        ``psnr_tokens_only_db`` and ``ms_ssim_tokens_only`` (error-free
        tokens); ``bits_per_pixel`` (the tokenizer's rate);
        ``bits_sent_per_pixel`` (the tokens sent, and with a budget the bits
        of their position bitmaps); the JPEG baseline at the bits sent
        (``psnr_jpeg_same_bpp_db``, ``ms_ssim_jpeg_same_bpp``,
        ``jpeg_quality``, ``jpeg_bytes``, ``jpeg_bits_per_pixel``; None when
        no JPEG fits, see
        :func:`~tokencom_sdr.metrics.jpeg_baseline.jpeg_same_bpp_scores`);
        ``grid``; ``packets``.
    """
    if draws < 1:
        raise ValueError("draws must be at least 1")
    unknown = [m for m in methods if m not in IMAGE_RECOVERY_METHODS and m not in CONTEXT_VARIANTS]
    if unknown:
        raise ValueError(f"unknown recovery {unknown}; choose from {IMAGE_RECOVERY_METHODS}")
    size = image.shape[:2]
    frame = tokenizer.encode_frame(image)
    grouping = make_aggregation(aggregation, tokens_per_packet)
    if budget is not None:
        ranker = context_model
        if ranker is None and budget.order == "importance":
            ranker = default_context_model(tokenizer.name)
        grouping = budget_aggregation(frame, budget, tokens_per_packet, image_context=ranker)
    groups = grouping.assign(len(frame))
    sent_bits = bits_sent(frame, grouping)
    clean = tokenizer.decode_frame(frame, size)
    base = {m: "context" if m in CONTEXT_VARIANTS else m for m in methods}
    recoveries = {b: ImageRecovery(b, tokenizer, context_model if b == "context" else None,
                                   steps=steps) for b in set(base.values())}
    captions = {b: None for b in recoveries}
    if caption is not None:
        methods = list(methods) + [CAPTIONED]
        base[CAPTIONED] = CAPTIONED
        recoveries[CAPTIONED] = ImageRecovery("context", tokenizer, context_model, steps=steps)
        recoveries[CAPTIONED].caption_ids(caption)      # refuse a bad caption before any work
        captions[CAPTIONED] = caption
    rows: List[dict] = []
    for loss in losses:
        rng = np.random.default_rng([seed, int(round(float(loss) * 1e6))])
        model = make_loss_model(loss_model, None if loss_model.startswith("ep") else float(loss),
                                burst)
        # i.i.d. keeps its historical draws from rng; other models run one trace.
        trace = None if loss_model == "iid" else model.process([seed, 1 + int(1e6 * loss)])
        received = [packet_erasure_channel(frame, float(loss), tokens_per_packet, rng,
                                           aggregation, trace=trace, grouping=grouping)
                    for _ in range(draws)]
        packet_loss = float(np.mean([np.mean(_packets_lost(rx, groups)) for rx in received]))
        # One fill per base method and draw, shared by its renderings.
        fills = {}
        for b, recovery in recoveries.items():
            fills[b] = []
            for rx in received:
                start = time.perf_counter()
                fills[b].append((recovery.recover(rx, caption=captions[b]),
                                 time.perf_counter() - start))
        for method in methods:
            recovery = recoveries[base[method]]
            soft_mode, method_soft = CONTEXT_VARIANTS.get(method, ("expected", True))
            if method == "context":
                method_soft = soft
            scores, ssims, times = [], [], []
            for result, seconds in fills[base[method]]:
                start = time.perf_counter()
                recovery.soft_mode = soft_mode
                out = recovery.draw(result, size, soft=method_soft)
                times.append(seconds + time.perf_counter() - start)
                scores.append(psnr(image, out))
                ssims.append(ms_ssim(image, out))
            rows.append({
                "recovery": method, "loss": model.loss_rate(), "loss_model": model.name,
                "mean_burst_length": model.mean_burst_length(),
                "packet_loss_rate": packet_loss,
                "psnr_db": float(np.mean(scores)), "ms_ssim": float(np.mean(ssims)),
                "psnr_std_db": float(np.std(scores)),
                "token_erasure_rate": float(np.mean([rx.erased.mean() for rx in received])),
                "draws": draws, "recovery_ms": 1e3 * float(np.mean(times)),
            })
    return {
        "rows": rows,
        "psnr_tokens_only_db": psnr(image, clean),
        "ms_ssim_tokens_only": ms_ssim(image, clean),
        "bits_per_pixel": tokenizer.bits_per_pixel(size),
        "bits_sent_per_pixel": sent_bits / float(size[0] * size[1]),
        # JPEG of the original at no more bits than the tokens took (with a
        # budget: the kept tokens and their positions).
        **jpeg_same_bpp_scores(image, sent_bits),
        "grid": list(frame.shape),
        "packets": len(groups),
        "tokens_sent": int(sum(g.size for g in groups)),
        "budget": None if budget is None else budget.to_json(),
    }


def _packets_lost(received: TokenFrame, groups) -> np.ndarray:
    """Which packets the receiver lost, ``(P,)`` bool, read off the erasures.

    ``groups``: the frame positions of each packet (the aggregation's ``assign``).
    """
    erased = received.erased.reshape(-1)
    return np.array([bool(erased[group].all()) for group in groups])
