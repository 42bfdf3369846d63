"""``tokencom report``: a sweep's rows as figures and one self-contained HTML page.

Statistics
----------
* Packet error rate: lost packets over sent packets at each SNR, pooled over
  sources and seeds, with a Wilson 95 % score interval
  (:func:`wilson_interval`). The packets of one message share a burst
  train, so they are not quite independent: read the interval as a guide.
  The recovery modes of one point see the same noise (their PHY results are
  the same), so PER counts the rows of one mode only.
* Exact-message rate: a proportion over messages, Wilson interval too.
* Means (goodput, token error rate, PSNR, MS-SSIM, semantic similarity):
  the mean over sources and seeds with a normal 95 % interval,
  1.96 standard errors.
* Bandwidth efficiency at equal quality (:func:`efficiency_at_target`):
  for each channel, loss model and SNR, among the link settings the sweep tried (MCS,
  tokens per packet, aggregation, image tokenizer), the most source units
  (UTF-8 bytes, pixels) per channel use whose mean quality reaches the
  target, per recovery mode; and the gain of each mode over ``none``.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .sweep_config import IMAGE_BASELINES, TEXT_BASELINES
from .sweep_results import read_results

__all__ = ["wilson_interval", "mean_interval", "curves", "efficiency_at_target", "tokcom_comparison",
           "write_report",
           "QualityTarget", "DEFAULT_TARGETS", "TOKCOM_REFERENCE_GAIN"]

#: TokCom's headline (Qiao et al., IEEE Wireless Communications 2025): +70.8 %
#: bandwidth efficiency from cross-modal context at negligible quality loss.
TOKCOM_REFERENCE_GAIN = 0.708
_Z95 = 1.959963984540054

#: What makes a curve: every axis but SNR, source and seed.
CURVE_FIELDS = ("modality", "tokenizer", "mcs", "channel", "loss_model", "aggregation", "tokens_per_packet",
                "recovery")
#: ``recovery`` values of the conventional senders' rows.
CONVENTIONAL = TEXT_BASELINES + IMAGE_BASELINES
#: Link settings a sender may choose to save channel uses (efficiency search).
DESIGN_FIELDS = ("mcs", "tokens_per_packet", "aggregation", "tokenizer")


def wilson_interval(successes: int, trials: int, z: float = _Z95) -> Tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % by default).

    Returns ``(low, high)``; ``(0, 1)`` for no trials.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # The interval holds p; rounding must not put p outside it at 0 or 1.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def mean_interval(values: Sequence[float]) -> Tuple[float, float, float]:
    """Mean and its normal 95 % interval ``(mean, low, high)``; NaN when empty."""
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size == 1:
        return mean, mean, mean
    half = _Z95 * float(values.std(ddof=1)) / math.sqrt(values.size)
    return mean, mean - half, mean + half


def _label(key: Tuple) -> str:
    fields = dict(zip(CURVE_FIELDS, key))
    loss = "" if fields["loss_model"] == "none" else f"loss:{fields['loss_model']}"
    parts = [fields["modality"], fields["tokenizer"], fields["mcs"], fields["channel"], loss,
             f"{fields['aggregation']}/{fields['tokens_per_packet']}tpp", fields["recovery"]]
    return " ".join(str(p) for p in parts if p not in ("", None))


def curves(rows: Iterable[Dict]) -> Dict[Tuple, Dict[float, List[Dict]]]:
    """Rows grouped by curve (:data:`CURVE_FIELDS`) and then by SNR."""
    out: Dict[Tuple, Dict[float, List[Dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        out[tuple(row[k] for k in CURVE_FIELDS)][row["snr_db"]].append(row)
    return {k: dict(sorted(v.items())) for k, v in out.items()}


class QualityTarget:
    """A quality a mode must reach on average at one SNR to count.

    Parameters
    ----------
    modality : str
    description : str
        How the report names it.
    """

    def __init__(self, modality: str, description: str, check):
        self.modality = modality
        self.description = description
        self._check = check

    def met(self, rows: Sequence[Dict]) -> bool:
        return bool(self._check(rows))


def _image_within_1db(rows: Sequence[Dict]) -> bool:
    # Per image: within 1 dB of what its error-free tokens give.
    gaps = [r["psnr_tokens_only_db"] - r["psnr_db"] for r in rows if r["psnr_db"] is not None]
    return len(gaps) == len(rows) and float(np.mean(gaps)) <= 1.0


DEFAULT_TARGETS = {
    "text": QualityTarget("text", "exact-message rate >= 90 %",
                          lambda rows: np.mean([bool(r["exact"]) for r in rows]) >= 0.9),
    "image": QualityTarget("image", "mean PSNR within 1 dB of the error-free tokens' PSNR",
                           _image_within_1db),
}


def efficiency_at_target(rows: Sequence[Dict], targets: Dict[str, QualityTarget] = None) -> List[Dict]:
    """The best bandwidth efficiency that reaches the quality target, per
    (modality, channel, loss model, SNR, recovery), and the gain over no recovery.

    Returns
    -------
    list of dict
        ``modality``, ``channel``, ``loss_model``, ``snr_db``, ``recovery``, ``target``,
        ``efficiency`` (source units per channel use, None when no setting
        reaches the target), ``channel_uses`` (mean per message or image of
        the best setting), ``setting`` (its MCS, tokens per packet,
        aggregation and tokenizer), ``gain_over_none`` (efficiency ratio - 1;
        None when either side misses the target) and
        ``gain_over_conventional`` (over the best conventional sender, JPEG
        or UTF-8/zlib, that reaches the target; None for those senders).
    """
    targets = targets or DEFAULT_TARGETS
    cells: Dict[Tuple, Dict[Tuple, List[Dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        cell = (row["modality"], row["channel"], row["loss_model"], row["snr_db"], row["recovery"])
        cells[cell][tuple(row[k] for k in DESIGN_FIELDS)].append(row)
    out = []
    for (modality, channel, loss, snr, recovery), settings in sorted(cells.items()):
        target = targets[modality]
        best = None
        for setting, group in settings.items():
            if not target.met(group):
                continue
            efficiency = float(np.mean([r["source_units"] / r["channel_uses"] for r in group]))
            if best is None or efficiency > best[0]:
                best = (efficiency, float(np.mean([r["channel_uses"] for r in group])), setting)
        out.append({"modality": modality, "channel": channel, "loss_model": loss, "snr_db": snr,
                    "recovery": recovery,
                    "target": target.description,
                    "efficiency": None if best is None else best[0],
                    "channel_uses": None if best is None else best[1],
                    "setting": None if best is None else dict(zip(DESIGN_FIELDS, best[2]))})
    no_recovery = {(e["modality"], e["channel"], e["loss_model"], e["snr_db"]): e["efficiency"]
                   for e in out if e["recovery"] == "none"}
    conventional: Dict[Tuple, float] = {}
    for e in out:
        if e["recovery"] in CONVENTIONAL and e["efficiency"] is not None:
            cell = (e["modality"], e["channel"], e["loss_model"], e["snr_db"])
            conventional[cell] = max(conventional.get(cell, 0.0), e["efficiency"])
    for entry in out:
        cell = (entry["modality"], entry["channel"], entry["loss_model"], entry["snr_db"])
        entry["gain_over_none"] = _gain(entry["efficiency"], no_recovery.get(cell))
        entry["gain_over_conventional"] = (None if entry["recovery"] in CONVENTIONAL
                                           else _gain(entry["efficiency"], conventional.get(cell)))
    return out


def tokcom_comparison(entries: Sequence[Dict], rows: Sequence[Dict]) -> List[Dict]:
    """Per modality, the largest gain of a recovery mode over ``none`` against
    TokCom's +70.8 %, with what explains it.

    Parameters
    ----------
    entries : list of dict
        :func:`efficiency_at_target`'s output.
    rows : list of dict
        The sweep's rows (for the PER of the settings involved).

    Returns
    -------
    list of dict
        ``modality``, ``gain`` (None when no mode ever beat ``none``),
        ``snr_db``, ``channel``, ``loss_model``, ``recovery``, ``shortfall_points``
        (TokCom's gain minus ours, in percentage points; 0 when met),
        ``setting`` and ``setting_none`` (the link settings chosen with and
        without recovery there), ``channel_uses`` and ``channel_uses_none``,
        and ``cliff_db``: the SNR span over which the PER of the setting
        chosen with recovery falls from >= 90 % to <= 10 % (None when the
        sweep does not span it). The gain is a cheaper setting reaching the
        target, so it exists only where that setting loses packets, which is
        a span of about ``cliff_db``.
    """
    by_cell = {(e["modality"], e["channel"], e["loss_model"], e["snr_db"], e["recovery"]): e for e in entries}
    out = []
    for modality in dict.fromkeys(e["modality"] for e in entries):
        gains = [e for e in entries if e["modality"] == modality and e["gain_over_none"] is not None
                 and e["recovery"] not in CONVENTIONAL and e["recovery"] != "none"]
        best = max(gains, key=lambda e: e["gain_over_none"], default=None)
        if best is None or best["gain_over_none"] <= 0.0:
            out.append({"modality": modality, "gain": None if best is None else best["gain_over_none"],
                        "shortfall_points": 100 * TOKCOM_REFERENCE_GAIN
                        - (0.0 if best is None else 100 * best["gain_over_none"])})
            continue
        none = by_cell[(modality, best["channel"], best["loss_model"], best["snr_db"], "none")]
        out.append({"modality": modality, "gain": best["gain_over_none"], "snr_db": best["snr_db"],
                    "channel": best["channel"], "loss_model": best["loss_model"],
                    "recovery": best["recovery"],
                    "shortfall_points": max(0.0, 100 * (TOKCOM_REFERENCE_GAIN - best["gain_over_none"])),
                    "setting": best["setting"], "setting_none": none["setting"],
                    "channel_uses": best["channel_uses"], "channel_uses_none": none["channel_uses"],
                    "cliff_db": _per_cliff_db(rows, modality, best["channel"], best["loss_model"],
                                              best["setting"])})
    return out


def _per_cliff_db(rows: Sequence[Dict], modality: str, channel: str, loss: str,
                  setting: Dict) -> Optional[float]:
    """SNR span from the last PER >= 0.9 to the first PER <= 0.1 of one link setting."""
    sent: Dict[float, int] = defaultdict(int)
    lost: Dict[float, int] = defaultdict(int)
    for r in rows:
        if (r["modality"], r["channel"], r["loss_model"]) == (modality, channel, loss) \
                and r["recovery"] == "none" and all(r[k] == v for k, v in setting.items()):
            sent[r["snr_db"]] += r["packets_sent"]
            lost[r["snr_db"]] += r["packets_sent"] - r["packets_received"]
    per = {snr: lost[snr] / sent[snr] for snr in sorted(sent) if sent[snr]}
    high = [snr for snr, p in per.items() if p >= 0.9]
    if not high:
        return None
    low = [snr for snr, p in per.items() if p <= 0.1 and snr > max(high)]
    return min(low) - max(high) if low else None


def _tokcom_paragraph(comparisons: List[Dict]) -> str:
    """The report's answer to "how far from TokCom's +70.8 %, and why"."""
    reference = 100 * TOKCOM_REFERENCE_GAIN
    items = []
    for c in comparisons:
        if c["gain"] is None or c["gain"] <= 0.0:
            items.append(f"<li>{c['modality']}: no recovery mode let a cheaper link setting reach the "
                         f"target at any swept SNR: short of +{reference:.1f} % by "
                         f"{c['shortfall_points']:.1f} points.</li>")
            continue
        met = c["shortfall_points"] == 0.0
        verdict = "meets TokCom's figure" if met else \
            f"short of +{reference:.1f} % by {c['shortfall_points']:.1f} points"
        setting, none = c["setting"], c["setting_none"]
        changed = ", ".join(f"{html.escape(str(k))} {html.escape(str(none[k]))} &rarr; "
                            f"{html.escape(str(setting[k]))}" for k in setting if setting[k] != none[k])
        cliff = "" if c["cliff_db"] is None else \
            f" That setting's PER falls from 90 % to 10 % within {c['cliff_db']:g} dB, and only there do lost " \
            f"packets leave recovery something to do that the next-cheaper setting could not."
        items.append(f"<li>{c['modality']}: best gain {100 * c['gain']:+.1f} % ({html.escape(c['recovery'])} "
                     f"over none, {html.escape(str(c['channel']))}, {c['snr_db']:g} dB): {verdict}. "
                     f"Why: the gain is one step of the link settings ({changed or 'same setting'}; "
                     f"{c['channel_uses_none']:.0f} &rarr; {c['channel_uses']:.0f} channel uses), reached at SNRs "
                     f"where the cheaper setting loses packets that recovery restores.{cliff}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _gain(efficiency: Optional[float], reference: Optional[float]) -> Optional[float]:
    """Relative gain; None when either side misses the target."""
    return efficiency / reference - 1.0 if efficiency is not None and reference else None


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(count: int):
    """A figure of ``count`` panels stacked in one column, and the panels.

    One column, so that each panel's legend can sit at its right: a sweep
    has more curves than fit inside a panel, and a legend below a panel of a
    side-by-side pair squeezed the panel itself to a sliver.
    """
    plt = _plt()
    fig, axes = plt.subplots(count, 1, figsize=(9, 3.6 * count), squeeze=False)
    for ax in axes[:, 0]:
        # 20 colours: a sweep's panel easily has more than tab10's 10 curves.
        ax.set_prop_cycle(color=plt.cm.tab20.colors)
    return fig, list(axes[:, 0])


def _finish(fig, axes, path: Path) -> None:
    """Grid and legend on every panel, then the PNG."""
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)


def _errorbar(ax, xs, stats, key: Tuple):
    """Plot (mean, low, high) triples with asymmetric error bars, for the
    curve ``key`` (:data:`CURVE_FIELDS`); no recovery is dashed, so that a
    mode and its ``none`` pair read apart whatever their colours."""
    style = {"linestyle": "--"} if key[-1] == "none" else {}
    label = _label(key)
    means = np.array([s[0] for s in stats], dtype=float)
    low = means - np.array([s[1] for s in stats], dtype=float)
    high = np.array([s[2] for s in stats], dtype=float) - means
    ax.errorbar(xs, means, yerr=[low, high], marker="o", capsize=3, label=label, **style)


def _per_stats(points: List[Dict]) -> Tuple[float, float, float]:
    sent = sum(r["packets_sent"] for r in points)
    lost = sum(r["packets_sent"] - r["packets_received"] for r in points)
    low, high = wilson_interval(lost, sent)
    return lost / sent if sent else math.nan, low, high


def _figure_link(grouped, path: Path) -> None:
    fig, (ax_per, ax_goodput) = _panels(2)
    link_curves = {}
    for key, by_snr in grouped.items():
        # One recovery mode per link setting: the PHY result is the same for
        # all of them. A conventional sender's packets are its own.
        recovery = key[-1] if key[-1] in CONVENTIONAL else ""
        link_curves.setdefault(key[:-1] + (recovery,), by_snr)
    for key, by_snr in link_curves.items():
        xs = list(by_snr)
        _errorbar(ax_per, xs, [_per_stats(by_snr[x]) for x in xs], key)
    for key, by_snr in grouped.items():
        xs = list(by_snr)
        _errorbar(ax_goodput, xs, [mean_interval([r["goodput_bits_per_channel_use"] for r in by_snr[x]])
                                   for x in xs], key)
    ax_per.set(xlabel="SNR (dB)", ylabel="packet error rate", ylim=(-0.02, 1.02),
               title="PER (Wilson 95 % intervals)")
    ax_goodput.set(xlabel="SNR (dB)", ylabel="payload bits delivered per channel use",
                   title="goodput (CRC-good packets, re-decoded ones included; 95 % CI)")
    _finish(fig, (ax_per, ax_goodput), path)


def _figure_text(grouped, path: Path) -> bool:
    text = {k: v for k, v in grouped.items() if k[0] == "text"}
    if not text:
        return False
    semantic = any(r.get("semantic_similarity") is not None for v in text.values() for rs in v.values()
                   for r in rs)
    fig, axes = _panels(3 if semantic else 2)
    for key, by_snr in text.items():
        xs = list(by_snr)
        exact = []
        for x in xs:
            hits = sum(bool(r["exact"]) for r in by_snr[x])
            low, high = wilson_interval(hits, len(by_snr[x]))
            exact.append((hits / len(by_snr[x]), low, high))
        _errorbar(axes[0], xs, exact, key)
        _errorbar(axes[1], xs, [mean_interval([r["token_error_rate"] for r in by_snr[x]]) for x in xs],
                  key)
        if semantic:
            _errorbar(axes[2], xs, [mean_interval([r["semantic_similarity"] for r in by_snr[x]])
                                    for x in xs], key)
    axes[0].set(xlabel="SNR (dB)", ylabel="exact-message rate", ylim=(-0.02, 1.02),
                title="exact messages (Wilson 95 %)")
    axes[1].set(xlabel="SNR (dB)", ylabel="token error rate after recovery", title="TER (95 % CI)")
    if semantic:
        axes[2].set(xlabel="SNR (dB)", ylabel="MiniLM cosine", title="semantic similarity (95 % CI)")
    _finish(fig, axes, path)
    return True


def _figure_image(grouped, path: Path) -> bool:
    images = {k: v for k, v in grouped.items() if k[0] == "image"}
    if not images:
        return False
    fig, axes = _panels(2)
    references = {}
    for key, by_snr in images.items():
        xs = list(by_snr)
        _errorbar(axes[0], xs, [mean_interval([r["psnr_db"] for r in by_snr[x]]) for x in xs], key)
        _errorbar(axes[1], xs, [mean_interval([r["ms_ssim"] for r in by_snr[x]]) for x in xs], key)
        if key[-1] not in CONVENTIONAL:
            # Error-free references from the token rows of each tokenizer.
            references.setdefault(key[1], []).extend(r for rows in by_snr.values() for r in rows)
    for tokenizer, every in references.items():
        for ax, field, jpeg in ((axes[0], "psnr_tokens_only_db", "psnr_jpeg_same_bpp_db"),
                                (axes[1], "ms_ssim_tokens_only", "ms_ssim_jpeg_same_bpp")):
            ax.axhline(mean_interval([r[field] for r in every])[0], color="black", linestyle="--",
                       linewidth=0.9, label=f"{tokenizer} error-free tokens")
            jpeg_mean = mean_interval([r[jpeg] for r in every])[0]
            if np.isfinite(jpeg_mean):
                ax.axhline(jpeg_mean, color="grey", linestyle=":", linewidth=0.9,
                           label=f"error-free JPEG at the {tokenizer} tokens' bits")
    axes[0].set(xlabel="SNR (dB)", ylabel="PSNR (dB)", title="image PSNR (95 % CI)")
    axes[1].set(xlabel="SNR (dB)", ylabel="MS-SSIM", title="image MS-SSIM (95 % CI)")
    _finish(fig, axes, path)
    return True


def _figure_efficiency(entries: List[Dict], path: Path) -> None:
    modalities = list(dict.fromkeys(e["modality"] for e in entries))
    fig, axes = _panels(len(modalities))
    for ax, modality in zip(axes, modalities):
        lines = defaultdict(list)
        for e in entries:
            if e["modality"] == modality:
                lines[(e["channel"], e["loss_model"], e["recovery"])].append(e)
        for (channel, loss, recovery), points in lines.items():
            ax.plot([p["snr_db"] for p in points],
                    [np.nan if p["efficiency"] is None else p["efficiency"] for p in points],
                    marker="o", label=f"{channel} {'' if loss == 'none' else loss + ' '}{recovery}")
        unit = "UTF-8 bytes" if modality == "text" else "pixels"
        ax.set(xlabel="SNR (dB)", ylabel=f"{unit} per channel use",
               title=f"{modality}: efficiency at {DEFAULT_TARGETS[modality].description}")
        ax.title.set_fontsize(9)
    _finish(fig, axes, path)


def _gain_text(entry: Dict, key: str, reference_missed: str) -> str:
    if entry[key] is not None:
        return f"{100 * entry[key]:+.1f} %"
    # The mode reached the target and the reference did not: no finite ratio.
    return reference_missed if entry["efficiency"] is not None else ""


def _efficiency_table(entries: List[Dict]) -> str:
    head = ("<tr><th>modality</th><th>channel</th><th>loss</th><th>SNR dB</th><th>recovery</th>"
            "<th>channel uses</th>"
            "<th>units / channel use</th><th>best setting</th><th>gain over none</th>"
            "<th>gain over JPEG / UTF-8 / zlib</th></tr>")
    body = []
    for e in entries:
        gains = [_gain_text(e, "gain_over_none", "none misses the target"),
                 "" if e["recovery"] in CONVENTIONAL else
                 _gain_text(e, "gain_over_conventional", "conventional misses the target")]
        setting = "target not reached" if e["setting"] is None else \
            ", ".join(f"{k}={v}" for k, v in e["setting"].items() if v != "")
        body.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            e["modality"], e["channel"], e["loss_model"], f"{e['snr_db']:g}", e["recovery"],
            "" if e["channel_uses"] is None else f"{e['channel_uses']:.0f}",
            "" if e["efficiency"] is None else f"{e['efficiency']:.4f}", setting, *gains)) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _embed(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)} ({html.escape(path.name)})</figcaption></figure>")


def write_report(results, out, targets: Optional[Dict[str, QualityTarget]] = None) -> Dict[str, Path]:
    """Figures (PNG) and ``report.html`` (the figures embedded) from a sweep.

    Parameters
    ----------
    results : path
        A sweep's ``results.parquet`` or its folder.
    out : path
        Folder for ``report.html``, the PNG figures and ``efficiency.json``.

    Returns
    -------
    dict
        Name -> path of every file written.
    """
    rows, metadata = read_results(results)
    if not rows:
        raise ValueError(f"{results}: the results hold no rows")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grouped = curves(rows)
    files: Dict[str, Path] = {"link": out / "per_goodput.png"}
    _figure_link(grouped, files["link"])
    if _figure_text(grouped, out / "text_quality.png"):
        files["text"] = out / "text_quality.png"
    if _figure_image(grouped, out / "image_quality.png"):
        files["image"] = out / "image_quality.png"
    entries = efficiency_at_target(rows, targets)
    comparisons = tokcom_comparison(entries, rows)
    files["efficiency"] = out / "channel_uses.png"
    _figure_efficiency(entries, files["efficiency"])
    files["efficiency_json"] = out / "efficiency.json"
    files["efficiency_json"].write_text(json.dumps({"entries": entries, "tokcom_comparison": comparisons},
                                                   indent=1) + "\n")
    captions = {"link": "Packet error rate and goodput vs SNR",
                "text": "Text quality vs SNR: exact-message rate, token error rate, semantic similarity",
                "image": "Image quality vs SNR: PSNR and MS-SSIM, with error-free tokens and same-size JPEG",
                "efficiency": "Bandwidth efficiency at equal quality: source units per channel use of the "
                              "best link setting that reaches the target"}
    figures = "".join(_embed(files[k], captions[k]) for k in ("link", "text", "image", "efficiency")
                      if k in files)
    config = json.dumps(metadata["config"], indent=1, sort_keys=True)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>TokenCom-SDR sweep report</title>
<style>body{{font-family:sans-serif;max-width:1250px;margin:2em auto}} img{{max-width:100%}}
table{{border-collapse:collapse;font-size:0.85em}} td,th{{border:1px solid #bbb;padding:2px 6px}}
figure{{margin:1.5em 0}} pre{{background:#f4f4f4;padding:0.5em;font-size:0.8em}}</style></head>
<body><h1>TokenCom-SDR sweep report</h1>
<p>{len(rows)} points from <code>{html.escape(str(results))}</code>, tokencom-sdr
{html.escape(metadata['version'])}. Every point is one message or image sent once through the GNU Radio
chain (OFDM TX, gr-channels, OFDM RX, the receiver library). PER and exact-message rates carry Wilson
95 % intervals; means carry normal 95 % intervals over sources and seeds.</p>
{figures}
<h2>Bandwidth efficiency at equal quality</h2>
<p>Targets: text, {html.escape(DEFAULT_TARGETS['text'].description)}; images,
{html.escape(DEFAULT_TARGETS['image'].description)}. Gains are of each recovery mode over
<code>none</code> at the same channel, loss model and SNR; TokCom reports +{100 * TOKCOM_REFERENCE_GAIN:.1f} %
(Qiao et al., IEEE Wireless Communications 2025).</p>
<h3>Against TokCom's +{100 * TOKCOM_REFERENCE_GAIN:.1f} %</h3>
{_tokcom_paragraph(comparisons)}
{_efficiency_table(entries)}
<h2>Config</h2><pre>{html.escape(config)}</pre>
</body></html>
"""
    files["html"] = out / "report.html"
    files["html"].write_text(page, encoding="utf-8")
    return files
