"""Erasure filling on a packet-erasure channel: how many lost tokens come back.

Each held-out message is tokenized, packetized (interleaved by default, so a
lost packet erases every ``P``-th token), sent through
:class:`~tokencom_sdr.channel.packet_erasure.PacketErasureChannel`, rebuilt
by the real link layer (:func:`~tokencom_sdr.link.depacketize`) and filled by
:class:`~tokencom_sdr.context.text_recovery.TextRecovery`. Reported against a
unigram guess (the most frequent training token at every erased position).
"""

from __future__ import annotations

import functools
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..channel.loss_models import MarkovLossModel
from ..channel.packet_erasure import PacketErasureChannel
from ..context.text_recovery import TextRecovery
from ..link import FrameGeometry, depacketize, make_aggregation, packetize
from ..metrics.text_baseline import mean_text_baseline_sizes
from ..tokens.text_bpe import TextTokenizer
from ..app.token_budget import budget_aggregation

__all__ = ["unigram_counts", "run_erasure_eval", "time_recovery"]


@functools.lru_cache(maxsize=2)
def _unigram_counts_cached(vocab_size: int) -> np.ndarray:
    from ..training.text_context import build_token_stream
    from ..data.corpus import load_corpus_split

    stream = build_token_stream(load_corpus_split().train_text, TextTokenizer.default())
    return np.bincount(stream, minlength=vocab_size)


def unigram_counts(tokenizer: Optional[TextTokenizer] = None) -> np.ndarray:
    """Token counts over the training split, ``(vocab_size,)`` int64."""
    tokenizer = tokenizer or TextTokenizer.default()
    return _unigram_counts_cached(tokenizer.vocab_size)


def run_erasure_eval(messages: Sequence[str], recovery: TextRecovery, *,
                     loss_probability: float = 0.3, tokens_per_packet: int = 8,
                     aggregation: str = "interleaved", seed: int = 0,
                     tokenizer: Optional[TextTokenizer] = None,
                     progress: bool = False,
                     loss_model: Optional[MarkovLossModel] = None,
                     budget=None) -> Dict[str, object]:
    """Fill the tokens of lost packets and count how many are exactly right.

    Parameters
    ----------
    messages : sequence of str
        Held-out messages.
    recovery : TextRecovery
        Run in ``fill`` mode.
    loss_probability : float
        Independent packet loss probability (the expected token erasure rate).
        Ignored when ``loss_model`` is given.
    tokens_per_packet : int
        Small packets make each message's erasure rate close to the target.
    aggregation : str
        ``interleaved`` or ``sequential``.
    loss_model : MarkovLossModel, optional
        Bursty loss (Gilbert-Elliott, EP1-EP6): one trace runs over all the
        messages' packets in turn. Default: i.i.d. at ``loss_probability``.
    budget : TokenBudget, optional
        Send only this share of each message's tokens
        (:mod:`tokencom_sdr.app.token_budget`; ranked by ``recovery``'s
        model); the unsent ones are erased at the receiver like lost ones.

    Returns
    -------
    dict
        ``messages``, ``tokens``, ``erased_tokens``, ``token_erasure_rate``
        (realised; with a budget it counts the unsent tokens too),
        ``tokens_sent``, ``budget`` (its settings, or None),
        ``packet_loss_rate`` (realised), ``loss_model`` (the
        model's settings), ``fill_restored_rate`` (erased tokens restored exactly),
        ``unigram_restored_rate``, ``exact_rate_none`` and
        ``exact_rate_fill`` (whole messages), ``recovery_ms_mean`` and
        ``recovery_ms_p95`` per message, ``recovered_by`` (messages per
        recovering model: ``general`` or an expert's domain, see
        :mod:`tokencom_sdr.context.domain_expert`), ``baseline`` (the messages as UTF-8
        + zlib against the BPE bits, see
        :func:`~tokencom_sdr.metrics.text_baseline.mean_text_baseline_sizes`)
        and the settings.
    """
    tokenizer = tokenizer or TextTokenizer.default()
    counts = unigram_counts(tokenizer)
    unigram_guess = int(np.argmax(counts))
    channel = PacketErasureChannel(loss_probability, seed, model=loss_model)
    agg = make_aggregation(aggregation, tokens_per_packet)
    total = erased_total = restored = unigram_hits = exact_none = exact_fill = sent = 0
    packets_sent = packets_lost = 0
    times: List[float] = []
    token_counts: List[int] = []
    domains: Dict[str, int] = {}
    iterator = messages
    if progress:
        from tqdm import tqdm
        # A loss model sets its own rate; loss_probability is then unused.
        label = loss_model.name if loss_model is not None else f"{loss_probability:.0%}"
        iterator = tqdm(messages, desc=f"erasure {label}", unit="msg")
    for index, text in enumerate(iterator):
        frame = tokenizer.encode_frame(text)
        token_counts.append(len(frame))
        message_id = index % 65536
        grouping = agg if budget is None else budget_aggregation(
            frame, budget, tokens_per_packet, text_context=recovery)
        sent += len(frame) if budget is None else int(grouping.kept.size)
        packets = packetize(frame, message_id, grouping)
        arrived = channel.transmit_all(packets)
        packets_sent += len(packets)
        packets_lost += len(packets) - len(arrived)
        received = depacketize(arrived, message_id,
                               expected=FrameGeometry.from_frame(frame, grouping)).frame
        result = recovery.recover(received, mode="fill")
        times.append(result.elapsed_s)
        domains[result.domain] = domains.get(result.domain, 0) + 1
        erased = received.erased
        total += len(frame)
        erased_total += int(erased.sum())
        restored += int(np.sum(result.frame.ids[erased] == frame.ids[erased]))
        unigram_hits += int(np.sum(frame.ids[erased] == unigram_guess))
        exact_none += int(not erased.any())
        exact_fill += int(np.array_equal(result.frame.ids, frame.ids))
    n = max(len(messages), 1)
    baseline = mean_text_baseline_sizes(list(messages), token_counts, tokenizer.bits_per_token)
    return {
        "channel": "packet-erasure",
        "messages": len(messages),
        "tokens": total,
        "tokens_sent": sent,
        "budget": None if budget is None else budget.to_json(),
        "loss_probability": channel.loss_probability,
        "loss_model": channel.model.settings(),
        "packet_loss_rate": packets_lost / max(packets_sent, 1),
        "tokens_per_packet": tokens_per_packet,
        "aggregation": aggregation,
        "erased_tokens": erased_total,
        "token_erasure_rate": erased_total / max(total, 1),
        "fill_restored_rate": restored / max(erased_total, 1),
        "unigram_restored_rate": unigram_hits / max(erased_total, 1),
        "exact_rate_none": exact_none / n,
        "exact_rate_fill": exact_fill / n,
        "recovery_ms_mean": 1e3 * float(np.mean(times)) if times else 0.0,
        "recovery_ms_p95": 1e3 * float(np.percentile(times, 95)) if times else 0.0,
        "recovered_by": domains,
        "baseline": baseline,
    }


def time_recovery(text: str, recovery: TextRecovery, n_tokens: int = 100,
                  erasure_rate: float = 0.3, llr_snr_db: float = 2.0, repeats: int = 20,
                  seed: int = 0, tokenizer: Optional[TextTokenizer] = None) -> Dict[str, object]:
    """Wall-clock time to recover one ``n_tokens``-token message.

    Two cases, each timed ``repeats`` times after one warm-up call: ``fill``
    with ``erasure_rate`` of the tokens erased, and ``soft`` with the same
    tokens carrying BPSK/AWGN LLRs at ``llr_snr_db`` (low, so that most of
    them are uncertain and go through the model: the slow case).

    Returns
    -------
    dict with ``tokens``, ``fill_ms_median``, ``fill_ms_max``,
    ``soft_ms_median``, ``soft_ms_max`` and ``torch_threads``.
    """
    import torch

    from ..tokens.frame import TokenFrame
    from ..tokens.soft import SoftTokenInfo, ids_to_bits

    tokenizer = tokenizer or TextTokenizer.default()
    ids = tokenizer.encode(text)
    if len(ids) < n_tokens:
        raise ValueError(f"timing text has {len(ids)} tokens, need {n_tokens}")
    ids = ids[:n_tokens]
    rng = np.random.default_rng(seed)
    erased = np.zeros(n_tokens, dtype=bool)
    erased[rng.choice(n_tokens, int(round(erasure_rate * n_tokens)), replace=False)] = True
    frame = TokenFrame(np.where(erased, 0, ids), 0, (n_tokens,), tokenizer.bits_per_token, erased)
    esn0 = 10 ** (llr_snr_db / 10)
    x = 1.0 - 2.0 * ids_to_bits(ids, tokenizer.bits_per_token)
    llrs = 4 * esn0 * (x + rng.standard_normal(x.shape) / np.sqrt(2 * esn0))
    llrs[~erased] = 0.0
    soft = SoftTokenInfo(llrs.astype(np.float32))
    out = {"tokens": n_tokens, "erased": int(erased.sum()), "torch_threads": torch.get_num_threads()}
    for mode, info in (("fill", None), ("soft", soft)):
        recovery.recover(frame, info, mode=mode)
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            recovery.recover(frame, info, mode=mode)
            samples.append(time.perf_counter() - start)
        out[f"{mode}_ms_median"] = 1e3 * float(np.median(samples))
        out[f"{mode}_ms_max"] = 1e3 * float(np.max(samples))
    return out
