"""Constellations, soft demapping, the codes and the PHY header, in numpy."""

import binascii

import numpy as np
import pytest
from soft_bits import bpsk_awgn_llrs

from tokencom_sdr.phy.mcs import MCS_BY_NAME, MCS_NAMES, get_mcs
from tokencom_sdr.phy.payload_code import coded_length, decode_payload, encode_payload
from tokencom_sdr.phy import phy_header
from tokencom_sdr.phy.phy_header import (MAX_PAYLOAD_BYTES, PhyHeader, crc16_ccitt, decode_header,
                                         decode_headers, encode_header, header_code)
from tokencom_sdr.phy.qam import (BITS_PER_SYMBOL, constellation, demap_maxlog, hard_decision,
                                  map_bits)

pytestmark = pytest.mark.timeout(60)
CONSTELLATIONS = list(BITS_PER_SYMBOL)


@pytest.mark.parametrize("name", CONSTELLATIONS)
def test_mapping_round_trips_bit_exactly(name):
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, BITS_PER_SYMBOL[name] * 4096).astype(np.uint8)
    symbols = map_bits(bits, name)
    assert symbols.dtype == np.complex64 and symbols.shape == (4096,)
    assert np.array_equal(hard_decision(demap_maxlog(symbols, 1e-3, name)), bits)


@pytest.mark.parametrize("name", CONSTELLATIONS)
def test_constellation_has_unit_power_and_gray_labels(name):
    points, labels = constellation(name)
    assert abs(np.mean(np.abs(points) ** 2) - 1.0) < 1e-9
    assert len(set(np.round(points, 9))) == len(points)
    # Gray: every point's nearest neighbours differ from it in exactly one bit.
    distance = np.abs(points[:, None] - points[None, :])
    np.fill_diagonal(distance, np.inf)
    nearest = np.isclose(distance, distance.min(axis=1, keepdims=True))
    hamming = (labels[:, None, :] != labels[None, :, :]).sum(axis=2)
    assert np.all(hamming[nearest] == 1)


@pytest.mark.parametrize("name", CONSTELLATIONS)
def test_llr_sign_matches_hard_decision_and_magnitude_grows_with_snr(name):
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2, BITS_PER_SYMBOL[name] * 2000).astype(np.uint8)
    symbols = map_bits(bits, name)
    noise = (rng.normal(size=symbols.size) + 1j * rng.normal(size=symbols.size)) / np.sqrt(2)
    points, labels = constellation(name)
    magnitudes = []
    for snr_db in (0.0, 10.0, 20.0):
        noise_var = 10 ** (-snr_db / 10)
        received = symbols + np.sqrt(noise_var) * noise
        llr = demap_maxlog(received, noise_var, name)
        nearest = np.argmin(np.abs(received[:, None] - points[None, :]), axis=1)
        assert np.array_equal(hard_decision(llr), labels[nearest].reshape(-1))
        magnitudes.append(np.mean(np.abs(llr)))
    assert magnitudes[0] < magnitudes[1] < magnitudes[2]


@pytest.mark.parametrize("mcs", MCS_NAMES)
@pytest.mark.parametrize("size", [28, 79, 333])
def test_every_mcs_decodes_a_noiseless_codeword_exactly(mcs, size):
    data = bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8))
    coded = encode_payload(data, get_mcs(mcs))
    assert coded.shape == (coded_length(size, get_mcs(mcs)),)
    result = decode_payload(8.0 * (1 - 2 * coded.astype(np.float32)), size, get_mcs(mcs))
    assert result.data == data and result.fec_ok
    assert result.bit_llr.shape == (8 * size,)
    assert np.array_equal(result.bit_llr < 0, np.unpackbits(np.frombuffer(data, np.uint8)) == 1)


@pytest.mark.parametrize("mcs", [m for m in MCS_NAMES if MCS_BY_NAME[m].code == "ldpc"])
def test_ldpc_mcs_recovers_erased_bits(mcs):
    # A rate-R code sends n bits for k = R*n; erase a fraction well inside
    # its redundancy (1 - R) and every bit must come back.
    code = get_mcs(mcs)
    data = bytes(np.random.default_rng(3).integers(0, 256, 200, dtype=np.uint8))
    llr = 6.0 * (1 - 2 * encode_payload(data, code).astype(np.float32))
    erased = np.random.default_rng(4).choice(llr.size, int(llr.size * (1 - code.rate) * 0.3), replace=False)
    llr[erased] = 0.0
    result = decode_payload(llr, len(data), code)
    assert result.data == data and result.fec_ok


def test_ldpc_corrects_flipped_bits_and_reports_failure_when_it_cannot():
    code = get_mcs("qpsk-1/2")
    data = bytes(range(100))
    llr = 4.0 * (1 - 2 * encode_payload(data, code).astype(np.float32))
    flipped = llr.copy()
    flipped[np.random.default_rng(5).choice(llr.size, 40, replace=False)] *= -1  # 2.5% wrong
    assert decode_payload(flipped, len(data), code).data == data
    garbage = np.random.default_rng(6).normal(0, 1, llr.size).astype(np.float32)
    assert not decode_payload(garbage, len(data), code).fec_ok


def test_ldpc_prior_on_known_bits_rescues_a_failed_decode():
    code = get_mcs("qpsk-1/2")
    data = bytes(np.random.default_rng(7).integers(0, 256, 120, dtype=np.uint8))
    coded = encode_payload(data, code)
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    # Find a draw the decoder alone cannot decode (-2.5 dB BPSK is far below threshold).
    failed = None
    for seed in range(20):
        llr = bpsk_awgn_llrs(coded, -2.5, np.random.default_rng(seed))
        alone = decode_payload(llr, len(data), code)
        if not alone.fec_ok:
            failed = llr
            break
    assert failed is not None
    assert np.array_equal(alone.channel_llr, failed)
    # A zero prior changes nothing.
    unchanged = decode_payload(failed, len(data), code, prior_llr=np.zeros(bits.size, np.float32))
    assert unchanged.data == alone.data and not unchanged.fec_ok
    # Knowing 60 % of the payload bits (spread over every codeword of the
    # packet) leaves the decoder an easy code for the rest.
    prior = np.zeros(bits.size, np.float32)
    known = np.random.default_rng(1).choice(bits.size, int(0.6 * bits.size), replace=False)
    prior[known] = 20.0 * (1 - 2 * bits[known].astype(np.float32))
    helped = decode_payload(failed, len(data), code, prior_llr=prior)
    assert helped.fec_ok and helped.data == data


def test_ldpc_skips_bp_only_for_words_whose_hard_decisions_are_a_codeword():
    from tokencom_sdr.phy.ldpc_code import gnuradio_code
    code = gnuradio_code("n_1800_k_0902_gap_28.alist")
    rng = np.random.default_rng(8)
    info = rng.integers(0, 2, (3, code.k)).astype(np.uint8)
    llr = (rng.uniform(1.0, 5.0, (3, code.n)) * (1.0 - 2.0 * code.encode(info))).astype(np.float32)
    parity = np.setdiff1d(np.arange(code.n), code.info_positions)
    llr[:, parity[:100]] = 0.0  # punctured: erasures may take any value
    llr[1, parity[200]] *= -1   # one wrong hard decision: BP must run and fix it
    result = code.decode(llr)
    assert np.array_equal(result.info_bits, info) and result.converged.all()
    assert list(result.iterations == 0) == [True, False, True]
    # A word that passed the check keeps its channel LLRs as posteriors.
    assert np.allclose(result.info_llr[0], llr[0, code.info_positions])


def test_ldpc_check_before_bp_includes_the_prior():
    # A wrong hard decision on an information bit that the prior overrules:
    # channel + prior is a codeword, so no BP, and the LLRs include the prior.
    from tokencom_sdr.phy.payload_code import _interleaver
    code = get_mcs("qpsk-1/2")
    data = bytes(np.random.default_rng(9).integers(0, 256, 100, dtype=np.uint8))
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    llr = 4.0 * (1 - 2 * encode_payload(data, code).astype(np.float32))
    # One codeword: payload bit 5 is the 6th bit sent, before interleaving.
    position = int(np.flatnonzero(_interleaver(llr.size) == 5)[0])
    llr[position] *= -1
    prior = np.zeros(bits.size, np.float32)
    prior[5] = 10.0 * (1 - 2 * float(bits[5]))
    result = decode_payload(llr, len(data), code, prior_llr=prior)
    assert result.fec_ok and result.data == data
    # The channel LLR (4, wrong way) plus the prior (10, right way), as
    # given: BP would have changed it.
    assert result.bit_llr[5] == pytest.approx(6.0 * (1 - 2 * float(bits[5])))


def test_prior_of_the_wrong_shape_is_refused():
    code = get_mcs("qpsk-1/2")
    coded = encode_payload(bytes(10), code)
    with pytest.raises(ValueError, match="prior_llr"):
        decode_payload(4.0 * (1 - 2 * coded.astype(np.float32)), 10, code,
                       prior_llr=np.zeros(79, np.float32))


def test_convolutional_reference_corrects_two_isolated_errors():
    code = get_mcs("tokcom-16qam-cc")
    data = bytes(range(40))
    coded = encode_payload(data, code)
    llr = 4.0 * (1 - 2 * coded.astype(np.float32))
    llr[[30, 200]] *= -1  # free distance 5: two separated errors are correctable
    assert decode_payload(llr, len(data), code).data == data


@pytest.mark.parametrize("mcs", MCS_NAMES)
def test_header_round_trips_for_every_mcs(mcs):
    header = PhyHeader(payload_bytes=1234, mcs_index=get_mcs(mcs).index, packet_number=200)
    bits = encode_header(header)
    assert bits.shape == (96,)
    assert decode_header(5.0 * (1 - 2 * bits.astype(np.float32))) == header


def test_header_survives_noise_and_rejects_noise_only():
    rng = np.random.default_rng(7)
    header = PhyHeader(77, 5, 3)
    bits = encode_header(header)  # sent at Es/N0 = 2 dB, well below any payload MCS
    decoded = sum(decode_header(bpsk_awgn_llrs(bits, 2.0, rng)) == header for _ in range(100))
    assert decoded >= 98
    assert all(decode_header(rng.normal(0, 3, 96)) is None for _ in range(1000))


def _header_llrs(info_bits) -> np.ndarray:
    """Confident LLRs of the 96 bits that would be sent for these 42
    information bits, whatever they say: a valid LDPC codeword, so the decoder
    converges and only the CRC and field checks stand between it and a wrong
    header. (Reaches past ``encode_header``, which cannot send a bad header,
    to the module's puncturing and scrambler.)"""
    info = np.asarray(info_bits, dtype=np.uint8)
    codeword = header_code().encode(info[None, :])[0]
    sent = codeword[phy_header._sent_positions()] ^ phy_header._pn()
    return 8.0 * (1 - 2 * sent.astype(np.float32))


def _header_info_bits(payload_bytes, mcs_index, packet_number, reserved=0, crc_error=0):
    """The 42 header bits (fields MSB first, then the CRC-16 XOR ``crc_error``)."""
    fields = [(payload_bytes, 12), (mcs_index, 4), (packet_number, 8), (reserved, 2)]
    bits = np.array([(value >> shift) & 1 for value, width in fields
                     for shift in range(width - 1, -1, -1)], dtype=np.uint8)
    crc = crc16_ccitt(bits) ^ crc_error
    return np.concatenate([bits, [(crc >> shift) & 1 for shift in range(15, -1, -1)]])


def test_header_llr_builder_matches_the_encoder():
    """The hand-built codeword of a valid header is what encode_header sends,
    so the rejections below are of a well-formed codeword, not of a typo."""
    header = PhyHeader(1234, 7, 200)
    llr = _header_llrs(_header_info_bits(1234, 7, 200))
    assert np.array_equal(llr < 0, encode_header(header) == 1)
    assert decode_header(llr) == header


@pytest.mark.parametrize("crc_bit", range(16))
def test_header_with_a_valid_codeword_but_a_wrong_crc_is_rejected(crc_bit):
    """One wrong CRC-16 bit, everything else a perfect codeword: rejected.
    (Removing the CRC comparison in decode_header makes this fail.)"""
    llr = _header_llrs(_header_info_bits(100, 3, 9, crc_error=1 << crc_bit))
    assert decode_header(llr) is None


def _unconverged_header_llrs(info_bits, flips=20, seed=0) -> np.ndarray:
    """LLRs on which the header's LDPC decoding does not converge, yet its
    information bits come out right: confident (50) information bits, and
    ``flips`` of the 54 parity bits sent wrong at the usual confidence (8)."""
    llr = _header_llrs(info_bits)
    is_info = np.isin(phy_header._sent_positions(), header_code().info_positions)
    llr = np.where(is_info, 50.0, 8.0).astype(np.float32) * np.sign(llr)
    wrong = np.random.default_rng(seed).choice(np.flatnonzero(~is_info), flips, replace=False)
    llr[wrong] *= -1
    return llr


def test_header_whose_decoding_does_not_converge_is_rejected_despite_a_good_crc():
    info = _header_info_bits(100, 3, 9)
    llr = _unconverged_header_llrs(info)
    code = header_code()
    channel = np.zeros((1, code.n), dtype=np.float32)
    channel[:, phy_header._sent_positions()] = llr * phy_header._pn_sign()
    result = code.decode(channel)
    # The premise: the decoder gives up, with the information bits right.
    assert not result.converged[0] and np.array_equal(result.info_bits[0], info)
    assert decode_header(llr) is None


def test_headers_decode_as_a_batch_row_by_row():
    rng = np.random.default_rng(3)
    rows = np.stack([_header_llrs(_header_info_bits(1234, 7, 200)), rng.normal(0, 3, 96),
                     _unconverged_header_llrs(_header_info_bits(100, 3, 9)),
                     _header_llrs(_header_info_bits(60, 2, 1, crc_error=4)),
                     _header_llrs(_header_info_bits(17, 1, 255))])
    assert decode_headers(rows) == [PhyHeader(1234, 7, 200), None, None, None, PhyHeader(17, 1, 255)]
    assert decode_headers(rows) == [decode_header(row) for row in rows]
    assert decode_headers(rows[:0]) == []


@pytest.mark.parametrize("shape", [(96,), (2, 95), (1, 97), (2, 48, 2)])
def test_headers_of_the_wrong_shape_are_a_clear_error(shape):
    with pytest.raises(ValueError, match=rf"^headers need 96 LLRs per row, got shape \({shape[0]},"):
        decode_headers(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("reserved", [1, 2, 3])
def test_header_with_reserved_bits_set_is_rejected_despite_a_good_crc(reserved):
    assert decode_header(_header_llrs(_header_info_bits(100, 3, 9, reserved=reserved))) is None


@pytest.mark.parametrize("payload_bytes", [0, MAX_PAYLOAD_BYTES + 1, 4095])
def test_header_with_an_out_of_range_length_is_rejected_despite_a_good_crc(payload_bytes):
    assert decode_header(_header_llrs(_header_info_bits(payload_bytes, 3, 9))) is None


def test_header_crc16_is_ccitt_false():
    """Against Python's own CRC-CCITT (binascii.crc_hqx, here with init
    0xFFFF: CRC-16/CCITT-FALSE), including its published check value: the
    encoder and the decoder share crc16_ccitt, so a round trip alone cannot
    see it change."""
    def bits(data: bytes) -> np.ndarray:
        return np.unpackbits(np.frombuffer(data, np.uint8))

    assert crc16_ccitt(bits(b"123456789")) == 0x29B1
    assert crc16_ccitt(bits(b"")) == 0xFFFF
    rng = np.random.default_rng(16)
    for size in (1, 2, 3, 7, 32):
        data = rng.bytes(size)
        assert crc16_ccitt(bits(data)) == binascii.crc_hqx(data, 0xFFFF)


def test_header_fields_accept_exactly_their_documented_ranges():
    for payload_bytes, mcs_index, packet_number in [(1, 0, 0), (MAX_PAYLOAD_BYTES, 15, 255)]:
        header = PhyHeader(payload_bytes, mcs_index, packet_number)
        assert decode_header(5.0 * (1 - 2 * encode_header(header).astype(np.float32))) == header
    for fields, word in [((0, 0, 0), "payload"), ((MAX_PAYLOAD_BYTES + 1, 0, 0), "payload"),
                         ((10, 16, 0), "MCS index"), ((10, -1, 0), "MCS index"),
                         ((10, 0, 256), "packet number"), ((10, 0, -1), "packet number")]:
        with pytest.raises(ValueError, match=word):
            PhyHeader(*fields)
    with pytest.raises(ValueError, match="96 LLRs, got 95"):
        decode_header(np.zeros(95, np.float32))
    # Any shape of 96 LLRs is read in C order (as the burst decoder's (2, 48) symbols).
    header = PhyHeader(700, 2, 17)
    llr = 5.0 * (1 - 2 * encode_header(header).astype(np.float32))
    assert decode_header(llr.reshape(2, 48)) == header


def test_header_too_corrupted_to_decode_is_rejected():
    bits = encode_header(PhyHeader(10, 3, 0))
    llr = 8.0 * (1 - 2 * bits.astype(np.float32))
    llr[:40] *= -1  # 40 confident errors in 96 bits: beyond what the code corrects
    assert decode_header(llr) is None


def test_unknown_mcs_and_bad_header_fields_are_clear_errors():
    with pytest.raises(ValueError, match="unknown MCS"):
        get_mcs("256qam-7/8")
    with pytest.raises(ValueError, match="payload"):
        PhyHeader(0, 3, 0)
    with pytest.raises(ValueError, match="MCS index"):
        PhyHeader(10, 16, 0)


@pytest.mark.timeout(60)
def test_concurrent_ldpc_decodes_give_the_single_threaded_answer():
    """The receiver decodes bursts in GNU Radio's thread while it re-decodes
    failed codewords in another, through one shared (cached) code object:
    each decode must still see only its own codeword."""
    import threading

    mcs = get_mcs("qpsk-1/2")
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(2):  # noisy enough that belief propagation runs
        data = rng.bytes(200)
        coded = encode_payload(data, mcs)
        llr = ((1 - 2.0 * coded) * 2.0 + rng.normal(size=coded.size) * 1.3).astype(np.float32)
        cases.append((llr, decode_payload(llr, len(data), mcs)))
    wrong = []

    def decode_repeatedly(llr, expected):
        for _ in range(40):
            got = decode_payload(llr, len(expected.data), mcs)
            if got.data != expected.data or not np.array_equal(got.bit_llr, expected.bit_llr):
                wrong.append(got)

    threads = [threading.Thread(target=decode_repeatedly, args=case) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
