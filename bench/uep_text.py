#!/usr/bin/env python3
"""Unequal against equal protection for text, at the same air time, through the real chain.

Every held-out message (60-128 BPE tokens; ``--aggregation``, interleaved by
default; ``--packet-tokens`` a packet) is sent three ways over the GNU Radio
OFDM loopback at each SNR, with the same noise seed:

* ``equal``: every packet at ``--mcs``;
* ``uep``: the packets whose tokens the context model restores worst
  (summed surprisal, computed at the sender) at the robust MCS, the rest at
  the fast MCS, as many robust as fit in ``equal``'s air time;
* ``uep-random`` (control): the same MCS split with the robust packets
  chosen at random, to show what the importance ranking itself brings.

The receiver fills lost tokens with the context model (``fill``) in every
case. The score is the exact-token rate after recovery (1 - TER), with a 95 %
interval over messages; the plot shows where unequal protection wins and
where it loses.

    .venv/bin/python bench/uep_text.py --messages 16 --out docs/results/uep

The robust MCS is kept above the PHY's synchronisation floor (about 2 dB
here): below it no MCS helps, since bursts are not even detected.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from json_report import emit_json  # bench/, first on sys.path when a bench runs

from tokencom_sdr.app.loopback import LinkConfig, run_text_loopback
from tokencom_sdr.app.unequal_protection import parse_uep
from tokencom_sdr.data.heldout_messages import heldout_messages
from tokencom_sdr.link.receiver import TokenReceiver
from tokencom_sdr.tokens.text_bpe import TextTokenizer


def _interval(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(1.96 * values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=24)
    parser.add_argument("--snr", default="2,3,4,5,6,7,8,10,13,16", metavar="LIST")
    parser.add_argument("--mcs", default="16qam-1/2", help="equal protection's MCS")
    parser.add_argument("--uep", default="qpsk-1/2,64qam-2/3", metavar="ROBUST,FAST")
    parser.add_argument("--packet-tokens", type=int, default=8)
    parser.add_argument("--aggregation", choices=("interleaved", "sequential"), default="interleaved")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder for uep_text.json/.png")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    robust, fast = parse_uep(args.uep)
    snrs = [float(s) for s in args.snr.split(",")]
    tokenizer = TextTokenizer.default()
    messages = heldout_messages(args.messages, tokenizer, seed=args.seed)
    receiver = TokenReceiver("fill", text_tokenizer=tokenizer)
    cases = {"equal": None, "uep": (robust, fast), "uep-random": (robust, fast)}
    started = time.perf_counter()
    rows = []
    for snr in snrs:
        scores = {case: [] for case in cases}
        air = {case: [] for case in cases}
        robust_share = []
        for index, text in enumerate(messages):
            for case, uep in cases.items():
                config = LinkConfig(snr_db=snr, mcs=args.mcs, tokens_per_packet=args.packet_tokens,
                                    aggregation=args.aggregation,
                                    seed=1000 * args.seed + index, message_id=index % 65536,
                                    recovery="fill", uep=uep,
                                    uep_ranking="random" if case == "uep-random" else "model")
                report = run_text_loopback(text, config, tokenizer, receiver=receiver,
                                           semantic=False)
                scores[case].append(1.0 - report["token_error_rate"])
                air[case].append(report["channel_uses"])
                if case == "uep":
                    protection = report["config"]["unequal_protection"]
                    robust_share.append(protection["robust_tokens"] / report["tokens_sent"])
        for case in cases:
            rows.append({"snr_db": snr, "case": case, "exact_token_rate": float(np.mean(scores[case])),
                         "exact_token_rate_ci95": _interval(scores[case]),
                         "channel_uses_mean": float(np.mean(air[case])),
                         "robust_token_share": None if case == "equal" else float(np.mean(robust_share))})
        gain = np.subtract(scores["uep"], scores["equal"])
        rows.append({"snr_db": snr, "case": "uep-minus-equal", "exact_token_rate": float(gain.mean()),
                     "exact_token_rate_ci95": _interval(gain)})
        print(f"{snr:5.1f} dB  equal {np.mean(scores['equal']):.3f}  uep {np.mean(scores['uep']):.3f}"
              f"  uep-random {np.mean(scores['uep-random']):.3f}  gain {gain.mean():+.3f}",
              file=sys.stderr, flush=True)
    report = {"benchmark": "uep_text", "messages": len(messages), "mcs": args.mcs,
              "uep": [robust, fast], "packet_tokens": args.packet_tokens,
              "aggregation": args.aggregation, "recovery": "fill",
              "rows": rows, "seconds": time.perf_counter() - started}
    if args.out:
        _plot(rows, args, args.out / "uep_text.png")
    emit_json(report, args.out / "uep_text.json" if args.out else None)
    return 0


def _plot(rows, args, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for case, style in (("equal", "o-"), ("uep", "s-"), ("uep-random", "^--")):
        pts = [r for r in rows if r["case"] == case]
        top.errorbar([r["snr_db"] for r in pts], [r["exact_token_rate"] for r in pts],
                     yerr=[r["exact_token_rate_ci95"] for r in pts], fmt=style, capsize=3,
                     label=case if case != "equal" else f"equal ({args.mcs})")
    top.set_ylabel("exact-token rate after fill")
    top.set_title(f"unequal ({args.uep}) vs equal protection at the same air time")
    top.legend()
    top.grid(alpha=0.3)
    gain = [r for r in rows if r["case"] == "uep-minus-equal"]
    x = [r["snr_db"] for r in gain]
    y = np.array([r["exact_token_rate"] for r in gain])
    bottom.errorbar(x, y, yerr=[r["exact_token_rate_ci95"] for r in gain], fmt="o-", capsize=3)
    bottom.axhline(0.0, color="k", lw=0.8)
    bottom.axhline(0.05, color="g", lw=0.8, ls=":", label="+5 points")
    bottom.fill_between(x, y, 0, where=y > 0, color="g", alpha=0.2, label="UEP wins")
    bottom.fill_between(x, y, 0, where=y < 0, color="r", alpha=0.2, label="UEP loses")
    bottom.set_xlabel("SNR (dB)")
    bottom.set_ylabel("UEP - equal")
    bottom.legend()
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
