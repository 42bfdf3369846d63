"""A token budget through the real chain: the sender puts only the chosen
positions on the air (GNU Radio OFDM loopback), the receiver, told nothing
of the budget, gets exactly those and fills the rest; ``tokencom rx``'s
streaming receiver does the same; bad ``--budget`` values are one line."""

import json

import numpy as np
import pytest

from tokencom_sdr.app.loopback import LinkConfig, run_image_loopback, run_text_loopback
from tokencom_sdr.app.token_budget import TokenBudget, budget_aggregation
from tokencom_sdr.channel.loopback_channel import LoopbackChannel
from tokencom_sdr.cli.main import main
from tokencom_sdr.data.messages import SONNET_18
from tokencom_sdr.link import packetize
from tokencom_sdr.link.receiver import TokenReceiver
from tokencom_sdr.phy.modem import run_phy_loopback

TEXT = ("Shall I compare thee to a summer's day? Thou art more lovely and more temperate: "
        "rough winds do shake the darling buds of May.")


@pytest.mark.timeout(120)
def test_budget_delivers_exactly_the_chosen_positions_and_fills_the_rest(
        tokenizer, text_recovery, one_torch_thread):
    frame = tokenizer.encode_frame(TEXT)
    grouping = budget_aggregation(frame, TokenBudget(0.5), 8, text_context=text_recovery)
    packets = packetize(frame, 5, grouping)
    phy = run_phy_loopback(packets, "qpsk-1/2", LoopbackChannel(20.0, 0.002, seed=1))
    receiver = TokenReceiver("fill", text_tokenizer=tokenizer, text_context=text_recovery)
    message = receiver.receive(phy.received)
    assert message.packets_received == len(packets)
    raw = message.raw.frame
    assert np.flatnonzero(~raw.erased).tolist() == grouping.kept.tolist()
    assert np.array_equal(raw.ids[grouping.kept], frame.ids[grouping.kept])
    assert raw.erased.sum() == len(frame) - len(frame) // 2 - len(frame) % 2
    filled = message.frame
    assert not filled.erased.any()
    assert np.array_equal(filled.ids[grouping.kept], frame.ids[grouping.kept])
    # The fill restores some of the tokens that were never sent (3 of 19
    # here; tests/context/test_token_importance.py measures the gain).
    unsent = raw.erased
    assert np.mean(filled.ids[unsent] == frame.ids[unsent]) > 0.1


@pytest.mark.timeout(120)
def test_text_loopback_reports_the_budget_and_saves_air_time(tokenizer, text_recovery,
                                                             one_torch_thread):
    config = LinkConfig(snr_db=20.0, tokens_per_packet=8, recovery="fill")
    full = run_text_loopback(TEXT, config, tokenizer, text_recovery=text_recovery,
                             semantic=False)
    config.budget = TokenBudget(0.5, "random", seed=3)
    half = run_text_loopback(TEXT, config, tokenizer, text_recovery=text_recovery,
                             semantic=False)
    kept = half["budget"]["tokens_kept"]
    assert half["budget"]["tokens_in_message"] == full["tokens_sent"] and kept == (
        full["tokens_sent"] + 1) // 2
    assert half["packets_received"] == half["packets_sent"]
    assert half["token_erasure_rate"] == pytest.approx(1 - kept / full["tokens_sent"])
    assert half["token_error_rate"] < half["token_erasure_rate"]
    assert half["channel_uses"] < 0.75 * full["channel_uses"]
    assert full["budget"] is None and full["exact"]


@pytest.mark.timeout(120)
def test_image_loopback_with_a_budget(one_torch_thread):
    from tokencom_sdr.data.image_data import load_image

    image = load_image("astronaut")[160:224, 192:256]
    config = LinkConfig(snr_db=20.0, tokens_per_packet=16, budget=TokenBudget(0.25))
    report = run_image_loopback(image, config)
    assert report["budget"]["tokens_kept"] == 64 and report["budget"]["tokens_in_message"] == 256
    assert report["packets_received"] == report["packets_sent"] == 4
    assert report["token_erasure_rate"] == pytest.approx(0.75)
    # Filled from a quarter of the tokens: below the error-free tokens, far above grey.
    assert 12.0 < report["psnr_db"] < report["psnr_tokens_only_db"]
    # JPEG is held to the bits that went out: the kept tokens and their positions.
    sent = 64 * report["bits_per_token"] + report["budget"]["position_bits"]
    assert report["budget"]["position_bits"] > 0
    assert report["bits_sent_per_pixel"] * 64 * 64 == pytest.approx(sent)
    if report["jpeg_bits_per_pixel"] is not None:
        assert report["jpeg_bits_per_pixel"] * 64 * 64 <= sent


class _Quiet:
    def write(self, text):
        pass

    def flush(self):
        pass


@pytest.mark.timeout(180)
def test_rx_receives_a_budgeted_message_without_knowing_the_budget(one_torch_thread):
    from tokencom_sdr.app.rx import RxFlowgraph, RxOptions, run_receiver
    from tokencom_sdr.app.rx_report import Expected
    from tokencom_sdr.app.tx import make_messages, message_iq, text_frame
    from tokencom_sdr.radio.array_source import ArraySource
    from tokencom_sdr.radio.profile import load_profile

    profile = load_profile("zmq")
    frame = text_frame(SONNET_18)
    [message] = make_messages(frame, 1, 7, tokens_per_packet=16,
                              budget=TokenBudget(0.5, "importance"))
    assert message.tokens == len(frame)
    iq, _ = message_iq(message.packets, profile)
    iq = np.concatenate([np.zeros(3000, np.complex64), iq])
    flowgraph = RxFlowgraph(ArraySource(iq), profile, LoopbackChannel(20.0, 0.003, seed=5))
    [report] = run_receiver(flowgraph, profile,
                            RxOptions(expected=Expected(text=SONNET_18), stream=_Quiet()),
                            finite=True)
    assert report["message_id"] == 7
    assert report["packets_received"] == report["packets_sent"] == len(message.packets)
    assert report["token_erasure_rate"] == pytest.approx(1 - ((len(frame) + 1) // 2) / len(frame))
    assert report["token_error_rate"] < 0.5 * report["token_erasure_rate"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", [
    ["loopback", "--text", "hello there"],
    ["tx", "--radio", "loopback", "--text", "hello there"],
    ["erasure-eval", "--image", "astronaut"],
    ["text-erasure-eval", "--messages", "2"],
])
@pytest.mark.parametrize("value", ["0", "1.01", "half"])
def test_bad_budget_is_one_error_line(command, value, capsys):
    assert main(command + ["--budget", value]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tokencom: error: --budget must"), lines


@pytest.mark.timeout(120)
@pytest.mark.parametrize("ranking", [None, "greedy"])
def test_erasure_eval_ranks_image_tokens_as_asked(ranking, tmp_path, one_torch_thread):
    out = tmp_path / "budget.json"
    command = ["erasure-eval", "--image", "digit:0", "--loss", "0", "--recovery", "context",
               "--draws", "1", "--budget", "0.5", "--json", str(out)]
    assert main(command + ([] if ranking is None else ["--budget-image-ranking", ranking])) == 0
    [row] = json.loads(out.read_text())
    assert row["budget"] == {"alpha": 0.5, "order": "importance", "seed": 0,
                             "image_ranking": ranking or "checkerboard"}
    assert row["token_erasure_rate"] == 0.5      # the 8 x 8 grid's 32 unsent tokens
