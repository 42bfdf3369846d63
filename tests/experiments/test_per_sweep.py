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
    # Issue 16's hang, overflow and NaN: refused at once, naming the problem.
    for snr, words in (("0:1e9:1e-9", "more than 1000 points"), ("-4000", ">= -60"), ("nan", ">= -60"),
                       ("-inf", ">= -60")):
        assert main(["per-sweep", f"--snr={snr}", "--json", "/dev/null"]) == 1
        assert words in capsys.readouterr().err, snr
    assert main(["per-sweep", "--snr", "5", "--payload-bytes", "5000", "--json", "/dev/null"]) == 1
    assert "at most 1500 bytes" in capsys.readouterr().err


@pytest.mark.timeout(180)
def test_fading_sweep_records_its_channel_and_what_tracking_brings(tmp_path):
    """ETU at 300 Hz, 20 dB: the rows say which channel and receiver they
    measured, and the receiver with tracking loses fewer packets."""
    common = ["per-sweep", "--mcs", "qpsk-1/2", "--snr", "20", "--packets", "40", "--no-stock",
              "--channel", "etu", "--doppler", "300", "--rate", "2e6", "--phase-noise", "-40"]
    assert main(common + ["--json", str(tmp_path / "on.json")]) == 0
    assert main(common + ["--no-tracking", "--json", str(tmp_path / "off.json")]) == 0
    [on] = json.loads((tmp_path / "on.json").read_text())
    [off] = json.loads((tmp_path / "off.json").read_text())
    assert on["channel"]["fading"] == {"profile": "etu", "doppler_hz": 300.0, "sample_rate": 2e6,
                                       "rician_k": 0.0, "seed": on["channel"]["fading"]["seed"]}
    assert on["channel"]["front_end"]["phase_noise_db"] == -40.0
    assert on["channel_tracking"] is True and off["channel_tracking"] is False
    assert on["sample_rate"] == 2e6
    assert off["per"] >= 0.25 and on["per"] <= 0.1


@pytest.mark.timeout(30)
def test_bad_channel_options_are_refused(capsys):
    assert main(["per-sweep", "--snr", "5", "--channel", "etu", "--doppler", "1e6", "--json", "/dev/null"]) == 1
    assert "doppler_hz" in capsys.readouterr().err
    assert main(["per-sweep", "--snr", "5", "--iq-imbalance", "1", "--json", "/dev/null"]) == 1
    assert "--iq-imbalance" in capsys.readouterr().err
