"""``tokencom loss-trace``: draw a packet-loss trace and check its statistics."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..channel.loss_models import LOSS_MODEL_NAMES
from .options import write_json_file


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "loss-trace", help="draw a packet-loss trace (iid, gilbert, ep1..ep6) and measure it",
        description="Run a packet-loss model over N packets and print the trace's loss rate and "
                    "mean burst length, beside the model's analytic values and, for EP1-EP6, "
                    "the published figures (Yajnik et al., INFOCOM 1999).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", choices=LOSS_MODEL_NAMES, required=True,
                        help="loss model")
    parser.add_argument("--loss", type=float, default=None, metavar="P",
                        help="iid and gilbert: long-run loss rate")
    parser.add_argument("--burst", type=float, default=None, metavar="B",
                        help="gilbert: mean burst length in packets")
    parser.add_argument("--packets", type=int, default=1_000_000, metavar="N",
                        help="trace length (at most 10^8)")
    parser.add_argument("--seed", type=int, default=0, metavar="N")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the result here")
    parser.add_argument("--plot", type=Path, metavar="PATH",
                        help="write a PNG of the burst-length distribution and the first "
                             "2000 packets of the trace")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..channel.loss_models import make_loss_model, trace_statistics

    if not 1 <= args.packets <= 10 ** 8:
        raise ValueError(f"--packets must be 1..10^8, got {args.packets}")
    model = make_loss_model(args.model, args.loss, args.burst)
    lost = model.process(args.seed).lost(args.packets)
    measured = trace_statistics(lost)
    result = dict(model.settings(), seed=args.seed, **measured)
    line = (f"{model.name}: {measured['packets']} packets, loss rate {measured['loss_rate']:.5f} "
            f"(analytic {model.loss_rate():.5f}), mean burst {measured['mean_burst_length']:.3f} "
            f"packets (analytic {model.mean_burst_length():.3f})")
    if model.reference is not None:
        line += (f"; published {model.reference[0]:.5f}, {model.reference[1]:.2f}")
    print(line)
    if args.json:
        write_json_file(args.json, result)
    if args.plot:
        _plot(lost, model.name, args.plot)
    return 0


def _plot(lost, name: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    edges = np.flatnonzero(np.diff(np.concatenate([[0], lost.astype(np.int8), [0]])))
    bursts = edges[1::2] - edges[0::2]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5))
    if bursts.size:
        top.hist(bursts, bins=np.arange(1, min(int(bursts.max()), 60) + 2) - 0.5, log=True)
    top.set_xlabel("burst length (packets)")
    top.set_ylabel("bursts")
    top.set_title(f"{name}: burst lengths")
    shown = lost[:2000]
    bottom.imshow(shown[np.newaxis, :], aspect="auto", cmap="Greys", interpolation="nearest")
    bottom.set_yticks([])
    bottom.set_xlabel("packet (black: lost)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
