"""Bits per token of a text message: fixed ids, skipping, entropy coding, zlib.

For each held-out message (tokenized with the committed BPE), every method
writes the message's real bytes and a receiver rebuilds it from them:

``fixed``
    12-bit token ids, ``12 * n`` bits (the reference the others are measured
    against; the link's packet headers are not counted for any method).
``skip-<tau>``
    :mod:`tokencom_sdr.compression.skipping`: the bytes of the message
    (count, hash, skip count, sent ids, coded skip map) plus, when the
    filled message failed its hash, the fallback's 12 bits per skipped token.
``skip-best``
    Per message, the ``skip-<tau>`` message with the fewest bits: the
    receiver needs no tau (the skip map says what to fill), so the sender
    may try them all.
``entropy``
    :mod:`tokencom_sdr.compression.entropy_coding`: count, hash and the range
    code, in whole bytes. ``code_bits_per_token`` is the range code alone.
``zlib``
    The UTF-8 text through zlib level 9 (header and checksum included).

``cross_entropy_bits`` is the model's cross-entropy per token under the
left-to-right factorisation the entropy coder uses (the limit that coder
approaches); ``bidirectional_cross_entropy_bits`` (in the summary) predicts
each token with all the others visible, which no decoder can use but shows
what the model knows.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..compression.bit_fields import COUNT_BITS
from ..compression.context_prior import ContextPrior
from ..compression.entropy_coding import (decode_entropy, encode_entropy, join_packets,
                                          split_into_packets)
from ..compression.message_hash import DEFAULT_HASH_BITS, MessageHashError
from ..compression.skipping import decode_skipping, encode_skipping
from ..metrics.text_baseline import zlib_bytes
from ..tokens.text_bpe import TextTokenizer
from ..training.progress import progress_bar

__all__ = ["run_bits_eval", "entropy_loss_study", "FIXED_BITS_PER_TOKEN", "DEFAULT_TAUS"]

#: Bits of one token id on the link without compression.
FIXED_BITS_PER_TOKEN = 12

#: Skipping thresholds evaluated by default.
DEFAULT_TAUS = (0.0, 0.25, 0.5, 0.9)


def _bidirectional_bits(ids: np.ndarray, prior: ContextPrior) -> float:
    """Sum of ``-log2 P(token | every other token)`` over a message (one batched pass)."""
    n = ids.size
    probs = prior.recovery.token_prior(ids, np.ones(n, dtype=bool), np.arange(n), groups=n)
    return float(-np.log2(np.maximum(probs[np.arange(n), ids], 1e-30)).sum())


def run_bits_eval(messages: Sequence[str], prior: ContextPrior, *,
                  taus: Sequence[float] = DEFAULT_TAUS,
                  direction: str = "best", tokenizer: Optional[TextTokenizer] = None,
                  progress: bool = False, retransmit_on_failure: bool = True) -> Dict[str, object]:
    """Compress and rebuild every message with every method.

    Parameters
    ----------
    messages : sequence of str
        Held-out messages.
    prior : ContextPrior
        The receiver's model, used at both ends (a clean channel).
    taus : sequence of float
        Skipping thresholds, each in ``[0, 1]``.
    direction : str
        Skipping's decision order: ``forward``, ``backward`` or ``best``
        (the sender tries both and sends the shorter message).
    tokenizer : TextTokenizer, optional
        Default: the committed BPE.
    progress : bool
        A tqdm bar over the messages on stderr.
    retransmit_on_failure : bool
        Let a skip message whose fill fails the hash use the fallback
        (its bits counted); without it such a message counts as not exact.

    Returns
    -------
    dict
        ``rows``: one dict per method with ``method``, ``bits_per_token``
        (total bits over total tokens), ``ratio_to_fixed``, ``exact_rate``
        (messages rebuilt exactly), ``cross_entropy_bits`` and the method's
        own fields, then ``skip-best`` (per message the tau whose message is
        shortest: the receiver needs no tau); ``summary``: messages, tokens,
        cross-entropies; ``per_message``: each message's bits per method.
    """
    taus = [float(t) for t in taus]
    for tau in taus:
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must lie in [0, 1], got {tau}")
    if not messages:
        raise ValueError("no messages to evaluate")
    tokenizer = tokenizer or TextTokenizer.default()
    if tokenizer.vocab_size != prior.vocab_size:
        raise ValueError(f"tokenizer of {tokenizer.vocab_size} ids, model of {prior.vocab_size}")
    per_message: List[Dict[str, object]] = []
    bar = progress_bar(len(messages), progress, "bits-eval")
    for text in messages:
        ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
        record: Dict[str, object] = {"tokens": int(ids.size), "zlib_bits": 8 * zlib_bytes(text),
                                     "bidirectional_bits": _bidirectional_bits(ids, prior)}
        start = time.perf_counter()
        coded = encode_entropy(ids, prior)
        middle = time.perf_counter()
        try:
            exact = np.array_equal(decode_entropy(coded.data, prior), ids)
        except MessageHashError:
            exact = False
        record["entropy"] = {"bits": coded.bits, "code_bits": coded.code_bits, "exact": exact,
                             "cross_entropy_bits": coded.cross_entropy_bits,
                             "encode_s": middle - start,
                             "decode_s": time.perf_counter() - middle}
        record["skip"] = {}
        for tau in taus:
            start = time.perf_counter()
            message = encode_skipping(ids, prior, tau, direction=direction)
            middle = time.perf_counter()
            resend = (lambda positions: ids[positions]) if retransmit_on_failure else None
            fallback_bits, fallback = 0, False
            try:
                result = decode_skipping(message.data, prior, retransmit=resend)
                exact = np.array_equal(result.ids, ids)
                fallback_bits, fallback = result.fallback_bits, result.fallback_used
            except MessageHashError:
                exact = False
            record["skip"][f"{tau:g}"] = {
                "bits": message.bits + fallback_bits, "exact": exact,
                "skipped": int(message.skipped.sum()), "skip_map_bits": message.skip_map_bits,
                "direction": message.direction,
                "fallback": fallback, "fallback_bits": fallback_bits,
                "encode_s": middle - start, "decode_s": time.perf_counter() - middle}
        per_message.append(record)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    result = _summarise(per_message, taus, prior)
    result["summary"]["direction"] = direction
    return result


def _summarise(per_message: List[Dict[str, object]], taus: Sequence[float],
               prior: ContextPrior) -> Dict[str, object]:
    """Rows and summary of :func:`run_bits_eval` from its per-message records."""
    count = len(per_message)
    tokens = sum(r["tokens"] for r in per_message)
    causal_bits = sum(r["entropy"]["cross_entropy_bits"] for r in per_message)
    cross_entropy = causal_bits / tokens
    fixed_bits = FIXED_BITS_PER_TOKEN * tokens

    def total(records, key):
        return sum(r[key] for r in records)

    def row(method: str, bits: float, exact: int, **extra) -> Dict[str, object]:
        return {"method": method, "bits_per_token": bits / tokens,
                "ratio_to_fixed": bits / fixed_bits, "exact_rate": exact / count,
                "cross_entropy_bits": cross_entropy, **extra}

    def skip_row(method: str, records, **extra) -> Dict[str, object]:
        return row(method, total(records, "bits"), total(records, "exact"),
                   skip_rate=total(records, "skipped") / tokens,
                   skip_map_bits_per_token=total(records, "skip_map_bits") / tokens,
                   fallback_rate=total(records, "fallback") / count,
                   fallback_bits_per_token=total(records, "fallback_bits") / tokens,
                   encode_ms_per_message=1e3 * total(records, "encode_s") / count,
                   decode_ms_per_message=1e3 * total(records, "decode_s") / count,
                   backward_rate=sum(r["direction"] == "backward" for r in records) / count,
                   **extra)

    rows: List[Dict[str, object]] = [row("fixed", fixed_bits, count)]
    for tau in taus:
        rows.append(skip_row(f"skip-{tau:g}", [r["skip"][f"{tau:g}"] for r in per_message],
                             tau=tau))
    if len(taus) > 1:
        # The receiver needs no tau (the skip map says what to fill), so the
        # sender may try every tau and send the shortest message.
        best = [min(r["skip"].values(), key=lambda m: m["bits"]) for r in per_message]
        chosen = [min(r["skip"], key=lambda t: r["skip"][t]["bits"]) for r in per_message]
        best_row = skip_row("skip-best", best, taus=[float(t) for t in taus],
                            chosen_tau_counts={f"{t:g}": chosen.count(f"{t:g}") for t in taus})
        # The sender encodes at every tau to choose.
        best_row["encode_ms_per_message"] = 1e3 * sum(
            m["encode_s"] for r in per_message for m in r["skip"].values()) / count
        rows.append(best_row)
    entropy = [r["entropy"] for r in per_message]
    rows.append(row(
        "entropy", total(entropy, "bits"), total(entropy, "exact"),
        code_bits_per_token=total(entropy, "code_bits") / tokens,
        ratio_to_cross_entropy=total(entropy, "bits") / causal_bits,
        code_ratio_to_cross_entropy=total(entropy, "code_bits") / causal_bits,
        encode_ms_per_message=1e3 * total(entropy, "encode_s") / count,
        decode_ms_per_message=1e3 * total(entropy, "decode_s") / count,
        loss_behaviour="decodable only with every packet: a lost packet loses the whole message"))
    rows.append(row("zlib", total(per_message, "zlib_bits"), count))
    summary = {"messages": count, "tokens": tokens, "tokens_per_message": tokens / count,
               "cross_entropy_bits": cross_entropy,
               "bidirectional_cross_entropy_bits": total(per_message, "bidirectional_bits") / tokens,
               "hash_bits": DEFAULT_HASH_BITS, "count_bits": COUNT_BITS,
               "prior_threads": prior.threads,
               "corpus_memory": prior.recovery.memory is not None}
    return {"rows": rows, "summary": summary, "per_message": per_message}


def entropy_loss_study(messages: Sequence[str], prior: ContextPrior, *, packet_bytes: int = 16,
                       tokenizer: Optional[TextTokenizer] = None,
                       progress: bool = False) -> Dict[str, object]:
    """What one lost packet does to an entropy-coded message.

    Each message is range coded and cut into ``packet_bytes`` packets; its
    middle packet is lost. A receiver refuses the message
    (:func:`~tokencom_sdr.compression.entropy_coding.join_packets`); to see
    why, the study also decodes it with the lost bytes as zeros and counts
    the tokens that come out right.

    Returns
    -------
    dict
        ``messages``, ``packet_bytes``, ``packets_per_message``,
        ``delivered_rate`` (messages a receiver delivers: 0 unless the code
        fits one packet), ``hash_refused_rate`` (zero-filled decodes the hash
        refuses), ``tokens_right_rate`` (tokens right in the zero-filled
        decode), ``tokens_before_gap_rate`` (tokens whose code lies wholly
        before the lost packet's first bit, an upper bound of what a decoder
        could trust) and ``wrong_delivered`` (zero-filled decodes that passed
        the hash while wrong: must be 0).
    """
    tokenizer = tokenizer or TextTokenizer.default()
    totals = {"tokens": 0, "right": 0, "before_gap": 0, "refused": 0, "delivered": 0,
              "packets": 0, "wrong_delivered": 0}
    bar = progress_bar(len(messages), progress, "loss study")
    for text in messages:
        ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
        coded = encode_entropy(ids, prior)
        packets: List[Optional[bytes]] = list(split_into_packets(coded.data, packet_bytes))
        totals["packets"] += len(packets)
        totals["tokens"] += ids.size
        lost = len(packets) // 2
        original = packets[lost]
        packets[lost] = None
        try:
            join_packets(packets)
            totals["delivered"] += 1
        except ValueError:
            pass
        packets[lost] = bytes(len(original))
        decoded = decode_entropy(join_packets(packets), prior, verify=False)
        right = decoded == ids
        totals["right"] += int(right.sum())
        try:
            decode_entropy(join_packets(packets), prior)
            totals["wrong_delivered"] += int(not right.all())
        except ValueError:
            totals["refused"] += 1
        # Tokens coded before the gap: the code's ideal length up to each token.
        gap_bit = 8 * packet_bytes * lost - 32  # the code starts after count and hash
        totals["before_gap"] += int(np.sum(np.cumsum(coded.token_bits) <= max(gap_bit, 0)))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    count = max(len(messages), 1)
    tokens = max(totals["tokens"], 1)
    return {"messages": len(messages), "packet_bytes": packet_bytes,
            "packets_per_message": totals["packets"] / count,
            "delivered_rate": totals["delivered"] / count,
            "hash_refused_rate": totals["refused"] / count,
            "tokens_right_rate": totals["right"] / tokens,
            "tokens_before_gap_rate": totals["before_gap"] / tokens,
            "wrong_delivered": totals["wrong_delivered"]}
