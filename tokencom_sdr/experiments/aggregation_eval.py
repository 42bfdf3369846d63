"""Aggregation methods compared: ATS, search cost, and meaning after loss and recovery.

For every held-out text message and every method (sequential, interleaved,
SemPA-GBeam, SemPA-Look, exhaustive), the grouping is chosen and then:

* its **ATS** is scored on one shared objective per message: exact over all
  survivor sets when the message has at most ``exact_max_packets`` packets,
  otherwise Monte Carlo on ``eval_samples`` survivor sets drawn apart from
  the searches' own (so a search cannot overfit its score), the same sets
  for every method;
* the message is packetized with it by the real link layer, sent through
  ``draws`` packet-loss draws (the same lost packet indices for every
  method), rebuilt by :func:`~tokencom_sdr.link.depacketize`, filled by the
  context model, and scored: MiniLM similarity to the original and token
  error rate.

Gains over interleaved aggregation are paired per message, with 95 %
confidence intervals over messages.
"""

from __future__ import annotations

import math
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..channel.loss_models import MarkovLossModel, iid_loss
from ..link import FrameGeometry, depacketize, make_aggregation, packetize
from ..link.semantic_aggregation import (PACKET_AGGREGATIONS, SEMANTIC_METHODS,
                                         AverageTokenSimilarity, SemanticAggregation,
                                         SubsetSimilarity)
from ..metrics.semantic import MiniLMEncoder, default_encoder
from ..metrics.subset_similarity import text_similarity_for, text_subset_similarity
from ..tokens.text_bpe import TextTokenizer

__all__ = ["AGGREGATION_METHODS", "run_aggregation_eval"]

#: Methods :func:`run_aggregation_eval` knows.
AGGREGATION_METHODS = PACKET_AGGREGATIONS


def run_aggregation_eval(messages: Sequence[str], methods: Sequence[str], *,
                         tokens_per_packet: int = 3, loss: float = 0.3, recovery=None,
                         draws: int = 8, seed: int = 0, search_samples: int = 32,
                         eval_samples: int = 128, exact_max_packets: int = 7,
                         loss_model: Optional[MarkovLossModel] = None,
                         search_options: Optional[Dict[str, dict]] = None,
                         objective: str = "ats",
                         encoder: Optional[MiniLMEncoder] = None,
                         tokenizer: Optional[TextTokenizer] = None,
                         progress: bool = False) -> Dict[str, object]:
    """Compare aggregation methods on text messages.

    Parameters
    ----------
    messages : sequence of str
        Held-out messages.
    methods : names from :data:`AGGREGATION_METHODS`
    tokens_per_packet : int
        ``M``; a message of ``K`` tokens goes in ``ceil(K / M)`` packets.
    loss : float
        Packet-loss probability the searches optimise for and the ATS uses.
    recovery : TextRecovery or None
        Fills lost tokens (``fill``); None scores the received text as is.
    draws : int
        Loss draws per message for the after-recovery scores; 0 skips them.
    loss_model : MarkovLossModel, optional
        Loss process of those draws (default i.i.d. at ``loss``).
    search_samples, eval_samples, exact_max_packets : int
        Monte Carlo survivor sets of the searches and of the shared scoring,
        and the packet count up to which both are exact.
    search_options : dict, optional
        Per method, keyword arguments of its search (e.g.
        ``{"sempa-gbeam": {"beam": 4}}``).
    objective : str
        What the searches maximise: ``ats`` (SemPA's: phi of the surviving
        tokens as they are) or ``ats-filled`` (phi of the survivors after
        one pass of ``recovery``'s context model fills the rest: what the
        receiver will show). With ``ats-filled`` the rows also carry
        ``ats_filled`` and its interval and gain.

    Returns
    -------
    dict
        ``rows``: one per method with ``method``, ``ats``, ``ats_ci95``
        (over messages), ``ats_gain_vs_interleaved`` and its ``_ci95``,
        ``ats_ratio_to_exhaustive`` (when exhaustive ran), ``g_calls``,
        ``encoder_calls``, ``evaluations`` (means per message),
        ``seconds`` (search time per message), ``semantic_similarity``,
        ``semantic_similarity_ci95``, ``semantic_gain_vs_interleaved`` and
        its ``_ci95``, ``token_error_rate``; plus the settings.
    """
    if objective not in ("ats", "ats-filled"):
        raise ValueError(f"objective must be ats or ats-filled, got {objective!r}")
    if objective == "ats-filled" and recovery is None:
        raise ValueError("the ats-filled objective needs the context model (recovery)")
    fill_model = recovery.model if objective == "ats-filled" else None
    unknown = [m for m in methods if m not in AGGREGATION_METHODS]
    if unknown or not methods:
        raise ValueError(f"unknown aggregation method(s) {unknown}; known: "
                         f"{', '.join(AGGREGATION_METHODS)}")
    tokenizer = tokenizer or TextTokenizer.default()
    encoder = encoder or default_encoder()
    similarity_for = text_similarity_for(tokenizer, encoder, fill_model)
    loss_model = loss_model or iid_loss(loss)
    trace = loss_model.process([seed, 7])
    per: Dict[str, Dict[str, List[float]]] = {m: {k: [] for k in (
        "ats", "ats_filled", "g_calls", "encoder_calls", "evaluations", "seconds", "semantic",
        "ter")}
        for m in methods}
    iterator = list(enumerate(messages))
    if progress:
        from tqdm import tqdm
        iterator = tqdm(iterator, desc="aggregation", unit="msg")
    for index, text in iterator:
        frame = tokenizer.encode_frame(text)
        n = len(frame)
        groupings = {}
        for method in methods:
            start = time.perf_counter()
            if method in SEMANTIC_METHODS:
                aggregation = SemanticAggregation(method, tokens_per_packet, similarity_for,
                                                  loss, search_samples,
                                                  min(exact_max_packets, 6), seed=seed + index,
                                                  options=(search_options or {}).get(method))
                grouping = aggregation.for_frame(frame)
                counters = aggregation.last_search
            else:
                grouping = make_aggregation(method, tokens_per_packet)
                counters = {"g_calls": 0, "encoder_calls": 0, "evaluations": 0}
            per[method]["seconds"].append(time.perf_counter() - start)
            for key in ("g_calls", "encoder_calls", "evaluations"):
                per[method][key].append(float(counters[key]))
            groupings[method] = grouping
        # One scoring objective per message, shared by every method.
        n_packets = make_aggregation("interleaved", tokens_per_packet).num_packets(n)
        scorers = {"ats": None, "ats_filled": None} if fill_model is not None else {"ats": None}
        for key in scorers:
            phi = text_subset_similarity(frame.ids, tokenizer, encoder,
                                         fill_model if key == "ats_filled" else None)
            scorers[key] = AverageTokenSimilarity(SubsetSimilarity(phi, n), n_packets, loss,
                                                  exact_max_packets, eval_samples,
                                                  seed=10_000 + index)
        for method, grouping in groupings.items():
            assignment = np.empty(n, dtype=np.int64)
            for packet, group in enumerate(grouping.assign(n)):
                assignment[group] = packet
            for key, scorer in scorers.items():
                per[method][key].append(scorer(assignment[np.newaxis, :])[0])
        if draws:
            lost = [trace.lost(n_packets) for _ in range(draws)]
            _score_after_loss(frame, groupings, lost, recovery, tokenizer, encoder,
                              index % 65536, per)
    rows = [_summarise(method, per, methods) for method in methods]
    return {"rows": rows, "messages": len(messages), "tokens_per_packet": tokens_per_packet,
            "loss": loss, "loss_model": loss_model.settings(), "draws": draws,
            "search_samples": search_samples, "eval_samples": eval_samples,
            "objective": objective,
            "exact_max_packets": exact_max_packets,
            "tokens_per_message": float(np.mean([len(tokenizer.encode(m)) for m in messages])),
            "recovery": None if recovery is None else "fill"}


def _score_after_loss(frame, groupings: dict, lost: List[np.ndarray], recovery, tokenizer,
                      encoder: MiniLMEncoder, message_id: int, per: dict) -> None:
    original = tokenizer.decode(frame.ids)
    texts: Dict[str, List[str]] = {}
    for method, grouping in groupings.items():
        packets = packetize(frame, message_id, grouping)
        geometry = FrameGeometry.from_frame(frame, grouping)
        texts[method] = []
        errors = []
        for flags in lost:
            arrived = [p for p, gone in zip(packets, flags) if not gone]
            received = depacketize(arrived, message_id, expected=geometry).frame
            filled = received if recovery is None else recovery.recover(received, mode="fill").frame
            # Unfilled erasures are dropped from the text, as a reader would see it.
            kept = ~filled.erased
            texts[method].append(tokenizer.decode(filled.ids[kept]))
            errors.append(float(np.mean((filled.ids != frame.ids) | filled.erased)))
        per[method]["ter"].append(float(np.mean(errors)))
    flat = [t for m in groupings for t in texts[m]]
    embeddings = encoder.encode([original] + flat, batch_size=64).astype(np.float64)
    similarities = embeddings[1:] @ embeddings[0]
    for i, method in enumerate(groupings):
        per[method]["semantic"].append(float(np.mean(
            similarities[i * len(lost):(i + 1) * len(lost)])))


def _summarise(method: str, per: dict, methods: Sequence[str]) -> Dict[str, object]:
    values = per[method]
    row: Dict[str, object] = {"method": method}
    row["ats"], row["ats_ci95"] = _mean_ci(values["ats"])
    for key in ("g_calls", "encoder_calls", "evaluations", "seconds"):
        row[key] = float(np.mean(values[key]))
    if values["ats_filled"]:
        row["ats_filled"], row["ats_filled_ci95"] = _mean_ci(values["ats_filled"])
    if "interleaved" in methods:
        gain = np.subtract(values["ats"], per["interleaved"]["ats"])
        row["ats_gain_vs_interleaved"], row["ats_gain_vs_interleaved_ci95"] = _mean_ci(gain)
        if values["ats_filled"]:
            gain = np.subtract(values["ats_filled"], per["interleaved"]["ats_filled"])
            (row["ats_filled_gain_vs_interleaved"],
             row["ats_filled_gain_vs_interleaved_ci95"]) = _mean_ci(gain)
    if "exhaustive" in methods:
        row["ats_ratio_to_exhaustive"] = float(np.mean(np.divide(values["ats"],
                                                                 per["exhaustive"]["ats"])))
        row["ats_ratio_to_exhaustive_min"] = float(np.min(np.divide(values["ats"],
                                                                    per["exhaustive"]["ats"])))
        exhaustive_calls = float(np.mean(per["exhaustive"]["g_calls"]))
        row["g_calls_fewer_than_exhaustive"] = (exhaustive_calls / row["g_calls"]
                                                if row["g_calls"] else None)
    if values["semantic"]:
        row["semantic_similarity"], row["semantic_similarity_ci95"] = _mean_ci(values["semantic"])
        row["token_error_rate"] = float(np.mean(values["ter"]))
        if "interleaved" in methods:
            gain = np.subtract(values["semantic"], per["interleaved"]["semantic"])
            (row["semantic_gain_vs_interleaved"],
             row["semantic_gain_vs_interleaved_ci95"]) = _mean_ci(gain)
    return row


def _mean_ci(values) -> tuple:
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float(values.mean()) if values.size else math.nan, math.nan
    return float(values.mean()), float(1.96 * values.std(ddof=1) / math.sqrt(values.size))
