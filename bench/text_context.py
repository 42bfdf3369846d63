#!/usr/bin/env python3
"""Benchmark of the text context model against the targets of issue 5.

Prints one JSON object (and writes it with --json):

* ``erasure_fill``: at 30% token erasure on a packet-erasure channel, the
  share of erased tokens the fill restores exactly (target >= 0.40; a
  unigram guess and the model without the corpus memory are reported
  alongside);
* ``latency``: recovery time of a 100-token message (target <= 100 ms);
* ``soft_vs_none``: per channel, the SNR where the radio alone (``none``)
  delivers closest to 20% of messages exactly, found by a sweep, and the
  exact-message rates of every mode there (target: soft >= 2.2 x none).
  Channels: ``soft-bits`` (packet-level BPSK/AWGN with exact LLRs) and the
  real GNU Radio OFDM chain with the receiver's bit LLRs, uncoded ``qpsk``
  and LDPC-coded ``qpsk-1/2`` (decoder posteriors).

With the coded MCS, ``soft`` decodes CRC-failed codewords again with the
known link header and the model's token prior
(:mod:`tokencom_sdr.link.receiver.redecoding`); the JSON also gives ``soft``
with header-only, model-only and no re-decoding, on the same channel draws.

Usage: .venv/bin/python bench/text_context.py [--json out/text_context.json] [--only-coded]
       [--source debian-reference] [--model PATH] [--memory PATH|default|none]
       [--expert auto|none]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from json_report import emit_json  # bench/, first on sys.path when a bench runs


def _closest_to(rows, target):
    return min(rows, key=lambda r: (abs(r["exact_rate"] - target), r["snr_db"]))


def soft_vs_none(channel, grid, messages, recovery, mcs, seed, progress, split=False,
                 source=None):
    """Sweep ``none`` over ``grid``, then run every mode at the SNR closest to 20%.

    With ``split`` (coded MCS), ``soft`` is also measured with re-decoding of
    failed codewords using the known header only, the model's prior only,
    and none at all, on the same channel draws: what header knowledge and
    the model's prior each add. ``source`` names a text source of
    :func:`~tokencom_sdr.data.heldout_messages.source_messages` (default: the
    held-out corpus)."""
    from tokencom_sdr.data.heldout_messages import source_messages
    from tokencom_sdr.experiments.text_eval import TextEvalConfig, run_text_eval

    texts = None if source is None else source_messages(source, messages, seed=seed)

    def none_at(snrs):
        return run_text_eval(TextEvalConfig(snrs=snrs, mcs=mcs, messages=messages,
                                            recoveries=("none",), channel=channel, seed=seed,
                                            semantic=False), progress=progress,
                             messages=texts)

    sweep = none_at(grid)
    best = _closest_to(sweep, 0.20)
    # The none curve is steep (a few tenths of a dB from 10% to 30%), so a
    # grid point may miss the 15-25% window: bisect the bracketing interval.
    for _ in range(3):
        if abs(best["exact_rate"] - 0.20) <= 0.05:
            break
        ordered = sorted(sweep, key=lambda r: r["snr_db"])
        pairs = [(a, b) for a, b in zip(ordered, ordered[1:])
                 if a["exact_rate"] < 0.20 <= b["exact_rate"]]
        if not pairs:
            break
        low, high = pairs[0]
        sweep += none_at([round((low["snr_db"] + high["snr_db"]) / 2, 4)])
        best = _closest_to(sweep, 0.20)
    sweep.sort(key=lambda r: r["snr_db"])
    rows = run_text_eval(TextEvalConfig(snrs=[best["snr_db"]], mcs=mcs, messages=messages,
                                        recoveries=("none", "hard", "fill", "soft"),
                                        channel=channel, seed=seed),
                         recovery=recovery, progress=progress, messages=texts)
    by_mode = {r["recovery"]: r for r in rows}
    none = by_mode["none"]["exact_rate"]
    soft = by_mode["soft"]["exact_rate"]
    variants = {}
    if split:
        for variant in ("header", "model-only", "off"):
            [row] = run_text_eval(TextEvalConfig(snrs=[best["snr_db"]], mcs=mcs,
                                                 messages=messages, recoveries=("soft",),
                                                 channel=channel, seed=seed, semantic=False,
                                                 context_decoding=variant),
                                  recovery=recovery, progress=progress, messages=texts)
            variants[variant] = {k: row[k] for k in ("exact_rate", "token_error_rate",
                                                     "recovery_ms_mean", "recovery_ms_median",
                                                     "packets_redecoded")}
    return {
        "channel": channel,
        "mcs": mcs,
        "messages": messages,
        "snr_db": best["snr_db"],
        "none_sweep": [{"snr_db": r["snr_db"], "exact_rate": r["exact_rate"]} for r in sweep],
        "rows": rows,
        "none_exact_rate": none,
        "soft_exact_rate": soft,
        "soft_over_none": (soft / none) if none > 0 else None,
        "target": ">= 2.2 at the SNR where none is 0.20 +- 0.05",
        "none_in_window": abs(none - 0.20) <= 0.05,
        "pass": bool(none > 0 and abs(none - 0.20) <= 0.05 and soft >= 2.2 * none),
        "soft_context_decoding_variants": variants or None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint (default: committed)")
    parser.add_argument("--memory", default="default", metavar="PATH|default|none",
                        help="corpus memory that refines the model's prior (default: committed)")
    parser.add_argument("--expert", default="auto", metavar="auto|default|none|PATH",
                        help="domain expert (auto: the committed corpus expert unless --model)")
    parser.add_argument("--erasure-messages", type=int, default=300)
    parser.add_argument("--soft-messages", type=int, default=200)
    parser.add_argument("--ofdm-messages", type=int, default=150)
    parser.add_argument("--skip-ofdm", action="store_true", help="skip the GNU Radio chain")
    parser.add_argument("--source", default=None, metavar="NAME",
                        help="with --only-coded: the messages' text source (corpus-heldout, the "
                             "default, or a modern source of `tokencom data fetch`, e.g. "
                             "debian-reference)")
    parser.add_argument("--only-coded", action="store_true",
                        help="run only the LDPC qpsk-1/2 OFDM measurement (with the soft "
                             "variants: header-only, model-only and no re-decoding)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: a shared 2-core machine oversubscribed "
                             "with 2 threads ran 30x slower)")
    parser.add_argument("--ldpc-snr", default="0.75:2.5:0.25", metavar="START:STOP:STEP",
                        help="SNR grid (dB) of the qpsk-1/2 none sweep; lower it when the PHY "
                             "delivers more than 20 %% of messages at its start")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from tokencom_sdr.context.domain_expert import expert_from_option
    from tokencom_sdr.context.text_memory import memory_from_option
    from tokencom_sdr.context.text_model import load_text_context_model
    from tokencom_sdr.context.text_recovery import TextRecovery
    from tokencom_sdr.experiments.text_erasure_eval import run_erasure_eval, time_recovery
    from tokencom_sdr.data.heldout_messages import heldout_messages

    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress
    started = time.perf_counter()
    model = load_text_context_model(args.model)
    # model=None selects the committed model and, with --expert auto, its corpus expert.
    given = None if args.model is None else model
    expert = expert_from_option(args.expert)
    recovery = TextRecovery(given, memory=memory_from_option(args.memory), expert=expert)
    out = {"model": {"path": str(args.model or "committed default"),
                     "parameters": model.num_parameters,
                     "config": json.loads(model.config.to_json()),
                     "training": {k: v for k, v in model.metadata.items()
                                  if k not in ("config", "format", "format_version")}},
           "memory": None if recovery.memory is None else {
               "path": "committed default" if args.memory == "default" else args.memory,
               "tokens": len(recovery.memory), "min_context": recovery.memory.min_context,
               "max_side": recovery.memory.max_side, "kappa": recovery.memory.kappa}}

    if args.only_coded:
        return _only_coded(args, recovery, out, progress, started)

    erasure_messages = heldout_messages(args.erasure_messages, seed=args.seed)
    erasure = run_erasure_eval(erasure_messages, recovery, loss_probability=0.3, seed=args.seed,
                               progress=progress)
    erasure["target"] = ">= 0.40 of erased tokens restored exactly"
    erasure["pass"] = erasure["fill_restored_rate"] >= 0.40
    if recovery.memory is not None:
        # What the memory adds: the same draws with the model alone.
        alone = run_erasure_eval(erasure_messages, TextRecovery(given, memory=None, expert=expert),
                                 loss_probability=0.3, seed=args.seed, progress=progress)
        erasure["fill_restored_rate_model_alone"] = alone["fill_restored_rate"]
    out["erasure_fill"] = erasure

    long_text = "".join(heldout_messages(10, seed=args.seed + 7))
    latency = time_recovery(long_text, recovery, n_tokens=100)
    latency["load_average_1min"] = os.getloadavg()[0]
    latency["cpu_count"] = os.cpu_count()
    latency["target"] = "<= 100 ms per 100-token message"
    latency["pass"] = max(latency["fill_ms_median"], latency["soft_ms_median"]) <= 100.0
    out["latency"] = latency

    out["soft_vs_none"] = {}
    out["soft_vs_none"]["soft-bits"] = soft_vs_none(
        "soft-bits", [round(x, 2) for x in np.arange(5.0, 8.01, 0.25)], args.soft_messages,
        recovery, "bpsk", args.seed, progress)
    if not args.skip_ofdm:
        # Uncoded QPSK: few bit errors per failed packet, demapper LLRs.
        out["soft_vs_none"]["ofdm qpsk"] = soft_vs_none(
            "ofdm", [round(x, 2) for x in np.arange(8.5, 10.51, 0.25)], args.ofdm_messages,
            recovery, "qpsk", args.seed, progress)
        # Coded QPSK 1/2 (LDPC): a failed packet is a failed decode, with
        # many wrong bits; LLRs are the decoder's posteriors.
        out["soft_vs_none"]["ofdm qpsk-1/2"] = soft_vs_none(
            "ofdm", _grid(args.ldpc_snr), args.ofdm_messages,
            recovery, "qpsk-1/2", args.seed, progress, split=True)
    out["summary"] = {
        "fill_restored_at_30pct_erasure": [round(erasure["fill_restored_rate"], 3), ">= 0.40",
                                           erasure["pass"]],
        "unigram_restored_at_30pct_erasure": round(erasure["unigram_restored_rate"], 3),
        "fill_restored_model_alone": (round(erasure["fill_restored_rate_model_alone"], 3)
                                      if "fill_restored_rate_model_alone" in erasure else None),
        "recovery_ms_100_tokens_fill_soft": [round(latency["fill_ms_median"], 1),
                                             round(latency["soft_ms_median"], 1), "<= 100",
                                             latency["pass"]],
    }
    _summarise_soft(out)
    return _finish(args, out, started)


def _summarise_soft(out):
    for name, result in out["soft_vs_none"].items():
        out["summary"][f"soft_over_none[{name}]"] = [
            result["snr_db"], round(result["none_exact_rate"], 3),
            round(result["soft_exact_rate"], 3),
            None if result["soft_over_none"] is None else round(result["soft_over_none"], 2),
            ">= 2.2", result["pass"]]
        for variant, row in (result.get("soft_context_decoding_variants") or {}).items():
            out["summary"][f"soft[{name}, context decoding {variant}]"] = round(
                row["exact_rate"], 3)


def _only_coded(args, recovery, out, progress, started):
    out["source"] = args.source
    out["soft_vs_none"] = {"ofdm qpsk-1/2": soft_vs_none(
        "ofdm", _grid(args.ldpc_snr), args.ofdm_messages,
        recovery, "qpsk-1/2", args.seed, progress, split=True, source=args.source)}
    out["summary"] = {}
    _summarise_soft(out)
    return _finish(args, out, started)


def _grid(text):
    """``START:STOP:STEP`` in dB as a list, STOP included."""
    start, stop, step = (float(v) for v in text.split(":"))
    return [round(x, 2) for x in np.arange(start, stop + step / 2, step)]


def _finish(args, out, started):
    out["elapsed_s"] = time.perf_counter() - started
    emit_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
