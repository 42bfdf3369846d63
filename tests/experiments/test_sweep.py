"""tokencom sweep and tokencom report: the config checks, a small sweep through
the real GNU Radio chain run serially and on a 2-worker Dask LocalCluster
(same rows), resume, and the report's figures."""

import json
import math

import pytest

from tokencom_sdr.cli.main import main
from tokencom_sdr.experiments.sweep_config import SweepConfigError, load_sweep_config, parse_sweep_config
from tokencom_sdr.experiments.sweep_point import RUN_COLUMN_PREFIX, channel_seed
from PIL import Image

from tokencom_sdr.cli.report import FIGURES_SHOWN_PIXELS
from tokencom_sdr.experiments.report_screenshot import coloured_pixels, screenshot
from tokencom_sdr.experiments.sweep_report import (efficiency_at_target, tokcom_comparison, wilson_interval,
                                                   write_report)
from tokencom_sdr.experiments.sweep_results import JOURNAL, read_results
from tokencom_sdr.experiments.sweep_runner import run_sweep, task_chunks

#: Two messages and one small image at a noisy SNR, with and without
#: recovery: 6 points, each a full loopback.
SMALL = {
    "modalities": ["text", "image"],
    "text": {"messages": 2, "recovery": ["none", "soft"]},
    "image": {"images": ["astronaut"], "max_side": 32, "recovery": ["none", "context"]},
    "snr_db": [1.5],
    "mcs": ["qpsk-1/2"],
    "channel": ["awgn"],
    "seeds": [3],
    # Small, so that the Dask run (2 workers, 6 points) restarts its workers
    # between rounds of 4 points.
    "points_per_worker": 2,
}


def result_columns(rows):
    """Rows without the columns that describe the run (wall time, process id)."""
    return [{k: v for k, v in row.items() if not k.startswith(RUN_COLUMN_PREFIX)} for row in rows]


@pytest.fixture(scope="module")
def small_config():
    return parse_sweep_config(SMALL, "small")


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory, small_config):
    out = tmp_path_factory.mktemp("serial")
    run = run_sweep(small_config, out, "serial", progress=False)
    return out, run


def test_config_lists_every_bad_field_once():
    raw = dict(SMALL, snr_db=[3, "x"], mcs=["qpsk-1/2", "qpsk-9/10"], channel=[{"model": "xyz"}],
               seeds=[-1], typo_field=1, text={"messages": 0, "recovery": ["soft", "magic"]})
    with pytest.raises(SweepConfigError) as error:
        parse_sweep_config(raw, "bad.yaml")
    fields = [p.split(":")[0] for p in error.value.problems]
    assert fields == ["typo_field", "text.messages", "text.recovery[1]", "snr_db[1]", "mcs[1]",
                      "channel[0].model", "seeds[0]"], error.value.problems
    assert "qpsk-9/10" in str(error.value) and "bad.yaml" in str(error.value)


def test_config_grid_and_ranges():
    config = parse_sweep_config(dict(SMALL, snr_db={"start": 2, "stop": 3, "step": 0.5},
                                     channel=["awgn", {"model": "etu", "doppler_hz": 300}]), "c")
    assert config.snr_db == (2.0, 2.5, 3.0)
    points = config.points()
    # text: 2 messages x 2 recoveries; image: 1 x 2; times 3 SNRs x 2 channels.
    assert len(points) == (2 * 2 + 1 * 2) * 3 * 2
    assert {p.channel for p in points} == {"awgn", "etu@300Hz"}
    assert len({p.point_id() for p in points}) == len(points)


def test_config_file_is_read_strictly(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("modalities: [text]\nmodalities: [image]\n")
    with pytest.raises(SweepConfigError, match="given twice"):
        load_sweep_config(path)


def test_cli_names_the_bad_field(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("modalities: [text]\ntext: {messages: 1, recovery: [none]}\nsnr_db: [nan]\n"
                    "mcs: [qpsk-1/2]\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 1
    assert "snr_db[0]: SNR must be a number" in capsys.readouterr().err


def test_wilson_interval():
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(0.1611, abs=1e-4)
    assert wilson_interval(20, 20)[1] == 1.0


@pytest.mark.timeout(120)
def test_serial_sweep_rows_and_resume(serial_run, small_config, tmp_path):
    out, run = serial_run
    rows, meta = read_results(out)
    assert run.ran == run.points == len(rows) == 6
    assert meta["version"] and meta["config"]["points_per_worker"] == 2
    by_id = {r["point_id"]: r for r in rows}
    assert len(by_id) == 6
    for row in rows:
        assert row["packets_sent"] >= 1 and row["channel_uses"] > 0
        assert 0.0 <= row["packet_error_rate"] <= 1.0
    text = [r for r in rows if r["modality"] == "text"]
    # Recovery modes of one message see the same noise: same PHY result.
    for source in {r["source"] for r in text}:
        pair = [r for r in text if r["source"] == source]
        assert len({(r["packets_received"], r["channel_uses"]) for r in pair}) == 1
    # Resume: a journal cut after two points runs the other four, same rows.
    partial = tmp_path / "partial"
    partial.mkdir()
    lines = (out / JOURNAL).read_text().splitlines()
    (partial / JOURNAL).write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])
    again = run_sweep(small_config, partial, "serial", progress=False)
    assert again.ran == 4
    assert result_columns(read_results(partial)[0]) == result_columns(rows)


@pytest.mark.timeout(150)
def test_local_cluster_matches_serial(serial_run, small_config, tmp_path):
    out, _ = serial_run
    run = run_sweep(small_config, tmp_path / "dask", "local", workers=2, progress=False)
    serial_rows = read_results(out)[0]
    dask_rows = read_results(tmp_path / "dask")[0]
    assert result_columns(dask_rows) == result_columns(serial_rows)
    # 6 points in rounds of 2 per worker, the workers restarted between
    # rounds: more processes than the 2 workers ran points.
    assert run.workers > 2
    assert len({r["run_pid"] for r in dask_rows}) == run.workers


@pytest.mark.timeout(60)
def test_report_figures(serial_run, tmp_path):
    out, _ = serial_run
    files = write_report(out, tmp_path / "report")
    for name in ("link", "text", "image", "efficiency"):
        data = files[name].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    page = files["html"].read_text()
    assert page.count("data:image/png;base64,") == 4
    summary = json.loads(files["efficiency_json"].read_text())
    assert {e["modality"] for e in summary["entries"]} == {"text", "image"}
    assert {c["modality"] for c in summary["tokcom_comparison"]} == {"text", "image"}
    assert "Against TokCom" in page


@pytest.mark.timeout(120)
def test_report_screenshot_shows_the_figures(serial_run, tmp_path):
    """The page a browser opens shows the figures: rendered headless, the
    report has the coloured pixels of its curves; the same page with its
    images broken has next to none (so the check can fail)."""
    out, _ = serial_run
    assert main(["report", str(out), "--out", str(tmp_path / "report"), "--screenshot"]) == 0
    shot = tmp_path / "report" / "report.png"
    with Image.open(shot) as image:
        assert image.width == 1280 and image.height > 2000
    assert coloured_pixels(shot) >= FIGURES_SHOWN_PIXELS
    page = (tmp_path / "report" / "report.html").read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(page.replace("data:image/png;base64,", "data:image/png;base64,AAAA"))
    assert coloured_pixels(screenshot(broken, tmp_path / "broken.png")) < FIGURES_SHOWN_PIXELS / 4


def test_tokcom_comparison_says_how_far_short_and_why():
    def row(mcs, recovery, snr, exact, uses, received):
        return {"modality": "text", "channel": "awgn", "loss_model": "none", "snr_db": snr,
                "recovery": recovery, "mcs": mcs, "tokens_per_packet": 32, "aggregation": "interleaved",
                "tokenizer": "", "exact": exact, "source_units": 400, "channel_uses": uses,
                "packets_sent": 10, "packets_received": received}

    rows = []
    # 16qam-1/2 goes from all packets lost at 4 dB to none lost at 6 dB; at
    # 5 dB it loses 3 of 10, which soft recovery repairs and none cannot.
    for snr, received in ((4.0, 0), (5.0, 7), (6.0, 10)):
        rows += [row("qpsk-1/2", "none", snr, True, 4000, 10), row("qpsk-1/2", "soft", snr, True, 4000, 10),
                 row("16qam-1/2", "none", snr, received == 10, 2500, received),
                 row("16qam-1/2", "soft", snr, received >= 7, 2500, received)]
    entries = efficiency_at_target(rows)
    (text,) = tokcom_comparison(entries, rows)
    assert text["snr_db"] == 5.0 and math.isclose(text["gain"], 4000 / 2500 - 1)
    assert math.isclose(text["shortfall_points"], 70.8 - 60.0)
    assert text["setting"]["mcs"] == "16qam-1/2" and text["setting_none"]["mcs"] == "qpsk-1/2"
    assert text["cliff_db"] == 2.0
    # Twice the channel uses saved would meet it: nothing short.
    rows = [dict(r, channel_uses=1500) if r["mcs"] == "16qam-1/2" else r for r in rows]
    (text,) = tokcom_comparison(efficiency_at_target(rows), rows)
    assert text["gain"] > 0.708 and text["shortfall_points"] == 0.0


def test_efficiency_picks_the_cheapest_setting_that_reaches_the_target():
    def row(mcs, recovery, exact, uses):
        return {"modality": "text", "channel": "awgn", "loss_model": "none", "snr_db": 3.0,
                "recovery": recovery, "mcs": mcs, "tokens_per_packet": 32, "aggregation": "interleaved",
                "tokenizer": "", "exact": exact, "source_units": 400, "channel_uses": uses}

    rows = [row("qpsk-1/2", "none", True, 4000), row("16qam-1/2", "none", False, 2500),
            row("qpsk-1/2", "soft", True, 4000), row("16qam-1/2", "soft", True, 2500)]
    entries = {e["recovery"]: e for e in efficiency_at_target(rows)}
    assert entries["none"]["setting"]["mcs"] == "qpsk-1/2"
    assert entries["soft"]["setting"]["mcs"] == "16qam-1/2"
    assert math.isclose(entries["soft"]["gain_over_none"], 4000 / 2500 - 1)


@pytest.mark.timeout(120)
def test_conventional_senders_over_the_same_phy(tmp_path):
    """JPEG and zlib files in CRC packets the size of the token packets,
    through the same chain and noise: error-free at a high SNR, the JPEG
    file fills the token packets' channel uses, and a noisy SNR loses packets."""
    raw = {"modalities": ["text", "image"],
           "text": {"messages": 1, "recovery": ["none"], "baselines": ["zlib"]},
           "image": {"images": ["astronaut"], "max_side": 128, "recovery": ["none"], "baselines": ["jpeg"]},
           "snr_db": [1.0, 20], "mcs": ["qpsk-1/2"], "seeds": [0]}
    run_sweep(parse_sweep_config(raw, "baselines"), tmp_path, "serial", progress=False)
    rows = {(r["modality"], r["recovery"], r["snr_db"]): r for r in read_results(tmp_path)[0]}
    jpeg, tokens = rows[("image", "jpeg", 20.0)], rows[("image", "none", 20.0)]
    assert jpeg["packets_received"] == jpeg["packets_sent"] == tokens["packets_sent"]
    # Same packets count and size, within the padding of the last one.
    assert abs(jpeg["channel_uses"] - tokens["channel_uses"]) <= 0.02 * tokens["channel_uses"]
    assert jpeg["psnr_db"] == pytest.approx(jpeg["psnr_jpeg_error_free_db"])
    assert rows[("text", "zlib", 20.0)]["exact"] is True
    noisy = rows[("image", "jpeg", 1.0)]
    assert noisy["packets_received"] < noisy["packets_sent"]
    assert noisy["psnr_db"] < jpeg["psnr_db"]


@pytest.mark.timeout(90)
def test_loss_model_axis_drops_the_traced_packets(tmp_path):
    """At 20 dB the radio delivers every packet; an i.i.d. 50 % loss model
    then removes exactly the packets its trace (seeded by the point) marks."""
    raw = {"modalities": ["text"], "text": {"messages": 1, "recovery": ["none"]}, "snr_db": [20],
           "mcs": ["qpsk-1/2"], "seeds": [0, 1, 2, 3], "tokens_per_packet": [8],
           "loss_model": ["none", {"model": "iid", "loss": 0.5}]}
    config = parse_sweep_config(raw, "loss")
    run_sweep(config, tmp_path, "serial", progress=False)
    rows = read_results(tmp_path)[0]
    lossy = [r for r in rows if r["loss_model"] == "iid(0.5)"]
    assert all(r["packets_received"] == r["packets_sent"] for r in rows if r["loss_model"] == "none")
    for row in lossy:
        point = next(p for p in config.points() if p.point_id() == row["point_id"])
        lost = config.loss_model("iid(0.5)").process(channel_seed(point)).lost(row["packets_sent"])
        assert row["packets_received"] == row["packets_sent"] - int(lost.sum())
    assert sum(r["packets_received"] for r in lossy) < sum(r["packets_sent"] for r in lossy)


@pytest.mark.parametrize("points, workers, tasks", [(0, 2, 0), (3, 2, 3), (240, 2, 12), (13, 1, 6)])
def test_cluster_tasks_deal_every_point_once(points, workers, tasks):
    chunks = task_chunks(list(range(points)), workers)
    assert len(chunks) == tasks and all(chunks)
    assert sorted(sum(chunks, [])) == list(range(points))
    sizes = [len(chunk) for chunk in chunks]
    assert not sizes or max(sizes) - min(sizes) <= 1
    # Dealt: a task holds points from across the grid, not one stretch of it.
    if tasks > 1 and points > tasks:
        assert chunks[0][:2] == [0, tasks]


@pytest.mark.timeout(120)
def test_local_workers_have_one_blas_thread_no_malloc_trim_and_no_profiler():
    """Settings that measurably slow a point (see sweep_runner) stay off,
    in the first workers and in those a restart brings."""
    from tokencom_sdr.experiments import sweep_runner

    client, cluster = sweep_runner._start_client("local", 1)
    try:
        for _ in range(2):
            settings = client.run(lambda: (
                __import__("os").environ.get("OPENBLAS_NUM_THREADS"),
                __import__("os").environ.get("MALLOC_TRIM_THRESHOLD_"),
                __import__("dask").config.get("distributed.worker.profile.enabled")))
            assert list(settings.values()) == [("1", None, False)]
            client.restart()
    finally:
        client.close()
        cluster.close()
