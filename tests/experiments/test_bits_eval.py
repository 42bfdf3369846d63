"""``tokencom bits-eval`` end to end on one held-out message: the JSON has a
row per method, the compressed methods are exact, and bad options are one
error line."""

import json

import pytest

from tokencom_sdr.cli.main import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.timeout(300)
def test_bits_eval_writes_one_row_per_method(tmp_path, capsys):
    out = tmp_path / "bits.json"
    plot = tmp_path / "bits.png"
    assert main(["bits-eval", "--source", "corpus-heldout", "--messages", "1", "--taus", "0,0.9",
                 "--min-tokens", "20", "--max-tokens", "36", "--loss-study", "1",
                 "--packet-bytes", "6",
                 "--no-progress", "--json", str(out), "--plot", str(plot)]) == 0
    result = json.loads(out.read_text())
    rows = {row["method"]: row for row in result["rows"]}
    assert list(rows) == ["fixed", "skip-0", "skip-0.9", "skip-best", "entropy", "zlib"]
    for row in rows.values():
        assert set(row) >= {"method", "bits_per_token", "exact_rate", "cross_entropy_bits"}
        assert row["exact_rate"] == 1.0
        assert row["cross_entropy_bits"] == result["summary"]["cross_entropy_bits"]
    assert rows["fixed"]["bits_per_token"] == 12.0
    # Skipping more never costs more ids; each skip-tau row is below fixed.
    assert rows["skip-0"]["skip_rate"] >= rows["skip-0.9"]["skip_rate"] > 0
    assert rows["skip-0"]["bits_per_token"] < 12.0
    assert rows["skip-best"]["bits_per_token"] == min(rows["skip-0"]["bits_per_token"],
                                                      rows["skip-0.9"]["bits_per_token"])
    assert sum(rows["skip-best"]["chosen_tau_counts"].values()) == 1
    assert result["summary"]["direction"] == "best"
    assert 0.0 <= rows["skip-0"]["backward_rate"] <= 1.0
    assert len(result["per_message"]) == 1
    # Entropy coding: the range code within 5 % of the model's cross-entropy.
    entropy = rows["entropy"]
    assert entropy["code_ratio_to_cross_entropy"] == pytest.approx(1.0, abs=0.05)
    assert entropy["bits_per_token"] < rows["skip-0"]["bits_per_token"]
    assert rows["zlib"]["bits_per_token"] > 0
    # One lost packet: the message is not delivered, and decoding it anyway
    # gives text the hash refuses, never wrong text delivered.
    study = result["entropy_loss_study"]
    assert study["messages"] == 1 and study["packets_per_message"] >= 3
    assert study["delivered_rate"] == 0.0 and study["hash_refused_rate"] == 1.0
    assert study["wrong_delivered"] == 0 and study["tokens_right_rate"] < 1.0
    assert plot.stat().st_size > 1000
    assert "entropy" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--taus", "0.5,2"], "thresholds"),
    (["--taus", "x"], "cannot read thresholds"),
])
def test_bad_thresholds_are_one_error_line(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(["bits-eval", *argv])
    assert message in capsys.readouterr().err


def test_bad_counts_are_one_error_line(capsys):
    assert main(["bits-eval", "--messages", "0"]) == 1
    assert "--messages must be 1..100000" in capsys.readouterr().err
    assert main(["bits-eval", "--min-tokens", "50", "--max-tokens", "40"]) == 1
    assert "--min-tokens" in capsys.readouterr().err
    assert main(["bits-eval", "--source", "no-such-source", "--messages", "1"]) == 1
    assert "unknown text source" in capsys.readouterr().err
