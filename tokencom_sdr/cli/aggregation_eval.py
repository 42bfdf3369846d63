"""``tokencom aggregation-eval``: which tokens share a packet, compared (SemPA vs interleaving)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Tuple

from ..link.semantic_aggregation import PACKET_AGGREGATIONS as AGGREGATION_METHODS
from .options import comma_choices, write_json_file


def _token_range(value: str) -> Tuple[int, int]:
    try:
        low, _, high = value.partition(":")
        low_n, high_n = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K or MIN:MAX tokens, got {value!r}") from None
    if not 2 <= low_n <= high_n <= 4096:
        raise argparse.ArgumentTypeError(f"token counts must satisfy 2 <= MIN <= MAX <= 4096, "
                                         f"got {value!r}")
    return low_n, high_n


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "aggregation-eval", help="compare token-to-packet groupings: ATS, search cost, meaning "
                                 "after loss and context recovery",
        description="For held-out text messages, group the tokens into packets with each "
                    "method, score the grouping's Average Token Similarity (SemPA: the "
                    "loss-weighted MiniLM similarity of what survives to the message; exact "
                    "for few packets, else Monte Carlo with a 95% interval), then send it "
                    "through packet-loss draws and the context model and score the "
                    "similarity and token error rate of what is restored.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    what = parser.add_argument_group("what to compare")
    what.add_argument("--methods", type=comma_choices(AGGREGATION_METHODS, "methods"),
                      default="sequential,interleaved,sempa-gbeam,sempa-look",
                      metavar="M,M,...", help=f"among {','.join(AGGREGATION_METHODS)}")
    what.add_argument("--tokens", type=_token_range, default="12", metavar="K|MIN:MAX",
                      help="tokens per message (exactly K, or a range like 60:128)")
    what.add_argument("--tokens-per-packet", type=int, default=3, metavar="M",
                      help="tokens a packet carries (a message goes in ceil(K / M) packets)")
    what.add_argument("--loss", type=float, default=0.3, metavar="P",
                      help="packet-loss probability (searches, ATS and the loss draws)")
    what.add_argument("--messages", type=int, default=20, metavar="N",
                      help="held-out messages")
    what.add_argument("--objective", choices=("ats", "ats-filled"), default="ats",
                      help="what the searches maximise: SemPA's ATS (survivors as they are) or "
                           "the ATS after one pass of the context model fills the rest (what "
                           "the receiver shows)")
    what.add_argument("--source", default="corpus-heldout", metavar="NAME",
                      help="corpus-heldout or a fetched modern-English source")
    how = parser.add_argument_group("scoring")
    how.add_argument("--draws", type=int, default=8, metavar="N",
                     help="loss draws per message after which recovery is scored (0: none)")
    how.add_argument("--no-recovery", action="store_true",
                     help="score the received text without the context model")
    how.add_argument("--search-samples", type=int, default=32, metavar="S",
                     help="Monte Carlo survivor sets of the searches (above 6 packets)")
    how.add_argument("--eval-samples", type=int, default=128, metavar="S",
                     help="Monte Carlo survivor sets of the final ATS (above 7 packets)")
    search = parser.add_argument_group("search budgets")
    search.add_argument("--beam", type=int, default=8, metavar="B", help="sempa-gbeam: beam width")
    search.add_argument("--children", type=int, default=4, metavar="C",
                        help="sempa-gbeam: mutations per beam member and generation")
    search.add_argument("--generations", type=int, default=15, metavar="G",
                        help="sempa-gbeam: most generations")
    search.add_argument("--polish", type=int, default=120, metavar="E",
                        help="sempa-look: evaluations of the swap phase")
    how.add_argument("--seed", type=int, default=0, metavar="N")
    how.add_argument("--threads", type=int, default=1, metavar="N",
                     help="torch threads for the encoder and the context model")
    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="PATH", help="write the result here")
    out.add_argument("--plot", type=Path, metavar="PATH",
                     help="write a PNG: ATS and similarity after recovery per method, "
                          "with 95%% intervals, against g_calls")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..data.heldout_messages import source_messages
    from ..experiments.aggregation_eval import run_aggregation_eval

    import torch

    torch.set_num_threads(max(1, args.threads))
    if not 0.0 <= args.loss < 1.0:
        raise ValueError(f"--loss must lie in [0, 1), got {args.loss}")
    if not 1 <= args.messages <= 10_000 or not 1 <= args.tokens_per_packet <= 1500:
        raise ValueError("--messages must be 1..10000 and --tokens-per-packet 1..1500")
    low, high = args.tokens
    messages = source_messages(args.source, args.messages, min_tokens=low, max_tokens=high,
                               seed=args.seed)
    if args.objective == "ats-filled" and args.no_recovery:
        raise ValueError("--objective ats-filled scores the context model's fill; drop --no-recovery")
    recovery = None
    if args.objective == "ats-filled" or (not args.no_recovery and args.draws):
        from ..context.text_recovery import TextRecovery

        recovery = TextRecovery(memory="default")
    result = run_aggregation_eval(messages, args.methods, tokens_per_packet=args.tokens_per_packet,
                                  loss=args.loss, recovery=recovery, draws=args.draws,
                                  seed=args.seed, search_samples=args.search_samples,
                                  objective=args.objective,
                                  eval_samples=args.eval_samples, progress=True,
                                  search_options={
                                      "sempa-gbeam": {"beam": args.beam, "children": args.children,
                                                      "generations": args.generations},
                                      "sempa-look": {"polish_evaluations": args.polish}})
    result["source"] = args.source
    print(f"{len(messages)} messages of {result['tokens_per_message']:.1f} tokens, "
          f"{args.tokens_per_packet} a packet, loss {args.loss}")
    print(f"{'method':>12} {'ATS':>7} {'±95%':>6} {'vs interl.':>10} {'g_calls':>9} "
          f"{'seconds':>7} {'sim after':>9} {'±95%':>6} {'vs interl.':>10} {'TER':>6}")
    for row in result["rows"]:
        print(f"{row['method']:>12} {row['ats']:7.4f} {row['ats_ci95']:6.4f} "
              f"{_signed(row.get('ats_gain_vs_interleaved'))} {row['g_calls']:9.0f} "
              f"{row['seconds']:7.2f} {_num(row.get('semantic_similarity'))} "
              f"{_num(row.get('semantic_similarity_ci95'), 6)} "
              f"{_signed(row.get('semantic_gain_vs_interleaved'))} "
              f"{_num(row.get('token_error_rate'), 6)}")
    if args.json:
        write_json_file(args.json, result)
    if args.plot:
        _plot(result, args.plot)
    return 0


def _num(value, width: int = 9) -> str:
    return f"{value:{width}.4f}" if value is not None else " " * (width - 1) + "-"


def _signed(value) -> str:
    return f"{value:+10.4f}" if value is not None else " " * 9 + "-"


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for row in rows:
        calls = max(row["g_calls"], 1.0)
        axes[0].errorbar(calls, row["ats"], yerr=row["ats_ci95"], fmt="o", capsize=3,
                         label=row["method"])
        if "semantic_similarity" in row:
            axes[1].errorbar(calls, row["semantic_similarity"],
                             yerr=row["semantic_similarity_ci95"], fmt="o", capsize=3,
                             label=row["method"])
    for axis, label in zip(axes, ("ATS (what survives)", "MiniLM similarity after recovery")):
        axis.set_xscale("log")
        axis.set_xlabel("g_calls per message (1 = none)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{result['messages']} messages, {result['tokens_per_message']:.0f} tokens, "
                    f"{result['tokens_per_packet']} a packet, p = {result['loss']}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
