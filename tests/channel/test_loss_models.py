"""Packet-loss models: analytic figures, traces, the published EP1-EP6 tables, the CLI."""

import json

import numpy as np
import pytest

from tokencom_sdr.channel.loss_models import (LOSS_MODEL_NAMES, REFERENCE_FIGURES,
                                              MarkovLossModel, gilbert_loss, iid_loss,
                                              make_loss_model, trace_statistics)
from tokencom_sdr.channel.packet_erasure import PacketErasureChannel
from tokencom_sdr.cli.main import main


def _brute_force_statistics(model: MarkovLossModel, packets: int, seed: int) -> dict:
    # An independent per-packet simulation of the same chain, to check the
    # sojourn-at-a-time generator against.
    rng = np.random.default_rng(seed)
    state = int(rng.choice(len(model.loss_per_state), p=model.stationary))
    lost = np.empty(packets, dtype=bool)
    for i in range(packets):
        lost[i] = rng.random() < model.loss_per_state[state]
        state = int(rng.choice(len(model.loss_per_state), p=model.transition[state]))
    return trace_statistics(lost)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(REFERENCE_FIGURES))
def test_yajnik_models_reproduce_the_published_figures(name):
    model = make_loss_model(name)
    rate, burst = REFERENCE_FIGURES[name]
    # The chain itself, analytically: within 1.5 % (EP1, EP2, EP4 and EP6 keep
    # the published parameters, whose own rounding moves the figures by up
    # to 1.2 %; EP3 and EP5 are solved for the figures exactly).
    assert model.loss_rate() == pytest.approx(rate, rel=0.015)
    assert model.mean_burst_length() == pytest.approx(burst, rel=0.015)
    # A long trace, within the issue's +-10 %. EP1 loses a burst every ~3000
    # packets, so 10^6 packets hold only ~320 bursts and land outside +-10 %
    # for some seeds; 5 * 10^6 (still a fraction of a second) do not.
    packets = 5_000_000 if name == "ep1" else 200_000
    measured = trace_statistics(model.process(11).lost(packets))
    assert measured["loss_rate"] == pytest.approx(rate, rel=0.10)
    assert measured["mean_burst_length"] == pytest.approx(burst, rel=0.10)


@pytest.mark.timeout(60)
def test_gilbert_matches_its_analytic_figures_and_a_per_packet_simulation():
    model = gilbert_loss(0.2, 3.0)
    assert model.loss_rate() == pytest.approx(0.2)
    assert model.mean_burst_length() == pytest.approx(3.0)
    measured = trace_statistics(model.process(5).lost(400_000))
    assert measured["loss_rate"] == pytest.approx(0.2, rel=0.05)
    assert measured["mean_burst_length"] == pytest.approx(3.0, rel=0.05)
    slow = _brute_force_statistics(make_loss_model("ep4"), 60_000, seed=2)
    fast = trace_statistics(make_loss_model("ep4").process(2).lost(60_000))
    assert fast["loss_rate"] == pytest.approx(slow["loss_rate"], abs=0.01)
    assert fast["mean_burst_length"] == pytest.approx(slow["mean_burst_length"], rel=0.08)


@pytest.mark.timeout(30)
def test_a_trace_continues_across_calls():
    # Chunks of 7 packets must give the bursts one long call gives: a state
    # (and a burst) carries over the boundary between two messages.
    process = make_loss_model("ep5").process(3)
    chunked = np.concatenate([process.lost(7) for _ in range(40_000)])
    measured = trace_statistics(chunked)
    assert measured["mean_burst_length"] == pytest.approx(10.0, rel=0.08)
    assert measured["loss_rate"] == pytest.approx(0.214, rel=0.08)


@pytest.mark.timeout(30)
def test_general_hidden_markov_burst_length():
    # Lossy in both states: bursts mix states, and the closed form
    # (loss rate / P(lost, then kept)) must still match a trace.
    model = MarkovLossModel("ge", np.array([[0.95, 0.05], [0.3, 0.7]]), np.array([0.05, 0.8]))
    measured = trace_statistics(model.process(1).lost(400_000))
    assert measured["loss_rate"] == pytest.approx(model.loss_rate(), rel=0.03)
    assert measured["mean_burst_length"] == pytest.approx(model.mean_burst_length(), rel=0.03)


@pytest.mark.timeout(10)
def test_iid_channel_keeps_its_historical_draws():
    # Results recorded before loss models existed must not move: i.i.d. loss
    # is still rng.random(n) < p on the channel's seed.
    channel = PacketErasureChannel(0.3, seed=4)
    packets = [bytes([i]) for i in range(200)]
    kept = channel.transmit_all(packets)
    expected = np.random.default_rng(4).random(200) >= 0.3
    assert kept == [p for p, k in zip(packets, expected) if k]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("args, message", [
    (("iid", None, None), "needs a loss rate"),
    (("gilbert", 0.3, None), "mean burst"),
    (("gilbert", 0.9, 1.0), "cannot be reached"),
    (("gilbert", 0.3, 0.5), ">= 1"),
    (("ep3", 0.3, None), "published parameters"),
    (("ep9", None, None), "unknown loss model"),
    (("iid", 1.5, None), "probability"),
])
def test_bad_loss_model_arguments_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        make_loss_model(*args)


@pytest.mark.timeout(60)
def test_loss_trace_cli_writes_the_figures(tmp_path, capsys):
    out = tmp_path / "ep2.json"
    assert main(["loss-trace", "--model", "ep2", "--packets", "100000", "--seed", "1",
                 "--json", str(out), "--plot", str(tmp_path / "ep2.png")]) == 0
    result = json.loads(out.read_text())
    assert result["model"] == "ep2" and result["packets"] == 100000
    assert result["reference_loss_rate"] == 0.031 and result["reference_mean_burst_length"] == 1.6
    assert result["loss_rate"] == pytest.approx(0.031, rel=0.1)
    assert result["mean_burst_length"] == pytest.approx(1.6, rel=0.1)
    assert (tmp_path / "ep2.png").stat().st_size > 5000
    assert "published" in capsys.readouterr().out
    assert main(["loss-trace", "--model", "gilbert", "--loss", "0.3"]) == 1
    assert "burst" in capsys.readouterr().err
    assert set(LOSS_MODEL_NAMES) == {"iid", "gilbert", *REFERENCE_FIGURES}
    iid = json.loads(json.dumps(iid_loss(0.1).settings()))
    assert "reference_loss_rate" not in iid
