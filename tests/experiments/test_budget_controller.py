"""The budget controller: PER curves from the real chain's sweep, a drifting
SNR, and a drift-plus-penalty choice of budget and MCS that keeps the deadline."""

from pathlib import Path

import numpy as np
import pytest

from tokencom_sdr.experiments.budget_controller import (DriftPlusPenalty, FixedChoice, PerCurves,
                                                        QualityTable, compare_with_fixed,
                                                        simulate, snr_trace)

PER_SWEEP = Path(__file__).resolve().parents[2] / "docs/results/per_sweep.json"
MCS = ("qpsk-1/2", "16qam-1/2")


@pytest.fixture(scope="module")
def pers():
    return PerCurves.from_file(PER_SWEEP)


def small_table():
    """Two budgets, two MCSs; costs in channel uses (qpsk about twice 16qam)."""
    return QualityTable(alphas=[0.5, 1.0], lost_shares=[0.0, 0.5, 1.0],
                        quality=np.array([[25.0, 18.0, 10.0], [28.0, 19.0, 10.0]]),
                        packets=[2, 4], channel_uses={"qpsk-1/2": [1000.0, 1900.0],
                                                      "16qam-1/2": [600.0, 1000.0]})


@pytest.mark.timeout(30)
def test_per_curves_are_the_measured_points(pers):
    assert pers.per("qpsk-1/2", 2.0) == pytest.approx(0.098)
    assert pers.per("16qam-1/2", 7.0) == pytest.approx(0.078)
    between = pers.per("16qam-1/2", 6.5)
    assert 0.078 < between < 0.95
    assert pers.per("qpsk-1/2", 30.0) == pytest.approx(1e-4)  # floor: 500 packets a point
    with pytest.raises(ValueError, match="no PER curve"):
        pers.per("256qam-5/6", 10.0)


@pytest.mark.timeout(30)
def test_snr_trace_drifts_within_its_swing():
    snr = snr_trace(400, centre_db=10.0, swing_db=6.0, period_messages=100, seed=1)
    assert snr.min() >= 4.0 and snr.max() <= 16.0
    assert snr.max() - snr.min() > 9.0


@pytest.mark.timeout(30)
def test_controller_keeps_the_deadline_and_beats_every_fixed_pair(pers):
    table = small_table()
    snr = snr_trace(60, centre_db=8.0, swing_db=6.0, period_messages=30, seed=2)
    period, deadline = 1000.0, 1500.0
    result = compare_with_fixed(snr, table, pers, period, deadline, MCS,
                                DriftPlusPenalty(MCS), seed=3)
    rows = result["controller"]["rows"]
    assert result["controller"]["deadline_rate"] == 1.0
    assert max(r["latency"] for r in rows) <= deadline
    # Low SNR: the robust MCS; high SNR: every token at the fast one.
    assert all(r["mcs"] == "qpsk-1/2" for r in rows if r["reported_snr_db"] < 6.0)
    assert any(r["mcs"] == "16qam-1/2" and r["alpha"] == 1.0 for r in rows
               if r["reported_snr_db"] > 10.0)
    best = result["best_fixed_meeting_deadline"]
    assert result["controller"]["mean_quality"] > best["mean_quality"]
    # Every token at the robust MCS takes 1.9 periods: its queue grows and
    # the deadline is missed, which the check must see.
    slow = next(f for f in result["fixed"] if f["mcs"] == "qpsk-1/2" and f["alpha"] == 1.0)
    assert slow["deadline_rate"] < 0.5


@pytest.mark.timeout(30)
def test_late_messages_score_nothing_and_draws_are_paired(pers):
    table = small_table()
    snr = np.full(10, 12.0)
    late = simulate(FixedChoice(1, "qpsk-1/2"), snr, table, pers, 1000.0, 1500.0, seed=0)
    # 1900 channel uses every 1000: each message waits 900 longer than the last.
    assert [r["latency"] for r in late["rows"]][:3] == [1900.0, 2800.0, 3700.0]
    assert not any(r["on_time"] for r in late["rows"])
    assert all(r["quality"] == table.nothing for r in late["rows"] if not r["on_time"])
    one = simulate(DriftPlusPenalty(MCS), snr, table, pers, 1000.0, 1500.0, seed=4)
    two = simulate(DriftPlusPenalty(MCS), snr, table, pers, 1000.0, 1500.0, seed=4)
    assert one == two
