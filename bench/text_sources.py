#!/usr/bin/env python3
"""Text erasure filling per source: held-out 17th-century English and modern English.

Targets of issue 12 (30 % interleaved token erasure, 8 tokens a packet): fill
restores >= 35 % of erased tokens on modern English from a source held out
completely (``debian-reference``), >= 45 % on held-out Shakespeare/Milton/KJV
(``corpus-heldout``), and a 100-token message recovers in <= 100 ms on one
thread. Needs ``tokencom data fetch`` first (no network after that).

Usage: .venv/bin/python bench/text_sources.py [--model PATH] [--memory PATH|default|none]
       [--messages 300] [--json docs/results/text_sources.json]
"""

import argparse
import shlex
import sys
import time
from pathlib import Path

from json_report import emit_json  # bench/, first on sys.path when a bench runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint (default: committed)")
    parser.add_argument("--memory", default="default", metavar="PATH|default|none")
    parser.add_argument("--expert", default="auto", metavar="auto|default|none|PATH",
                        help="domain expert (auto: the committed corpus expert unless --model)")
    parser.add_argument("--messages", type=int, default=300, help="messages per source")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from tokencom_sdr.context.domain_expert import expert_from_option
    from tokencom_sdr.context.text_memory import memory_from_option
    from tokencom_sdr.context.text_model import load_text_context_model
    from tokencom_sdr.context.text_recovery import TextRecovery
    from tokencom_sdr.experiments.text_sources_eval import run_text_sources_eval

    torch.set_num_threads(1)  # the latency target is on one thread
    started = time.perf_counter()
    recovery = TextRecovery(None if args.model is None else load_text_context_model(args.model),
                            memory=memory_from_option(args.memory),
                            expert=expert_from_option(args.expert))
    out = {"command": "python bench/text_sources.py " + shlex.join(argv or sys.argv[1:]),
           "model": str(args.model or "committed default"), "memory": args.memory,
           "expert": args.expert if recovery.expert is None else
           f"{recovery.expert.domain} expert ({args.expert})"}
    out.update(run_text_sources_eval(recovery, messages_per_source=args.messages,
                                     seed=args.seed, data_dir=args.data_dir,
                                     progress=not args.no_progress))
    sources = out["sources"]
    latency = out["latency"]
    out["summary"] = {
        "fill_restored_modern_heldout_source[debian-reference]": [
            round(sources["debian-reference"]["fill_restored_rate"], 3), ">= 0.35"],
        "fill_restored_corpus_heldout[shakespeare/milton/kjv]": [
            round(sources["corpus-heldout"]["fill_restored_rate"], 3), ">= 0.45"],
        "fill_restored_per_source": {name: round(r["fill_restored_rate"], 3)
                                     for name, r in sources.items()},
        "bytes_per_token_per_source": {name: round(r["bytes_per_token"], 3)
                                       for name, r in sources.items()},
        "share_recovered_by_expert_per_source": {
            name: round(1 - r["recovered_by"].get("general", 0) / max(r["messages"], 1), 3)
            for name, r in sources.items()},
        "recovery_ms_100_tokens_fill_soft": [round(latency["fill_ms_median"], 1),
                                             round(latency["soft_ms_median"], 1), "<= 100"],
    }
    out["elapsed_s"] = time.perf_counter() - started
    emit_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
