"""Text end to end through the real GNU Radio OFDM loopback, and the CLI."""

import json
import zlib

import numpy as np
import pytest

from tokencom_sdr.channel.loopback_channel import LoopbackChannel
from tokencom_sdr.cli.loopback import summary_line
from tokencom_sdr.cli.main import main
from tokencom_sdr.link import PacketError, depacketize, parse_packet
from tokencom_sdr.data.messages import PARADISE_LOST_OPENING
from tokencom_sdr.phy.modem import demodulate
from tokencom_sdr.app.loopback import LinkConfig, run_text_loopback
from tokencom_sdr.tokens.text_bpe import TextTokenizer

REPORT_KEYS = {"modality", "snr_db", "tokens_sent", "token_error_rate", "packets_sent",
               "packets_received", "packet_error_rate", "channel_uses", "exact",
               "received_text", "latency_s"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mcs", ["qpsk-1/2", "qpsk"])
def test_multi_paragraph_message_crosses_an_impaired_channel_exactly(tokenizer, mcs):
    config = LinkConfig(snr_db=25, cfo=0.01, sco_ppm=20, taps=[1, 0.3 + 0.1j, 0.1], mcs=mcs,
                        tokens_per_packet=8, seed=4)
    report = run_text_loopback(PARADISE_LOST_OPENING, config, tokenizer)
    assert report["packets_sent"] >= 36  # several dozen packets, each its own burst
    assert report["packets_received"] == report["packets_sent"]
    assert report["exact"] and report["received_text"] == PARADISE_LOST_OPENING
    assert report["token_error_rate"] == 0.0


@pytest.mark.timeout(120)
def test_corrupted_packets_are_never_delivered_as_good(tokenizer):
    # Uncoded QPSK at 9 dB: many packets arrive with bit errors. Whatever
    # the link accepts must be exactly what was sent; the rest are erasures.
    config = LinkConfig(snr_db=9, cfo=0.005, mcs="qpsk", tokens_per_packet=8, seed=2,
                        recovery="none")
    report = run_text_loopback(PARADISE_LOST_OPENING, config, tokenizer, semantic=False)
    assert 0 < report["packets_received"] < report["packets_sent"]
    assert report["pdus_rejected"] > 0  # corrupted bursts did come out of the PHY
    frame = tokenizer.encode_frame(PARADISE_LOST_OPENING)
    assert report["token_error_rate"] == pytest.approx(report["token_erasure_rate"])
    assert report["received_text"] == report["received_text_raw"]
    received = report["received_text"].split("\u2047")
    for piece in received:  # every non-erased run is verbatim from the source
        assert piece in PARADISE_LOST_OPENING
    assert len(frame) == report["tokens_sent"]


@pytest.mark.timeout(120)
def test_noise_only_input_delivers_no_packet():
    rng = np.random.default_rng(11)
    # About a second of air time at 1 MS/s of pure noise (unit power).
    noise = ((rng.normal(size=1_000_000) + 1j * rng.normal(size=1_000_000)) / np.sqrt(2)).astype(np.complex64)
    pdus = demodulate(noise, LoopbackChannel())
    for pdu in pdus:  # a header may pass its CRC-16 by chance; the payload never passes
        with pytest.raises(PacketError):
            parse_packet(pdu.data)
    frame = TextTokenizer.default().encode_frame("expected geometry")
    result = depacketize([p.data for p in pdus], 1, expected=frame)
    assert result.stats.packets_received == 0 and result.frame.erased.all()


@pytest.mark.timeout(120)
def test_cli_loopback_writes_the_json_report(tmp_path, capsys):
    text = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate. 🌞"
    out = tmp_path / "out.json"
    assert main(["loopback", "--text", text, "--snr", "25", "--cfo", "0.01", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert REPORT_KEYS <= set(report)
    assert report["exact"] is True and report["received_text"] == text
    assert set(report["latency_s"]) == {"encode", "phy", "decode"}
    assert report["channel_uses"] > 0 and report["modality"] == "text"
    baseline = report["baseline"]
    assert baseline["zlib_bytes"] == len(zlib.compress(text.encode("utf-8"), 9))
    assert baseline["bpe_bytes"] == report["tokens_sent"] * 12 / 8
    printed = capsys.readouterr().out
    assert text in printed and "exact True" in printed


@pytest.mark.timeout(30)
def test_cli_rejects_bad_input_with_a_clear_message(capsys):
    assert main(["loopback", "--text", "", "--snr", "10"]) == 1
    assert "nothing to send" in capsys.readouterr().err
    assert main(["loopback", "--text", "x", "--taps", "1", "abc"]) == 1
    assert "multipath tap 'abc'" in capsys.readouterr().err
    assert main(["loopback", "--text", "x", "--cfo", "0.7"]) == 1
    assert "cfo" in capsys.readouterr().err


@pytest.mark.timeout(180)
def test_live_receiver_routes_old_english_to_the_corpus_expert(tokenizer):
    """Through the real OFDM chain with 30 % of the packets lost: the receiver
    recovers the 17th-century message with the corpus expert and the modern
    one with the general model, and says so in the report."""
    from tokencom_sdr.channel.loss_models import iid_loss

    modern = ("The firmware update failed because the SD card was mounted read-only. Remount "
              "it, check the free space with df -h, and run the installer again before "
              "rebooting the board, then send the log to the support team.")
    for text, expected in ((PARADISE_LOST_OPENING, "corpus"), (modern, "general")):
        config = LinkConfig(snr_db=25, mcs="qpsk-1/2", tokens_per_packet=8, seed=3,
                            loss=iid_loss(0.3))
        report = run_text_loopback(text, config, tokenizer, semantic=False)
        assert report["packets_received"] < report["packets_sent"]
        assert report["recovered_by"] == expected
        assert ("corpus expert" in summary_line(report)) == (expected == "corpus")
        assert "\u2047" not in report["received_text"]
