"""``tokencom bits-eval``: bits per token of held-out text, fixed ids vs
predictable-token skipping vs entropy coding vs UTF-8 + zlib."""

from __future__ import annotations

import argparse
from pathlib import Path


def _taus(value: str):
    try:
        taus = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read thresholds {value!r}; write e.g. "
                                         f"0,0.5,0.9") from None
    if not taus or any(not 0.0 <= t <= 1.0 for t in taus):
        raise argparse.ArgumentTypeError(f"thresholds must be numbers in [0, 1], got {value!r}")
    return taus


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bits-eval", help="bits per token of held-out text: fixed 12-bit ids, skipping, "
                          "entropy coding, zlib",
        description="Send held-out messages with fewer bits than tokens, on a clean channel. "
                    "Every method writes the message's real bytes and a receiver rebuilds it: "
                    "fixed 12-bit ids; predictable-token skipping at each threshold tau (tokens "
                    "the receiver's context model predicts exactly with confidence >= tau are "
                    "left out and filled; a 16-bit message hash checks the fill, a failed one "
                    "costs a retransmission of the skipped ids); range coding with the model's "
                    "left-to-right prior; and the UTF-8 text through zlib. Writes one row per "
                    "method with bits_per_token, exact_rate and the model's cross_entropy_bits.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = parser.add_argument_group("messages")
    data.add_argument("--source", default="debian-reference", metavar="NAME",
                      help="debian-reference (modern English no model trained on; needs "
                           "`tokencom data fetch`), or corpus-heldout (held-out blocks of "
                           "Shakespeare, Milton and the KJV)")
    data.add_argument("--messages", type=int, default=50, metavar="N", help="messages")
    data.add_argument("--min-tokens", type=int, default=60, metavar="N",
                      help="shortest message, in BPE tokens")
    data.add_argument("--max-tokens", type=int, default=128, metavar="N",
                      help="longest message, in BPE tokens")
    data.add_argument("--seed", type=int, default=0, metavar="N", help="message order")
    method = parser.add_argument_group("methods")
    method.add_argument("--taus", type=_taus, default=None, metavar="T,T,...",
                        help="skipping thresholds in [0, 1]; one skip-<tau> row each "
                             "(default: 0,0.25,0.5,0.9, the experiment's DEFAULT_TAUS)")
    method.add_argument("--direction", choices=("forward", "backward", "best"), default="best",
                        help="skipping's decision order; best: the sender tries both and sends "
                             "the shorter message (one header bit)")
    method.add_argument("--memory", default="default", metavar="PATH|default|none",
                        help="corpus memory refining the model's prior (both ends)")
    method.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch threads of every prediction (sender and receiver must agree)")
    loss = parser.add_argument_group("loss behaviour of entropy coding")
    loss.add_argument("--loss-study", type=int, default=0, metavar="N",
                      help="also lose the middle packet of the first N messages' range codes "
                           "and report what a receiver gets (0: skip the study)")
    loss.add_argument("--packet-bytes", type=int, default=16, metavar="B",
                      help="packet size the range code is cut into for the loss study")
    output = parser.add_argument_group("output")
    output.add_argument("--json", type=Path, metavar="PATH", help="write rows and summary here")
    output.add_argument("--plot", type=Path, metavar="PNG",
                        help="bar chart of bits per token per method, with the cross-entropy")
    output.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def plot_bits(result, path: Path, title: str) -> None:
    """Bar chart of ``result``'s rows (bits per token; red when not exact),
    with the model's cross-entropy and 75 % of fixed as lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [r["method"] for r in rows]
    values = [r["bits_per_token"] for r in rows]
    colours = ["tab:green" if r["exact_rate"] == 1.0 else "tab:red" for r in rows]
    ax.bar(names, values, color=colours)
    ax.axhline(result["summary"]["cross_entropy_bits"], color="k", linestyle="--",
               label="model cross-entropy (left to right)")
    ax.axhline(0.75 * rows[0]["bits_per_token"], color="tab:orange", linestyle=":",
               label="75 % of fixed")
    for i, v in enumerate(values):
        ax.text(i, v + 0.15, f"{v:.2f}", ha="center", fontsize=8)
    ax.set_ylabel("bits per token")
    ax.set_ylim(0, 1.3 * max(values))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args) -> int:
    from ..compression.context_prior import ContextPrior
    from ..context.text_memory import memory_from_option
    from ..context.text_recovery import TextRecovery, default_text_model
    from ..data.heldout_messages import source_messages
    from ..experiments.bits_eval import DEFAULT_TAUS, entropy_loss_study, run_bits_eval
    from .options import write_json_file

    if not 1 <= args.messages <= 100_000:
        raise ValueError(f"--messages must be 1..100000, got {args.messages}")
    if args.loss_study < 0:
        raise ValueError(f"--loss-study must be >= 0, got {args.loss_study}")
    if not 1 <= args.threads <= 256:
        raise ValueError(f"--threads must be 1..256, got {args.threads}")
    if not 1 <= args.min_tokens <= args.max_tokens <= 4096:
        raise ValueError(f"need 1 <= --min-tokens <= --max-tokens <= 4096, got "
                         f"{args.min_tokens} and {args.max_tokens}")
    messages = source_messages(args.source, args.messages, min_tokens=args.min_tokens,
                               max_tokens=args.max_tokens, seed=args.seed)
    prior = ContextPrior(TextRecovery(default_text_model(), memory=memory_from_option(args.memory)),
                         threads=args.threads)
    print(f"{args.source}: {len(messages)} messages")
    result = run_bits_eval(messages, prior, taus=args.taus or DEFAULT_TAUS, direction=args.direction,
                           progress=not args.no_progress)
    result["summary"].update(source=args.source, seed=args.seed, memory=args.memory,
                             min_tokens=args.min_tokens, max_tokens=args.max_tokens)
    summary = result["summary"]
    print(f"{summary['tokens']} tokens; model cross-entropy {summary['cross_entropy_bits']:.3f} "
          f"bits/token left to right, {summary['bidirectional_cross_entropy_bits']:.3f} with "
          f"every other token visible")
    print(f"{'method':>10} {'bits/token':>10} {'of fixed':>8} {'exact':>6}  notes")
    for row in result["rows"]:
        note = ""
        if "skip_rate" in row:
            note = (f"skipped {row['skip_rate']:.3f}, map {row['skip_map_bits_per_token']:.2f} "
                    f"b/tok, fallbacks {row['fallback_rate']:.3f}, backward "
                    f"{row['backward_rate']:.2f}")
        elif row["method"] == "entropy":
            note = (f"code {row['code_bits_per_token']:.3f} b/tok; total/cross-entropy "
                    f"{row['ratio_to_cross_entropy']:.3f}")
        print(f"{row['method']:>10} {row['bits_per_token']:10.3f} {row['ratio_to_fixed']:8.3f} "
              f"{row['exact_rate']:6.3f}  {note}")
    if args.loss_study:
        if not 1 <= args.packet_bytes <= 65535:
            raise ValueError(f"--packet-bytes must be 1..65535, got {args.packet_bytes}")
        study = entropy_loss_study(messages[:args.loss_study], prior,
                                   packet_bytes=args.packet_bytes, progress=not args.no_progress)
        result["entropy_loss_study"] = study
        print(f"entropy coding, middle {args.packet_bytes}-byte packet of "
              f"{study['packets_per_message']:.1f} lost: delivered {study['delivered_rate']:.2f}; "
              f"decoded anyway with zeros: {study['tokens_right_rate']:.3f} of tokens right "
              f"({study['tokens_before_gap_rate']:.3f} coded before the gap), hash refused "
              f"{study['hash_refused_rate']:.2f}, wrong delivered {study['wrong_delivered']}")
    if args.json:
        write_json_file(args.json, result)
    if args.plot:
        plot_bits(result, args.plot, f"{args.source}, {len(messages)} held-out messages")
    return 0
