"""`tokencom per-sweep`: real chain, stock reference in the same run, JSON rows, plot."""

import json

import pytest

from tokencom_sdr.cli.main import main
from tokencom_sdr.cli.options import parse_snr_range
from tokencom_sdr.experiments.per_sweep import STOCK_CURVE

ROW_KEYS = {"mcs", "snr_db", "packets", "per", "ber", "goodput_bps"}


@pytest.mark.timeout(120)
def test_sweep_reports_every_point_with_the_stock_reference(tmp_path):
    out, plot = tmp_path / "per.json", tmp_path / "per.png"
    assert main(["per-sweep", "--mcs", "qpsk-1/2,16qam-1/2", "--snr", "0,22", "--packets", "30",
                 "--json", str(out), "--plot", str(plot)]) == 0
    rows = json.loads(out.read_text())
    assert {(r["mcs"], r["snr_db"]) for r in rows} == {
        (m, s) for m in ("qpsk-1/2", "16qam-1/2", STOCK_CURVE) for s in (0.0, 22.0)}
    assert all(ROW_KEYS <= set(r) and r["packets"] == 30 for r in rows)
    by_point = {(r["mcs"], r["snr_db"]): r for r in rows}
    for mcs in ("qpsk-1/2", "16qam-1/2", STOCK_CURVE):
        assert by_point[(mcs, 22.0)]["per"] == 0.0 and by_point[(mcs, 22.0)]["goodput_bps"] > 0
    # At 0 dB the 16-QAM payload and the stock receiver both fail every packet.
    assert by_point[("16qam-1/2", 0.0)]["per"] == 1.0 and by_point[(STOCK_CURVE, 0.0)]["per"] == 1.0
    # Higher-order modulation carries more per channel use when it works.
    assert by_point[("16qam-1/2", 22.0)]["goodput_bps"] > by_point[("qpsk-1/2", 22.0)]["goodput_bps"]
    assert plot.stat().st_size > 0


@pytest.mark.timeout(30)
def test_snr_ranges_and_bad_input(capsys):
    assert parse_snr_range("0:10:2") == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert parse_snr_range("3.5") == [3.5]
    for bad in ("5:1:1", "1:2", "a:b:c", ""):
        with pytest.raises(ValueError):
            parse_snr_range(bad)
    assert main(["per-sweep", "--mcs", "qpsk-7/8", "--snr", "5", "--json", "/dev/null"]) == 1
    assert "unknown MCS" in capsys.readouterr().err
