"""``tokencom text-eval``: recovery modes vs SNR over held-out messages."""

import argparse
import json
from pathlib import Path

from ..context.modes import CONTEXT_DECODING, EXPERT_OPTION_HELP
from ..context.modes import TEXT_RECOVERY_MODES as RECOVERY_MODES
from .options import parse_snr_range


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "text-eval", help="exact-message rate vs SNR for each text recovery mode",
        description="Send held-out corpus messages (>= 60 BPE tokens each) through a channel "
                    "at each SNR and report, per recovery mode, the exact-message rate, token "
                    "error rate and MiniLM semantic similarity. 'fill' is the language-model-"
                    "only baseline (also listed as 'lm-only'). The 'ofdm' channel is the real "
                    "GNU Radio chain; 'soft' there uses the receiver's bit LLRs (decoder "
                    "posteriors for a coded MCS) and, with a coded MCS, first decodes failed "
                    "codewords again with the known link header and the model's token prior "
                    "(--context-decoding). "
                    "The 'soft-bits' channel is the packet-level BPSK/AWGN channel with exact "
                    "LLRs (SNR = Es/N0).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--snr", required=True, metavar="START:STOP:STEP",
                        help="SNRs in dB, STOP included (or a comma list)")
    parser.add_argument("--mcs", default="qpsk", metavar="NAME",
                        help="payload MCS, e.g. qpsk-1/2 (coded) or qpsk (uncoded); see tokencom per-sweep --help")
    parser.add_argument("--messages", type=int, default=50, metavar="N",
                        help="held-out messages per SNR")
    parser.add_argument("--recovery", default="none,fill,soft", metavar="LIST",
                        help=f"comma list of {', '.join(RECOVERY_MODES)}")
    parser.add_argument("--channel", choices=("ofdm", "soft-bits"), default="ofdm",
                        help="real OFDM chain, or the packet-level soft channel")
    parser.add_argument("--cfo", type=float, default=0.0, metavar="F",
                        help="carrier frequency offset (ofdm channel), normalised")
    parser.add_argument("--packet-tokens", type=int, default=32, metavar="N",
                        help="tokens per packet (interleaved aggregation)")
    parser.add_argument("--context-decoding", choices=CONTEXT_DECODING, default="model",
                        help="soft only: decode CRC-failed codewords again with the known link "
                             "header and then the model's token prior (model), the header only "
                             "(header), the model's prior only (model-only) or not at all "
                             "(off); coded MCSs only")
    parser.add_argument("--model", type=Path, default=None, metavar="PATH",
                        help="text context checkpoint (default: the committed model)")
    parser.add_argument("--memory", default="default", metavar="PATH|default|none",
                        help="corpus memory that refines the model's prior in fill and soft "
                             "(default: the committed one; none: the model alone)")
    parser.add_argument("--expert", default="auto", metavar="auto|default|none|PATH",
                        help=EXPERT_OPTION_HELP)
    parser.add_argument("--seed", type=int, default=0, metavar="N")
    parser.add_argument("--no-semantic", action="store_true",
                        help="skip the MiniLM similarity (reported as null)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the rows as JSON here")
    parser.add_argument("--plot", type=Path, metavar="PATH", help="write a PNG plot here")
    parser.set_defaults(run=run)


def _redecoded(row) -> str:
    counts = row.get("packets_redecoded")
    if not counts or not counts["candidates"]:
        return ""
    return f"  re-decoded {counts['recovered']}/{counts['candidates']} failed packets"


def run(args) -> int:
    from ..context.domain_expert import expert_from_option
    from ..context.text_memory import memory_from_option
    from ..context.text_model import load_text_context_model
    from ..context.text_recovery import TextRecovery
    from ..experiments.text_eval import (TextEvalConfig, plot_text_eval,
                                      run_text_eval)

    recoveries = tuple(r.strip() for r in args.recovery.split(",") if r.strip())
    config = TextEvalConfig(snrs=parse_snr_range(args.snr), mcs=args.mcs, messages=args.messages,
                            recoveries=recoveries, channel=args.channel, cfo=args.cfo,
                            tokens_per_packet=args.packet_tokens, seed=args.seed,
                            semantic=not args.no_semantic,
                            context_decoding=args.context_decoding)
    recovery = None
    if any(r in ("fill", "soft", "lm-only") for r in recoveries):
        recovery = TextRecovery(None if args.model is None else load_text_context_model(args.model),
                                memory=memory_from_option(args.memory),
                                expert=expert_from_option(args.expert))
    rows = run_text_eval(config, recovery)
    header = f"{'SNR dB':>7} {'recovery':>8} {'exact':>6} {'TER':>6} {'TER raw':>7} {'semantic':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        sim = row["semantic_similarity"]
        print(f"{row['snr_db']:7.2f} {row['recovery']:>8} {row['exact_rate']:6.3f} "
              f"{row['token_error_rate']:6.3f} {row['token_error_rate_raw']:7.3f} "
              f"{'n/a' if sim is None else format(sim, '.3f'):>8}"
              + _redecoded(row))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot_text_eval(rows, args.plot)
    return 0
