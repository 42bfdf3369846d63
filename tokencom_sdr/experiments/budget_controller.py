"""A budget controller: pick the token budget and the MCS of each message as the channel drifts.

The setting (Devoto et al.'s adaptive token selection, with a deadline):

* Messages arrive one every ``period`` channel uses, into a FIFO queue; each
  must be delivered within ``deadline`` channel uses of its arrival. A message
  that finishes later is useless: it scores what the receiver shows with
  nothing (the table's quality with every packet lost).
* The channel's SNR drifts (:func:`snr_trace`: a slow sinusoid plus a
  random walk, clipped to ``centre +- swing`` dB). The receiver reports the
  SNR it measured on the previous message, with some estimation noise; the
  sender knows nothing else.
* Sending message ``t`` with budget ``alpha`` at MCS ``m`` costs the air time
  of its packets (``channel_uses[m][alpha]``, measured by packetizing the
  held-out sources and counting every burst's preamble, header, padding and
  gap). Its packets are each lost with the packet error rate that the
  **PER sweep measured through the real GNU Radio chain**
  (``docs/results/per_sweep.json``, interpolated in SNR on a log scale), and
  its quality is looked up in a table of quality against budget and share of
  packets lost, **measured with real context recovery**
  (:mod:`.budget_eval`).

:class:`DriftPlusPenalty` is a Lyapunov drift-plus-penalty controller. The
backlog ``Q`` (channel uses still queued ahead of the new message) is the
queue whose drift it bounds; for each message it picks, among the choices
whose predicted finish meets the deadline, the one that maximises
``V * E[quality] - (Q / period) * (cost / period)``, with ``E[quality]`` the expectation over the
number of lost packets at the reported SNR less a safety margin. When no
choice meets the deadline it sends the cheapest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.stats import binom

__all__ = ["PerCurves", "QualityTable", "snr_trace", "DriftPlusPenalty", "FixedChoice",
           "simulate", "compare_with_fixed"]


class PerCurves:
    """Packet error rate against SNR for each MCS, from a PER sweep's rows.

    Parameters
    ----------
    rows : sequence of dict
        ``{mcs, snr_db, per}`` rows (``tokencom per-sweep --json``).
    """

    def __init__(self, rows: Sequence[dict]):
        self.curves: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
        for mcs in sorted({r["mcs"] for r in rows}):
            points = sorted((float(r["snr_db"]), float(r["per"])) for r in rows if r["mcs"] == mcs)
            snr, per = (np.array(v) for v in zip(*points))
            self.curves[mcs] = (snr, per)

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> "PerCurves":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def per(self, mcs: str, snr_db: float) -> float:
        """PER of ``mcs`` at ``snr_db``: log-linear between measured points,
        the end values beyond them; never below 1e-4 (500 packets a point)."""
        if mcs not in self.curves:
            raise ValueError(f"no PER curve for {mcs!r}; measured: {', '.join(self.curves)}")
        snr, per = self.curves[mcs]
        log_per = np.log10(np.clip(per, 1e-4, 1.0))
        return float(10 ** np.interp(snr_db, snr, log_per))


@dataclass
class QualityTable:
    """Quality against budget and share of packets lost, with each budget's cost.

    Attributes
    ----------
    alphas : list of float
    lost_shares : list of float, ascending from 0 to 1
    quality : np.ndarray, shape ``(len(alphas), len(lost_shares))``
    packets : list of float
        Packets a message takes at each budget.
    channel_uses : dict of str -> list of float
        Air time of a message at each budget, per MCS.
    metric : str
    """

    alphas: List[float]
    lost_shares: List[float]
    quality: np.ndarray
    packets: List[float]
    channel_uses: Dict[str, List[float]]
    metric: str = "psnr_db"

    @classmethod
    def from_dict(cls, d: dict) -> "QualityTable":
        return cls(list(d["alphas"]), list(d["lost_shares"]), np.asarray(d["quality"], float),
                   list(d["packets"]), {k: list(v) for k, v in d["channel_uses"].items()},
                   d.get("metric", "psnr_db"))

    def value(self, a: int, lost_share: float) -> float:
        """Quality of budget index ``a`` with ``lost_share`` of its packets lost."""
        return float(np.interp(lost_share, self.lost_shares, self.quality[a]))

    @property
    def nothing(self) -> float:
        """What the receiver shows with no packet: the worst cell of an all-lost column."""
        return float(self.quality[:, -1].min())

    def expected(self, a: int, per: float) -> float:
        """Mean quality of budget ``a`` when each packet is lost with probability ``per``."""
        n = max(1, int(round(self.packets[a])))
        k = np.arange(n + 1)
        weights = binom.pmf(k, n, per)
        return float(sum(w * self.value(a, i / n) for w, i in zip(weights, k)))


def snr_trace(messages: int, centre_db: float = 10.0, swing_db: float = 6.0,
              period_messages: float = 120.0, walk_db: float = 0.5, seed: int = 0) -> np.ndarray:
    """A slowly drifting SNR, one value per message.

    ``centre + 0.75 * swing * sin(2 pi t / period)`` plus a random walk of
    steps ``N(0, walk^2)`` pulled back to zero, the sum clipped to
    ``centre +- swing``.

    Returns
    -------
    np.ndarray, shape ``(messages,)``, float64, dB
    """
    rng = np.random.default_rng([seed, 6])
    t = np.arange(messages)
    walk = np.zeros(messages)
    for i in range(1, messages):
        walk[i] = 0.95 * walk[i - 1] + rng.normal(0.0, walk_db)
    snr = centre_db + 0.75 * swing_db * np.sin(2 * np.pi * t / period_messages) + walk
    return np.clip(snr, centre_db - swing_db, centre_db + swing_db)


@dataclass
class FixedChoice:
    """Always the same budget index and MCS (the baselines)."""

    alpha_index: int
    mcs: str

    def choose(self, reported_snr_db: float, backlog: float, table: QualityTable,
               pers: PerCurves, deadline: float, period: float) -> Tuple[int, str]:
        return self.alpha_index, self.mcs


@dataclass
class DriftPlusPenalty:
    """Lyapunov drift-plus-penalty choice of budget and MCS.

    Attributes
    ----------
    mcs_names : sequence of str
    v : float
        Weight of quality against the drift term ``(Q / period) * (cost /
        period)`` (backlog and cost in arrival periods); larger favours
        quality over an empty queue.
    margin_db : float
        Subtracted from the reported SNR: the channel may have drifted since.
    """

    mcs_names: Sequence[str]
    v: float = 1.0
    margin_db: float = 1.0

    def choose(self, reported_snr_db: float, backlog: float, table: QualityTable,
               pers: PerCurves, deadline: float, period: float) -> Tuple[int, str]:
        best, best_score, cheapest = None, -np.inf, None
        for mcs in self.mcs_names:
            per = pers.per(mcs, reported_snr_db - self.margin_db)
            for a in range(len(table.alphas)):
                cost = table.channel_uses[mcs][a]
                if cheapest is None or cost < cheapest[0]:
                    cheapest = (cost, a, mcs)
                if backlog + cost > deadline:
                    continue
                score = self.v * table.expected(a, per) - (backlog / period) * (cost / period)
                if score > best_score:
                    best, best_score = (a, mcs), score
        return best if best is not None else cheapest[1:]


def simulate(controller, snr: np.ndarray, table: QualityTable, pers: PerCurves,
             period: float, deadline: float, report_noise_db: float = 0.5,
             seed: int = 0) -> Dict[str, object]:
    """Run a queue of messages through the drifting channel.

    Parameters
    ----------
    controller : DriftPlusPenalty or FixedChoice
    snr : np.ndarray, shape ``(T,)``, dB
        The channel's SNR while each message is sent.
    period : float
        Channel uses between arrivals.
    deadline : float
        Channel uses from arrival to the end of the message's last packet.
    report_noise_db : float
        Standard deviation of the receiver's SNR estimate.
    seed : int
        Seeds the packet losses and the report noise: the same for every
        controller, so their outcomes are paired.

    Returns
    -------
    dict
        ``rows`` (one per message: ``t``, ``snr_db``, ``reported_snr_db``,
        ``alpha``, ``mcs``, ``channel_uses``, ``backlog``, ``latency``,
        ``on_time``, ``packets``, ``lost``, ``quality``), ``deadline_rate``,
        ``mean_quality``.
    """
    rng = np.random.default_rng([seed, 600])
    noise = rng.normal(0.0, report_noise_db, snr.size)
    uniforms = rng.random((snr.size, 4096))  # one per possible packet, shared by controllers
    rows = []
    busy_until = 0.0
    reported = float(snr[0])  # the link starts with one measurement
    for t, channel_snr in enumerate(snr):
        arrival = t * period
        backlog = max(0.0, busy_until - arrival)
        a, mcs = controller.choose(reported, backlog, table, pers, deadline, period)
        cost = table.channel_uses[mcs][a]
        finish = arrival + backlog + cost
        busy_until = finish
        n = max(1, int(round(table.packets[a])))
        lost = int(np.sum(uniforms[t, :n] < pers.per(mcs, float(channel_snr))))
        on_time = finish - arrival <= deadline
        quality = table.value(a, lost / n) if on_time else table.nothing
        rows.append({"t": t, "snr_db": float(channel_snr), "reported_snr_db": reported,
                     "alpha": table.alphas[a], "mcs": mcs, "channel_uses": cost,
                     "backlog": backlog, "latency": finish - arrival, "on_time": bool(on_time),
                     "packets": n, "lost": lost, "quality": quality})
        # The receiver measures this message's SNR and reports it for the next.
        reported = float(channel_snr + noise[t])
    return {"rows": rows, "deadline_rate": float(np.mean([r["on_time"] for r in rows])),
            "mean_quality": float(np.mean([r["quality"] for r in rows]))}


def compare_with_fixed(snr: np.ndarray, table: QualityTable, pers: PerCurves, period: float,
                       deadline: float, mcs_names: Sequence[str],
                       controller: Optional[DriftPlusPenalty] = None,
                       seed: int = 0) -> Dict[str, object]:
    """The controller against every fixed (budget, MCS) pair on the same trace and draws.

    Returns
    -------
    dict
        ``controller`` (its :func:`simulate` result), ``fixed`` (one summary
        row per pair: ``alpha``, ``mcs``, ``deadline_rate``, ``mean_quality``),
        ``best_fixed`` (the highest mean quality), ``best_fixed_meeting_deadline``
        (the highest among pairs that keep the deadline >= 95 % of the time, or
        None).
    """
    controller = controller or DriftPlusPenalty(mcs_names)
    result = simulate(controller, snr, table, pers, period, deadline, seed=seed)
    fixed = []
    for mcs in mcs_names:
        for a, alpha in enumerate(table.alphas):
            run = simulate(FixedChoice(a, mcs), snr, table, pers, period, deadline, seed=seed)
            fixed.append({"alpha": alpha, "mcs": mcs, "deadline_rate": run["deadline_rate"],
                          "mean_quality": run["mean_quality"]})
    meeting = [f for f in fixed if f["deadline_rate"] >= 0.95]
    return {"controller": result, "fixed": fixed,
            "best_fixed": max(fixed, key=lambda f: f["mean_quality"]),
            "best_fixed_meeting_deadline": max(meeting, key=lambda f: f["mean_quality"])
            if meeting else None}
