"""``tokencom text-erasure-eval``: text recovery under packet loss, without the PHY."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..context.modes import EXPERT_OPTION_HELP
from .budget_options import add_budget_options, budget_from_args
from .loss_options import add_loss_model_options
from .options import add_aggregation_option, write_json_file


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "text-erasure-eval", help="text recovery vs packet loss (iid, gilbert, ep1..ep6), "
                                  "without the PHY",
        description="Cut held-out messages (60-128 BPE tokens), send them in packets over a "
                    "packet-erasure channel, rebuild them with the real link layer, fill the "
                    "lost tokens with the context model and count what comes back exactly. A "
                    "bursty loss model is followed by i.i.d. loss at the same loss rate, for "
                    "comparison.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--source", default="corpus-heldout", metavar="NAME",
                        help="corpus-heldout, or a modern-English source of `tokencom data "
                             "fetch` (e.g. debian-reference, held out completely)")
    parser.add_argument("--messages", type=int, default=100, metavar="N",
                        help="held-out messages (the same for every loss model)")
    parser.add_argument("--loss", type=float, default=0.3, metavar="P",
                        help="packet-loss rate (iid, gilbert)")
    parser.add_argument("--packet-tokens", type=int, default=8, metavar="N",
                        help="tokens per packet")
    add_aggregation_option(parser)
    parser.add_argument("--memory", default="default", metavar="PATH|default|none",
                        help="corpus memory refining the model's prior")
    parser.add_argument("--expert", default="auto", metavar="auto|default|none|PATH",
                        help=EXPERT_OPTION_HELP)
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="message order and loss-trace seed")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the rows here")
    add_loss_model_options(parser)
    add_budget_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..channel.loss_models import iid_loss, make_loss_model
    from ..context.domain_expert import expert_from_option
    from ..context.text_memory import memory_from_option
    from ..context.text_recovery import TextRecovery
    from ..data.heldout_messages import source_messages
    from ..experiments.text_erasure_eval import run_erasure_eval

    if not 1 <= args.messages <= 100_000:
        raise ValueError(f"--messages must be 1..100000, got {args.messages}")
    bursty = args.loss_model.startswith("ep")
    model = make_loss_model(args.loss_model, None if bursty else args.loss, args.burst)
    models = [model] if model.name == "iid" else [model, iid_loss(model.loss_rate())]
    budget = budget_from_args(args, args.seed)
    messages = source_messages(args.source, args.messages, seed=args.seed)
    recovery = TextRecovery(memory=memory_from_option(args.memory),
                            expert=expert_from_option(args.expert))
    rows = []
    print(f"{args.source}: {len(messages)} messages, {args.packet_tokens} tokens a packet, "
          f"{args.aggregation}")
    print(f"{'model':>7} {'loss':>6} {'burst':>6} {'pkt lost':>8} {'tok erased':>10} "
          f"{'restored':>8} {'exact none':>10} {'exact fill':>10}")
    for loss_model in models:
        row = run_erasure_eval(messages, recovery, tokens_per_packet=args.packet_tokens,
                               aggregation=args.aggregation, seed=args.seed,
                               loss_model=loss_model, progress=True, budget=budget)
        row["source"] = args.source
        rows.append(row)
        print(f"{loss_model.name:>7} {loss_model.loss_rate():6.3f} "
              f"{loss_model.mean_burst_length():6.2f} {row['packet_loss_rate']:8.3f} "
              f"{row['token_erasure_rate']:10.3f} {row['fill_restored_rate']:8.3f} "
              f"{row['exact_rate_none']:10.3f} {row['exact_rate_fill']:10.3f}")
    if args.json:
        write_json_file(args.json, rows)
    return 0
