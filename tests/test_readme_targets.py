"""The README's headline figures as seeded regression tests (issue 19).

Each test runs the real code path at a fixed seed and checks the figure at
about 4 standard errors of its seed-to-seed spread, so it fails when the
system gets measurably worse (not when the dice roll differently). The seed,
the value measured when the test was written and the spread are in each
docstring. They are marked ``slow`` and run in ``make test`` (and so in CI);
``-m "not slow"`` leaves them out.
"""

import pytest

from tokencom_sdr.experiments.per_sweep import STOCK_CURVE, per_sweep

pytestmark = pytest.mark.slow


def _per_by_mcs(rows):
    return {(row["mcs"], row["snr_db"]): row["per"] for row in rows}


@pytest.mark.timeout(240)
def test_qpsk_half_per_seed19_is_075pct_at_3db_and_0_at_4db():
    """qpsk-1/2, 100-byte packets, CFO 0.005, seed 19, 400 packets at 3 dB
    and 200 at 4 dB, through the real GNU Radio chain.

    Measured: PER 0.75 % at 3 dB (3 of 400; README: 0.2 %), 0 at 4 dB
    (README: 0, target PER <= 1 % at 4 dB). Bound at 3 dB: 0.75 % + 4
    standard errors (sqrt(0.0075 * 0.9925 / 400) = 0.43 %) = 2.5 %. If
    qpsk-1/2 needed 1 dB more SNR, 3 dB would look like today's 2 dB: PER
    6.5 % at this seed (26 of 400 packets against at most 10 allowed).
    """
    rows = per_sweep(["qpsk-1/2"], [3.0], packets=400, cfo=0.005, include_stock=False, seed=19)
    rows += per_sweep(["qpsk-1/2"], [4.0], packets=200, cfo=0.005, include_stock=False, seed=19)
    per = _per_by_mcs(rows)
    assert per[("qpsk-1/2", 3.0)] <= 0.025, rows
    assert per[("qpsk-1/2", 4.0)] <= 0.01, rows


@pytest.mark.timeout(240)
def test_coded_beats_uncoded_and_stock_at_4db_seed19():
    """At 4 dB (seed 19, CFO 0.005, 100 packets of 100 bytes), the LDPC
    qpsk-1/2 link delivers where uncoded QPSK (ours) and GNU Radio's stock
    uncoded OFDM lose everything. Measured: PER 0 / 1.0 / 1.0 (the stock
    receiver needs about 19 dB)."""
    rows = per_sweep(["qpsk-1/2", "qpsk"], [4.0], packets=100, cfo=0.005, include_stock=True,
                     seed=19)
    per = _per_by_mcs(rows)
    coded, uncoded, stock = (per[(m, 4.0)] for m in ("qpsk-1/2", "qpsk", STOCK_CURVE))
    # Each bound is 4 standard errors (p = 0.5 at worst, n = 100: 0.2) from
    # the measured value: a gap of at least 0.5 leaves both sides room.
    assert coded <= 0.2 and uncoded >= 0.8 and stock >= 0.8, rows
    assert coded < uncoded - 0.5 and coded < stock - 0.5, rows


@pytest.mark.timeout(300)
def test_heldout_text_fill_seed0_restores_43pct_of_erased_tokens(one_torch_thread):
    """Context fill on 200 held-out corpus messages (message order seed 0),
    30 % i.i.d. packet loss, 8 tokens a packet, interleaved, loss seed 0.

    Measured: 43.3 % of the ~4,000 erased tokens restored exactly (README:
    43.6 % on its own held-out set; 39.0 % here before the GPU training).
    Over 2 message sets x 3 loss seeds the rate was 41.1-43.3 %, standard
    deviation 0.8 points, so the bounds are 43.3 +- 2.5 points: a drop of 5
    points fails, and so does a jump that would mean the erased tokens
    leaked to the model (update the pinned value and the README after a
    real improvement).
    """
    from tokencom_sdr.context.text_recovery import TextRecovery
    from tokencom_sdr.data.heldout_messages import heldout_messages
    from tokencom_sdr.experiments.text_erasure_eval import run_erasure_eval

    result = run_erasure_eval(heldout_messages(200, seed=0), TextRecovery(), loss_probability=0.3,
                              tokens_per_packet=8, aggregation="interleaved", seed=0)
    assert 0.25 < result["token_erasure_rate"] < 0.35
    assert 0.433 - 0.025 <= result["fill_restored_rate"] <= 0.433 + 0.025, result
    # The model, not luck: a unigram guess restores about 6 %.
    assert result["unigram_restored_rate"] < 0.1


@pytest.mark.timeout(300)
def test_image_context_beats_copy_by_1db_on_heldout_astronaut_seed0(one_torch_thread):
    """Held-out astronaut (512x512), standard tokenizer, 30 % i.i.d. loss of
    interleaved 32-token packets, 2 loss draws, seed 0.

    Measured: none 17.96 / copy 22.48 / context 25.04 dB (context - copy
    +2.56 dB; seed 1: +2.78 dB; +1.88 and +2.03 before the GPU training;
    per-draw spread about 0.1-0.3 dB). Bounds: context >= copy + 1.0 dB (the
    README's target) and >= none + 3 dB (measured +7.1), each several times
    the spread below the measurement.
    """
    from tokencom_sdr.data.image_data import HELDOUT_IMAGES, load_image
    from tokencom_sdr.experiments.image_erasure_eval import evaluate_erasures
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    assert "astronaut" in HELDOUT_IMAGES
    result = evaluate_erasures(load_image("astronaut"), ImageTokenizer.default("standard"), [0.3],
                               methods=("none", "copy", "context"), draws=2, seed=0)
    psnr = {row["recovery"]: row["psnr_db"] for row in result["rows"]}
    assert psnr["context"] >= psnr["copy"] + 1.0, psnr
    assert psnr["context"] >= psnr["none"] + 3.0, psnr
    assert psnr["context"] <= result["psnr_tokens_only_db"] + 0.1, psnr


@pytest.mark.timeout(240)
def test_tokencom_demo_runs_and_recovers_the_sonnet(tmp_path, monkeypatch, capsys):
    """``tokencom demo`` end to end (text at 15, 4, 3, 2.5 and 2 dB, then
    the peppers image at 8, 3, 2.5 and 2 dB; seeds fixed by the demo): at
    15 dB the sonnet arrives exact, and the side-by-side pictures are written."""
    from tokencom_sdr.cli.main import main

    monkeypatch.chdir(tmp_path)  # the demo writes out/demo/ under the working directory
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("15.0")]
    assert rows and rows[0][5] == "True", out  # the 15 dB text row: exact after recovery
    pictures = sorted((tmp_path / "out" / "demo").glob("image_snr*/comparison.png"))
    assert len(pictures) == 4 and all(p.stat().st_size > 0 for p in pictures)
