"""Unequal protection: packet ranking, the equal-air-time budget, mixed-MCS bursts, the loopback."""

import numpy as np
import pytest

from tokencom_sdr.app.loopback import LinkConfig, run_text_loopback
from tokencom_sdr.app.unequal_protection import equal_airtime_protection, parse_uep
from tokencom_sdr.link import make_aggregation, parse_packet
from tokencom_sdr.link.unequal_protection import packet_importance, protection_order
from tokencom_sdr.phy.burst_mapping import burst_length
from tokencom_sdr.phy.modem import modulate
from tokencom_sdr.phy.ofdm_params import OfdmParams

TEXT = ("The receiver knows which packets failed and how reliable every bit was, and a "
        "transformer restores the lost or corrupted tokens from the context around them.")


@pytest.mark.timeout(10)
def test_packets_are_ranked_by_their_tokens_importance():
    groups = [np.array([0, 3]), np.array([1, 4]), np.array([2, 5])]
    importance = np.array([0.0, 5.0, 1.0, 0.0, 5.0, 1.0])
    np.testing.assert_array_equal(packet_importance(groups, importance), [0.0, 10.0, 2.0])
    assert protection_order(groups, importance) == [1, 2, 0]
    with pytest.raises(ValueError, match="carry 6 tokens"):
        packet_importance(groups, importance[:5])
    with pytest.raises(ValueError, match="finite"):
        packet_importance(groups, np.full(6, np.nan))


@pytest.mark.timeout(30)
def test_the_plan_fits_equal_protections_air_time_with_the_important_packets_robust(tokenizer):
    frame = tokenizer.encode_frame(TEXT)
    importance = np.random.default_rng(0).random(len(frame))
    aggregation = make_aggregation("interleaved", 4)
    plan = equal_airtime_protection(frame, 3, importance, aggregation, "qpsk-1/2", "bpsk-1/2",
                                    "16qam-1/2")
    params = OfdmParams()
    uses = sum(burst_length(len(p), m, params) for p, m in zip(plan.packets, plan.packet_mcs))
    assert uses == plan.channel_uses <= plan.budget
    assert 0 < plan.robust_packets < len(plan.packets)
    # The robust packets are the most important ones, and every packet is sent once.
    parsed = [parse_packet(p) for p in plan.packets]
    assert sorted(p.seq for p in parsed) == list(range(len(parsed)))
    scores = {p.seq: importance[p.position_array()].sum() for p in parsed}
    robust = [scores[p.seq] for p in parsed[:plan.robust_packets]]
    fast = [scores[p.seq] for p in parsed[plan.robust_packets:]]
    assert min(robust) >= max(fast)
    assert set(plan.packet_mcs[:plan.robust_packets]) == {"bpsk-1/2"}
    assert set(plan.packet_mcs[plan.robust_packets:]) == {"16qam-1/2"}
    # The next packet in importance order would not have fitted.
    following = parsed[plan.robust_packets:]
    nxt = plan.packets[plan.robust_packets + int(np.argmax([scores[p.seq] for p in following]))]
    assert uses - burst_length(len(nxt), "16qam-1/2", params) + burst_length(
        len(nxt), "bpsk-1/2", params) > plan.budget
    with pytest.raises(ValueError, match="fewer bits per symbol"):
        parse_uep("16qam-1/2,bpsk-1/2")
    with pytest.raises(ValueError, match="ROBUST,FAST"):
        parse_uep("bpsk-1/2")
    with pytest.raises(ValueError, match="no unequal protection fits"):
        equal_airtime_protection(frame, 3, importance, aggregation, "16qam-3/4", "bpsk-1/2",
                                 "16qam-1/2")


@pytest.mark.timeout(60)
def test_mixed_mcs_modulation_is_the_runs_one_after_another(tokenizer):
    packets = [bytes([i]) * (20 + i) for i in range(4)]
    mixed = modulate(packets, ["bpsk-1/2", "bpsk-1/2", "16qam-1/2", "bpsk-1/2"])
    parts = [modulate(packets[:2], "bpsk-1/2"), modulate(packets[2:3], "16qam-1/2"),
             modulate(packets[3:], "bpsk-1/2")]
    np.testing.assert_array_equal(mixed, np.concatenate(parts))
    with pytest.raises(ValueError, match="3 MCS names for 4 packets"):
        modulate(packets, ["bpsk-1/2"] * 3)


@pytest.mark.timeout(240)
def test_unequal_protection_through_the_loopback(tokenizer):
    base = dict(mcs="16qam-1/2", tokens_per_packet=4, seed=5, recovery="fill")
    uep = ("qpsk-1/2", "64qam-2/3")
    clean = run_text_loopback(TEXT, LinkConfig(snr_db=25.0, uep=uep, **base), tokenizer,
                              semantic=False)
    assert clean["exact"] and clean["received_text"] == TEXT
    protection = clean["config"]["unequal_protection"]
    assert protection["robust_packets"] > 0
    assert clean["channel_uses"] == protection["channel_uses"] <= \
        protection["equal_protection_channel_uses"]
    # At 5 dB qpsk-1/2 passes and neither 16qam-1/2 nor 64qam-2/3 does: the
    # robust packets (the tokens the model would guess worst) arrive, while
    # equal protection at the same air time delivers nothing.
    low = run_text_loopback(TEXT, LinkConfig(snr_db=5.0, uep=uep, **base), tokenizer,
                            semantic=False)
    equal = run_text_loopback(TEXT, LinkConfig(snr_db=5.0, **base), tokenizer, semantic=False)
    assert low["packets_received"] == low["config"]["unequal_protection"]["robust_packets"]
    assert equal["packets_received"] == 0
    assert low["token_error_rate"] < equal["token_error_rate"]
    with pytest.raises(ValueError, match="not available for images"):
        from tokencom_sdr.app.loopback import run_image_loopback
        run_image_loopback(np.zeros((32, 32, 3), np.uint8),
                           LinkConfig(uep=("bpsk-1/2", "16qam-1/2")))


@pytest.mark.timeout(300)
def test_semantic_aggregation_and_a_loss_trace_through_the_loopback(tokenizer):
    from tokencom_sdr.channel.loss_models import make_loss_model

    config = LinkConfig(snr_db=25.0, tokens_per_packet=8, aggregation="sempa-look", seed=2,
                        recovery="fill")
    report = run_text_loopback(TEXT, config, tokenizer, semantic=False)
    # The grouping reaches the receiver through the explicit positions alone.
    assert report["exact"] and report["received_text"] == TEXT
    lossy = LinkConfig(snr_db=25.0, tokens_per_packet=8, seed=3, recovery="none",
                       loss=make_loss_model("gilbert", 0.3, 2.0))
    dropped = run_text_loopback(TEXT, lossy, tokenizer, semantic=False)
    with pytest.raises(ValueError, match="cannot be combined with unequal protection"):
        run_text_loopback(TEXT, LinkConfig(uep=("qpsk-1/2", "64qam-2/3"),
                                           loss=make_loss_model("ep5")), tokenizer)
    lost = make_loss_model("gilbert", 0.3, 2.0).process(3).lost(dropped["packets_sent"])
    assert dropped["packets_received"] == dropped["packets_sent"] - int(lost.sum())
