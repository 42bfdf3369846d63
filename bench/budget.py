#!/usr/bin/env python3
"""Token budget: quality against budget, and a controller over a drifting channel.

Parts (``--parts``, comma-separated):

* ``image-curve``: the centre ``--crop`` crop of each held-out image
  (astronaut, flower, peppers; 0: the whole image) at budget
  ``alpha`` in ``--alphas``, the kept tokens chosen by the image context
  model (``importance``) or at random, no packet loss; PSNR and MS-SSIM
  after context recovery.
* ``text-curve``: ``--messages`` held-out messages (60-128 BPE tokens), the
  same way; MiniLM semantic similarity x 100 and token accuracy after fill.
* ``image-validate`` (after ``image-controller``): ``--validate`` messages
  of the controller's trace sent through the real GNU Radio OFDM loopback
  (:func:`~tokencom_sdr.app.loopback.run_image_loopback`) with the budget,
  MCS and SNR the trace gave them, measured PSNR against the table's
  expectation at that SNR.
* ``image-controller``, ``text-controller``: a quality table (importance
  budget x share of its packets lost, real recovery, held-out sources: the
  same image crops, ``--table-messages`` other messages), the air
  time of each budget at each MCS, the PER curves the real chain measured
  (``docs/results/per_sweep.json``), then
  :func:`~tokencom_sdr.experiments.budget_controller.compare_with_fixed`:
  the drift-plus-penalty controller against every fixed (alpha, MCS) pair on
  one SNR trace drifting by +- ``--swing`` dB around ``--centre``.

Each part writes ``<part>.json`` and a plot into ``--out``, and the bench
prints one JSON summary.

    .venv/bin/python bench/budget.py --out docs/results/budget
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from json_report import emit_json  # bench/, first on sys.path when a bench runs

from tokencom_sdr.experiments.budget_controller import (DriftPlusPenalty, PerCurves, QualityTable,
                                                        compare_with_fixed, snr_trace)
from tokencom_sdr.experiments.budget_eval import (image_budget_curve, image_quality_table,
                                                  text_budget_curve, text_quality_table)
from tokencom_sdr.link.budget import IMAGE_RANKINGS

PARTS = ("image-curve", "text-curve", "image-controller", "text-controller")
#: Not in the default run: checks image-controller's table against the real chain.
EXTRA_PARTS = ("image-validate",)
ROOT = Path(__file__).resolve().parents[1]


def _floats(text):
    return [float(v) for v in text.split(",") if v.strip()]


def _plot_curve(path, rows, x_key, y_key, ylabel, title, group_key=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    groups = sorted({r[group_key] for r in rows}) if group_key else [None]
    for order, style in (("importance", "o-"), ("random", "s--")):
        mine = [r for r in rows if r["order"] == order]
        for colour, group in enumerate(groups):
            these = sorted((r for r in mine if group is None or r[group_key] == group),
                           key=lambda r: r[x_key])
            ys = [r[y_key]["mean"] if isinstance(r[y_key], dict) else r[y_key] for r in these]
            label = order if group is None else f"{group}, {order}"
            axis.plot([r[x_key] for r in these], ys, style, color=f"C{colour}", label=label)
    axis.set_xlabel("budget alpha (share of tokens sent)")
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_controller(path, result, metric_label, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["controller"]["rows"]
    t = [r["t"] for r in rows]
    figure, axes = plt.subplots(4, 1, figsize=(8, 8.5), sharex=True)
    axes[0].plot(t, [r["snr_db"] for r in rows], label="channel SNR")
    axes[0].plot(t, [r["reported_snr_db"] for r in rows], lw=0.7, alpha=0.7,
                 label="reported (previous message)")
    axes[0].set_ylabel("SNR dB")
    axes[0].legend(fontsize=7)
    axes[1].step(t, [r["alpha"] for r in rows], where="post")
    axes[1].set_ylabel("alpha")
    mcs_names = list(dict.fromkeys(f["mcs"] for f in result["fixed"]))  # slowest first
    axes[2].step(t, [mcs_names.index(r["mcs"]) for r in rows], where="post")
    axes[2].set_yticks(range(len(mcs_names)), mcs_names, fontsize=7)
    axes[2].set_ylabel("MCS")
    axes[3].plot(t, [r["quality"] for r in rows], lw=0.8, label="controller")
    best = result["best_fixed"]
    axes[3].axhline(best["mean_quality"], color="k", ls="--", lw=0.8,
                    label=f"best fixed mean ({best['alpha']:g}, {best['mcs']})")
    axes[3].axhline(result["controller"]["mean_quality"], color="C1", lw=0.8,
                    label="controller mean")
    late = [r["t"] for r in rows if not r["on_time"]]
    if late:
        axes[3].plot(late, [rows[i]["quality"] for i in late], "rx", ms=4, label="missed deadline")
    axes[3].set_ylabel(metric_label)
    axes[3].set_xlabel("message")
    axes[3].legend(fontsize=7)
    axes[0].set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _centre_crops(names, side):
    """The held-out images, each cut to its centre ``side`` x ``side`` (0: whole)."""
    from tokencom_sdr.data.image_data import load_image

    crops = {}
    for name in names:
        image = load_image(name)
        if side:
            top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
            image = image[top:top + side, left:left + side]
        crops[name] = image
    return crops


def _controller(args, table, name):
    pers = PerCurves.from_file(args.per_sweep)
    table = QualityTable.from_dict(table)
    mcs_names = args.mcs.split(",")
    # The arrival period is the air time of every token at the middle MCS;
    # the deadline gives some slack over it.
    period = args.period_factor * table.channel_uses[args.period_mcs][-1]
    deadline = args.deadline_factor * period
    snr = snr_trace(args.trace_messages, args.centre, args.swing, args.trace_period, seed=args.seed)
    result = compare_with_fixed(snr, table, pers, period, deadline, mcs_names,
                                DriftPlusPenalty(mcs_names, v=args.v, margin_db=args.margin),
                                seed=args.seed)
    result.update(period_channel_uses=period, deadline_channel_uses=deadline,
                  snr_centre_db=args.centre, snr_swing_db=args.swing,
                  snr_min_db=float(snr.min()), snr_max_db=float(snr.max()),
                  per_source=str(args.per_sweep), v=args.v, margin_db=args.margin,
                  table=dict(table.__dict__, quality=table.quality.tolist()))
    controller = result["controller"]
    summary = {
        "deadline_rate": controller["deadline_rate"], "mean_quality": controller["mean_quality"],
        "metric": table.metric, "best_fixed": result["best_fixed"],
        "best_fixed_meeting_deadline": result["best_fixed_meeting_deadline"],
        "gain_over_best_fixed": controller["mean_quality"] - result["best_fixed"]["mean_quality"],
        "alpha_share": {str(a): float(np.mean([r["alpha"] == a for r in controller["rows"]]))
                        for a in table.alphas},
        "mcs_share": {m: float(np.mean([r["mcs"] == m for r in controller["rows"]]))
                      for m in mcs_names},
    }
    _plot_controller(args.out / f"{name}.png", result,
                     "PSNR dB" if table.metric == "psnr_db" else "similarity x100",
                     f"{name}: deadline {controller['deadline_rate']:.1%}, mean "
                     f"{controller['mean_quality']:.2f} vs best fixed "
                     f"{result['best_fixed']['mean_quality']:.2f}")
    return result, summary


def _validate(args, crops, tokenizer, recovery):
    """Some of the image controller's messages through the real OFDM loopback."""
    from tokencom_sdr.app.loopback import LinkConfig, run_image_loopback
    from tokencom_sdr.app.token_budget import TokenBudget

    stored = json.loads((args.out / "image_controller.json").read_text())
    table = QualityTable.from_dict(stored["table"])
    pers = PerCurves.from_file(args.per_sweep)
    rows = stored["controller"]["rows"]
    picks = np.linspace(0, len(rows) - 1, args.validate).round().astype(int)
    names = sorted(crops)
    out = []
    for i, index in enumerate(picks):
        row = rows[index]
        name = names[i % len(names)]
        config = LinkConfig(snr_db=row["snr_db"], mcs=row["mcs"],
                            tokens_per_packet=args.image_packet_tokens, seed=args.seed + i,
                            budget=TokenBudget(row["alpha"], "importance", args.seed,
                                               args.image_ranking))
        report = run_image_loopback(crops[name], config, tokenizer, "context",
                                    context_model=recovery.model)
        a = table.alphas.index(row["alpha"])
        out.append({"t": row["t"], "image": name, "snr_db": row["snr_db"], "alpha": row["alpha"],
                    "mcs": row["mcs"], "psnr_db": report["psnr_db"],
                    "packet_error_rate": report["packet_error_rate"],
                    "per_curve": pers.per(row["mcs"], row["snr_db"]),
                    "table_expected_psnr_db": table.expected(a, pers.per(row["mcs"], row["snr_db"])),
                    "channel_uses": report["channel_uses"],
                    "table_channel_uses": table.channel_uses[row["mcs"]][a]})
        print(f"validate {i + 1}/{len(picks)}: {out[-1]}", file=sys.stderr, flush=True)
    result = {"rows": out,
              "mean_psnr_db": float(np.mean([r["psnr_db"] for r in out])),
              "mean_table_expected_psnr_db": float(np.mean([r["table_expected_psnr_db"]
                                                            for r in out]))}
    (args.out / "image_validate.json").write_text(json.dumps(result, indent=2) + "\n")
    return {k: v for k, v in result.items() if k != "rows"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"some of {', '.join(PARTS)}")
    parser.add_argument("--alphas", type=_floats, default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--images", default="astronaut,flower,peppers")
    parser.add_argument("--messages", type=int, default=40, help="held-out messages (text curve)")
    parser.add_argument("--image-packet-tokens", type=int, default=32)
    parser.add_argument("--text-packet-tokens", type=int, default=8)
    parser.add_argument("--table-alphas", type=_floats,
                        default=[0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0])
    parser.add_argument("--lost-shares", type=_floats, default=[0.0, 0.125, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--crop", type=int, default=256,
                        help="images: centre crop side (0: whole images, about 4x slower)")
    parser.add_argument("--table-messages", type=int, default=24)
    parser.add_argument("--mcs", default="qpsk-1/2,16qam-1/2,64qam-2/3")
    parser.add_argument("--per-sweep", type=Path, default=ROOT / "docs/results/per_sweep.json")
    parser.add_argument("--period-mcs", default="16qam-1/2")
    parser.add_argument("--period-factor", type=float, default=1.0)
    parser.add_argument("--deadline-factor", type=float, default=1.5)
    parser.add_argument("--centre", type=float, default=10.0, help="SNR centre, dB")
    parser.add_argument("--swing", type=float, default=6.0, help="SNR drift, +- dB")
    parser.add_argument("--trace-messages", type=int, default=600)
    parser.add_argument("--trace-period", type=float, default=150.0, help="messages per SNR cycle")
    parser.add_argument("--v", type=float, default=1.0, help="drift-plus-penalty weight")
    parser.add_argument("--margin", type=float, default=1.0, help="SNR margin, dB")
    parser.add_argument("--validate", type=int, default=12,
                        help="image-validate: messages of the trace sent through the real chain")
    parser.add_argument("--reuse-tables", action="store_true",
                        help="take the quality tables from an earlier run's JSON in --out")
    parser.add_argument("--image-ranking", choices=IMAGE_RANKINGS, default=IMAGE_RANKINGS[0],
                        help="how an importance budget ranks image tokens")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/results/budget")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS + EXTRA_PARTS]
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS + EXTRA_PARTS)}")
    args.out.mkdir(parents=True, exist_ok=True)

    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)
    summary = {"command": " ".join(["bench/budget.py"] + (argv or sys.argv[1:]))}
    image_names = [n for n in args.images.split(",") if n]

    if any(p.startswith("image") for p in parts):
        from tokencom_sdr.context.image_recovery import ImageRecovery
        from tokencom_sdr.tokens.image_vq import ImageTokenizer

        tokenizer = ImageTokenizer.default("standard")
        recovery = ImageRecovery("context", tokenizer)
    if any(p.startswith("text") for p in parts):
        from tokencom_sdr.context.text_recovery import TextRecovery
        from tokencom_sdr.data.heldout_messages import heldout_messages
        from tokencom_sdr.metrics.semantic import default_encoder
        from tokencom_sdr.tokens.text_bpe import TextTokenizer

        text_tokenizer = TextTokenizer.default()
        text_recovery = TextRecovery()
        encoder = default_encoder()

    if "image-curve" in parts:
        start = time.perf_counter()
        images = _centre_crops(image_names, args.crop)
        with tqdm(total=len(images) * len(args.alphas) * 2, desc="image curve") as bar:
            rows = image_budget_curve(images, tokenizer, recovery, args.alphas,
                                      tokens_per_packet=args.image_packet_tokens, seed=args.seed,
                                      progress=bar, image_ranking=args.image_ranking)
        means = {}
        for alpha in args.alphas:
            for order in ("importance", "random"):
                these = [r["psnr_db"] for r in rows if r["alpha"] == alpha and r["order"] == order]
                means[f"{alpha:g}/{order}"] = float(np.mean(these))
        gains = {f"{a:g}": means[f"{a:g}/importance"] - means[f"{a:g}/random"] for a in args.alphas}
        result = {"rows": rows, "mean_psnr_db": means, "importance_gain_db": gains,
                  "images": image_names, "crop": args.crop, "image_ranking": args.image_ranking,
                  "seconds": time.perf_counter() - start}
        (args.out / "image_curve.json").write_text(json.dumps(result, indent=2) + "\n")
        _plot_curve(args.out / "image_curve.png", rows, "alpha", "psnr_db", "PSNR dB",
                    f"held-out images ({args.crop or 'whole'} px crops): PSNR after context "
                    f"recovery vs token budget",
                    group_key="image")
        summary["image_curve"] = {"mean_psnr_db": means, "importance_gain_db": gains}

    if "text-curve" in parts:
        start = time.perf_counter()
        messages = heldout_messages(args.messages, text_tokenizer)
        with tqdm(total=len(messages) * len(args.alphas) * 2, desc="text curve") as bar:
            rows = text_budget_curve(messages, text_tokenizer, text_recovery, encoder, args.alphas,
                                     tokens_per_packet=args.text_packet_tokens, seed=args.seed,
                                     progress=bar)
        similarity = {f"{r['alpha']:g}/{r['order']}": r["semantic_similarity_x100"] for r in rows}
        gains = {f"{a:g}": similarity[f"{a:g}/importance"]["mean"]
                 - similarity[f"{a:g}/random"]["mean"] for a in args.alphas}
        result = {"rows": rows, "importance_gain_x100": gains, "messages": len(messages),
                  "seconds": time.perf_counter() - start}
        (args.out / "text_curve.json").write_text(json.dumps(result, indent=2) + "\n")
        _plot_curve(args.out / "text_curve.png", rows, "alpha", "semantic_similarity_x100",
                    "MiniLM similarity x 100",
                    f"{len(messages)} held-out messages: similarity after fill vs token budget")
        summary["text_curve"] = {"semantic_similarity_x100": similarity,
                                 "importance_gain_x100": gains}

    for modality in ("image", "text"):
        name = f"{modality}-controller"
        if name not in parts:
            continue
        start = time.perf_counter()
        path = args.out / f"{name.replace('-', '_')}.json"
        if args.reuse_tables and path.exists():
            table = json.loads(path.read_text())["table"]
        elif modality == "image":
            crops = _centre_crops(image_names, args.crop)
            with tqdm(total=len(crops) * len(args.table_alphas) * len(args.lost_shares),
                      desc="image table") as bar:
                table = image_quality_table(crops, tokenizer, recovery, args.table_alphas,
                                            args.lost_shares, args.mcs.split(","),
                                            args.image_packet_tokens, seed=args.seed,
                                            progress=bar, image_ranking=args.image_ranking)
        else:
            messages = heldout_messages(args.table_messages, text_tokenizer, seed=args.seed + 1)
            with tqdm(total=len(args.table_alphas) * len(args.lost_shares),
                      desc="text table") as bar:
                table = text_quality_table(messages, text_tokenizer, text_recovery, encoder,
                                           args.table_alphas, args.lost_shares,
                                           args.mcs.split(","), args.text_packet_tokens,
                                           seed=args.seed, progress=bar)
        result, part_summary = _controller(args, table, name.replace("-", "_"))
        result["seconds"] = time.perf_counter() - start
        if modality == "image":
            result["image_ranking"] = args.image_ranking
        path.write_text(json.dumps(result, indent=1) + "\n")
        summary[name.replace("-", "_")] = part_summary

    if "image-validate" in parts:
        summary["image_validate"] = _validate(args, _centre_crops(image_names, args.crop),
                                              tokenizer, recovery)

    emit_json(summary, args.out / "summary.json" if set(parts) == set(PARTS) else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
