"""Context-aware re-decoding of failed LDPC codewords (link/receiver/redecoding.py).

These tests use the committed text model and the real LDPC payload code; the
last one runs the real GNU Radio OFDM chain."""

import numpy as np
import pytest
from soft_bits import bpsk_awgn_llrs

from tokencom_sdr.channel.soft_bit_channel import SoftBitChannel
from tokencom_sdr.context.text_recovery import TextRecovery
from tokencom_sdr.link import FrameGeometry, make_aggregation, packetize
from tokencom_sdr.link.layout import MessageLayout, expected_packets
from tokencom_sdr.link.packet import parse_packet
from tokencom_sdr.link.receiver import TokenReceiver
from tokencom_sdr.link.receiver.redecoding import context_decode, packet_prior_llr
from tokencom_sdr.link.receiver.soft_reassembly import soft_depacketize
from tokencom_sdr.phy.mcs import get_mcs
from tokencom_sdr.phy.payload_code import decode_payload, encode_payload
from tokencom_sdr.phy.received_burst import ReceivedBurst
from tokencom_sdr.tokens.soft import ids_to_bits
from tokencom_sdr.tokens.text_bpe import TextTokenizer

TEXT = ("Now the serpent was more subtil than any beast of the field which the LORD God had "
        "made. And he said unto the woman, Yea, hath God said, Ye shall not eat of every tree "
        "of the garden? And the woman said unto the serpent, We may eat of the fruit of the "
        "trees of the garden.\n")
MESSAGE_ID = 7
MCS = "qpsk-1/2"


@pytest.fixture(scope="module")
def setup(one_torch_thread):
    tokenizer = TextTokenizer.default()
    frame = tokenizer.encode_frame(TEXT)
    aggregation = make_aggregation("interleaved", 32)
    packets = packetize(frame, MESSAGE_ID, aggregation)
    layout = MessageLayout(FrameGeometry.from_frame(frame, aggregation), aggregation)
    assert len(packets) == 3
    return tokenizer, frame, aggregation, layout, packets, TextRecovery()


def _failed_pdu(code_llr: np.ndarray, n_bytes: int) -> ReceivedBurst:
    """What the PHY hands over for a codeword whose LDPC decode failed."""
    decoded = decode_payload(code_llr, n_bytes, get_mcs(MCS))
    assert not decoded.fec_ok
    return ReceivedBurst(decoded.data, MCS, False, bit_llr=decoded.bit_llr,
                         code_llr=decoded.channel_llr)


@pytest.mark.timeout(60)
def test_bit_prior_is_the_models_extrinsic_marginal(setup):
    """The bit prior of a token never depends on the token's own id, and its
    signs are the bits of the model's most likely id where it is confident."""
    _, frame, _, _, _, recovery = setup
    ids = frame.ids.copy()
    visible = np.ones(len(ids), dtype=bool)
    targets = np.arange(1, len(ids), 3)
    probs = recovery.token_prior(ids, visible, targets, groups=4)
    assert probs.shape == (targets.size, recovery.vocab_size)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    llr = recovery.bit_prior_llrs(ids, visible, targets, 12, groups=4, clip=4.0)
    assert llr.shape == (targets.size, 12) and llr.dtype == np.float32
    assert np.abs(llr).max() <= 4.0
    # Changing a target's own id leaves its prior as it was (the other
    # targets see it as context, so theirs may move).
    scrambled = ids.copy()
    scrambled[targets[5]] = (scrambled[targets[5]] + 1234) % recovery.vocab_size
    again = recovery.bit_prior_llrs(scrambled, visible, targets, 12, 4, 4.0)
    np.testing.assert_allclose(again[5], llr[5], atol=1e-5)
    assert not np.allclose(again, llr, atol=1e-3)
    confident = probs.max(axis=1) > 0.99
    assert confident.any()
    best_bits = ids_to_bits(probs.argmax(axis=1), 12)
    assert np.array_equal((llr[confident] < 0).astype(np.uint8), best_bits[confident])


@pytest.mark.timeout(60)
def test_known_header_and_model_prior_rescue_a_failed_codeword(setup):
    """A codeword too noisy for the LDPC decoder, and still too noisy with
    its known link header as prior, decodes with the header plus the
    model's token prior: it comes back CRC-good and the message is exact."""
    _, frame, aggregation, layout, packets, recovery = setup
    llr = bpsk_awgn_llrs(encode_payload(packets[1], get_mcs(MCS)), -3.0, np.random.default_rng(0))
    pdus = [packets[0], _failed_pdu(llr, len(packets[1])), packets[2]]
    before = soft_depacketize(pdus, MESSAGE_ID, layout)
    assert before.reassembly.stats.packets_received == 2

    header_only = context_decode(pdus, MESSAGE_ID, layout, recovery, use_model=False)
    assert (header_only.candidates, header_only.recovered) == (1, 0)

    decoding = context_decode(pdus, MESSAGE_ID, layout, recovery)
    assert decoding.candidates == 1
    assert (decoding.recovered_header, decoding.recovered_model) == (0, 1)
    assert decoding.soft.reassembly.stats.packets_received == 3
    assert decoding.pdus[1].data == packets[1]
    got = decoding.soft.received.frame
    assert not got.erased.any() and np.array_equal(got.ids, frame.ids)
    # The caller's PDU list is not modified.
    assert pdus[1].code_llr is not None
    with pytest.raises(ValueError, match="header prior, the model prior or both"):
        context_decode(pdus, MESSAGE_ID, layout, recovery, use_model=False, use_header=False)
    with pytest.raises(ValueError, match="needs a TextRecovery"):
        context_decode(pdus, MESSAGE_ID, layout, None)


@pytest.mark.timeout(60)
def test_a_wrong_strong_prior_never_delivers_a_corrupted_packet(setup):
    """Channel and prior both point at a corrupted packet (wrong tokens,
    the CRC of the right ones): the decoder converges to it, and the link
    CRC keeps it from being accepted."""
    _, frame, aggregation, layout, packets, recovery = setup
    template, header_bytes, positions = expected_packets(layout, MESSAGE_ID)[1]
    start, n_bits = 8 * header_bytes, positions.size * 12
    bits = np.unpackbits(np.frombuffer(packets[1], dtype=np.uint8))
    bits[start:start + 36] ^= 1                       # three tokens wrong
    corrupted = np.packbits(bits).tobytes()
    wrong_token_llr = (1.0 - 2.0 * bits[start:start + n_bits]) * 50.0

    code_llr = (1.0 - 2.0 * encode_payload(corrupted, get_mcs(MCS))).astype(np.float32) * 4.0
    fooled = decode_payload(code_llr, len(corrupted), get_mcs(MCS),
                            packet_prior_llr(template, header_bytes, n_bits, wrong_token_llr))
    assert fooled.fec_ok and fooled.data == corrupted  # the decoder alone cannot tell

    class WrongPrior(TextRecovery):
        def bit_prior_llrs(self, ids, visible, targets, bits_per_token, groups=4, clip=None):
            assert np.array_equal(np.sort(targets), np.sort(positions))
            order = {int(p): i for i, p in enumerate(positions)}
            table = wrong_token_llr.reshape(-1, 12)
            return np.stack([table[order[int(t)]] for t in targets]).astype(np.float32)

    wrong = WrongPrior(recovery.model)
    pdus = [packets[0], ReceivedBurst(corrupted, MCS, False, code_llr=code_llr), packets[2]]
    decoding = context_decode(pdus, MESSAGE_ID, layout, wrong, prior_clip=50.0)
    assert decoding.candidates == 1 and decoding.recovered == 0
    assert decoding.decodes >= 2  # header-only round and a model round both ran
    received = decoding.soft.received.frame
    assert decoding.soft.reassembly.stats.packets_received == 2
    assert received.erased[positions].all()
    delivered = ~received.erased
    assert np.array_equal(received.ids[delivered], frame.ids[delivered])
    with pytest.raises(Exception):
        parse_packet(corrupted)


@pytest.mark.timeout(60)
def test_without_code_llrs_soft_recovery_is_unchanged(setup):
    """Uncoded PHYs and the soft-bit channel bring no code_llr: nothing is
    re-decoded and the soft result is exactly what it was."""
    tokenizer, frame, aggregation, layout, packets, recovery = setup
    pdus = SoftBitChannel(3.0, seed=4).transmit_all(packets)
    soft = soft_depacketize(pdus, MESSAGE_ID, layout)
    assert soft.failed_packets_used >= 1
    decoding = context_decode(pdus, MESSAGE_ID, layout, recovery)
    assert (decoding.candidates, decoding.recovered, decoding.decodes) == (0, 0, 0)
    plain = TokenReceiver("soft", context_decoding="off", text_tokenizer=tokenizer,
                          text_context=recovery).receive(pdus)
    with_decoding = TokenReceiver("soft", context_decoding="model", text_tokenizer=tokenizer,
                                  text_context=recovery).receive(pdus)
    assert plain.redecoding is None and with_decoding.redecoding["candidates"] == 0
    assert np.array_equal(plain.frame.ids, with_decoding.frame.ids)
    assert np.array_equal(plain.confidence, with_decoding.confidence)
    # The same as the context model on the soft reassembly directly.
    direct = recovery.recover(soft.received, mode="soft")
    assert np.array_equal(plain.frame.ids, direct.frame.ids)


@pytest.mark.timeout(120)
def test_loopback_redecodes_failed_codewords_through_the_ofdm_chain(setup):
    """Real GNU Radio chain, LDPC qpsk-1/2 at 0.5 dB: both packets fail
    their LDPC decode (even after the PHY re-estimates their channel; at
    1 dB its re-estimation, better since issue 13's tracking work, decodes
    both), so no CRC-good packet says what the message is. The
    receiver estimates the layout from the failed headers combined,
    re-decodes both with that header as prior, they pass their CRC and the
    message is exact. Without re-decoding it is not."""
    from tokencom_sdr.app.loopback import LinkConfig, run_text_loopback

    tokenizer, _, _, _, _, recovery = setup
    text = ("The quick brown fox jumps over the lazy dog while the old man watched from the "
            "porch and the children ran across the field toward the river, laughing and "
            "shouting as the sun went down behind the hills.")
    reports = {}
    for mode in ("model", "off"):
        config = LinkConfig(snr_db=0.5, mcs=MCS, seed=1, recovery="soft", context_decoding=mode)
        reports[mode] = run_text_loopback(text, config, tokenizer, text_recovery=recovery,
                                          semantic=False)
    on, off = reports["model"], reports["off"]
    assert on["packets_received"] == off["packets_received"] == 0  # the radio alone: nothing
    assert on["context_decoding"]["candidates"] == 2
    assert on["context_decoding"]["recovered"] == 2
    assert on["exact"] and on["token_error_rate"] == 0.0
    assert off["context_decoding"] is None and not off["exact"]
