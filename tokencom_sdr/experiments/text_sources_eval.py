"""Erasure filling per text source: the 17th-century held-out split and modern English.

The same measurement as the text context benchmark (``bench/text_context.py``:
:func:`~tokencom_sdr.experiments.text_erasure_eval.run_erasure_eval`, 30 %
packet loss, 8 tokens a packet, interleaved, messages of 60-128 tokens), run
once per source:

* ``corpus-heldout``: the held-out blocks of Shakespeare, Milton and the KJV
  (:func:`~tokencom_sdr.data.heldout_messages.heldout_messages`, the
  benchmark's own messages);
* every modern-English source of ``tokencom data fetch``: its held-out side,
  and for the source held out completely (``debian-reference``), all of it.

It also reports the tokenizer's compression on each source (UTF-8 bytes per
token) and the latency of recovering a 100-token message on one thread.
"""

from __future__ import annotations

import os
from typing import Dict, Optional


from ..context.text_recovery import TextRecovery
from ..data.datasets import read_manifest, TEXT_DATASET
from ..data.heldout_messages import heldout_messages, modern_messages
from ..data.training_text import modern_heldout_texts
from ..tokens.text_bpe import TextTokenizer
from .text_erasure_eval import run_erasure_eval, time_recovery

__all__ = ["modern_messages", "run_text_sources_eval"]


def run_text_sources_eval(recovery: TextRecovery, *, messages_per_source: int = 300,
                          seed: int = 0, data_dir=None, progress: bool = False,
                          tokenizer: Optional[TextTokenizer] = None) -> Dict[str, object]:
    """Fill rate at 30 % erasure per source, bytes per token, and latency.

    Parameters
    ----------
    recovery : TextRecovery
        The model (and memory) under test.
    messages_per_source : int
        Messages per source (fewer if a source has fewer).
    data_dir : path-like or None
        Folder of ``tokencom data fetch``.

    Returns
    -------
    dict
        ``sources``: per source, the :func:`run_erasure_eval` result plus
        ``role`` and ``bytes_per_token``; ``latency``: the
        :func:`time_recovery` result.
    """
    tokenizer = tokenizer or TextTokenizer.default()
    roles = {entry["name"]: entry["role"]
             for entry in read_manifest(TEXT_DATASET, data_dir)["sources"]}
    sets = {"corpus-heldout": (heldout_messages(messages_per_source, tokenizer, seed=seed),
                               "heldout split of the 17th-century corpus")}
    for name, text in modern_heldout_texts(data_dir).items():
        sets[name] = (modern_messages(text, messages_per_source, tokenizer, seed), roles[name])
    out: Dict[str, object] = {"sources": {}}
    for name, (messages, role) in sets.items():
        result = run_erasure_eval(messages, recovery, loss_probability=0.3, tokens_per_packet=8,
                                  aggregation="interleaved", seed=seed, tokenizer=tokenizer,
                                  progress=progress)
        text_bytes = sum(len(m.encode("utf-8")) for m in messages)
        result["role"] = role
        result["bytes_per_token"] = text_bytes / max(result["tokens"], 1)
        out["sources"][name] = result
    long_text = "".join(heldout_messages(10, tokenizer, seed=seed + 7))
    latency = time_recovery(long_text, recovery, n_tokens=100, tokenizer=tokenizer)
    latency["load_average_1min"] = os.getloadavg()[0]
    out["latency"] = latency
    return out
