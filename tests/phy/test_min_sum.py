"""The compiled min-sum decoder against the ``ldpc`` package's BpDecoder.

:mod:`tokencom_sdr.phy.min_sum` replaced ``ldpc.BpDecoder`` in the receiver
for speed; it promises the same decisions, iteration counts and posteriors,
bit for bit, on every code the PHY uses.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from ldpc import BpDecoder

from tokencom_sdr.phy.ldpc_code import gnuradio_code
from tokencom_sdr.phy.min_sum import MinSumDecoder
from tokencom_sdr.phy.payload_code import LDPC_FAMILY
from tokencom_sdr.phy.phy_header import HEADER_ALIST

SCALING = 0.75


def _noisy_words(code, count, rng, erased_share=0.1):
    """LLRs of random codewords over BPSK/AWGN at 0-4 dB, with some bits
    never sent (LLR 0), as a rate-matched payload has."""
    words = code.encode(rng.integers(0, 2, (count, code.k)))
    snr = 10 ** (rng.uniform(0.0, 4.0, (count, 1)) / 10)
    llr = 2 * snr * ((1 - 2.0 * words) + rng.normal(size=words.shape) / np.sqrt(snr))
    llr[:, rng.random(code.n) < erased_share] = 0.0
    return words, llr


def _reference(H, llr, max_iterations):
    """BpDecoder word by word: (decisions, posteriors, converged, iterations)."""
    decoder = BpDecoder(sp.csr_matrix(H), error_rate=0.1, max_iter=max_iterations,
                        bp_method="minimum_sum", ms_scaling_factor=SCALING, schedule="parallel")
    out = []
    for word in llr:
        decoder.update_channel_probs((1.0 / (1.0 + np.exp(np.abs(word)))).tolist())
        decided = np.asarray(decoder.decode((word < 0).astype(np.uint8).astype(object)), dtype=np.uint8)
        out.append((decided, np.asarray(decoder.log_prob_ratios), bool(decoder.converge),
                    int(decoder.iter)))
    return out


@pytest.mark.timeout(120)
@pytest.mark.parametrize("alist", sorted({name for name, _ in LDPC_FAMILY} | {HEADER_ALIST}))
def test_decisions_iterations_and_posteriors_are_bp_decoders_bit_for_bit(alist):
    code = gnuradio_code(alist)
    rng = np.random.default_rng(sum(map(ord, alist)))
    _, llr = _noisy_words(code, 24, rng)
    llr = llr[(llr < 0).any(axis=1)]  # (BpDecoder returns an all-zero input untouched)
    ours = MinSumDecoder(code.H, 30, SCALING).decode(llr)
    reference = _reference(code.H, llr, 30)
    assert 0 < ours.converged.sum() < len(llr), "the draw should hold both outcomes"
    for i, (decided, posterior, converged, iterations) in enumerate(reference):
        assert np.array_equal(ours.decisions[i], decided), i
        assert np.array_equal(ours.flip_llr[i], posterior), i
        assert ours.converged[i] == converged and ours.iterations[i] == iterations, i


def test_each_word_of_a_batch_decodes_as_it_would_alone():
    code = gnuradio_code("n_0300_k_0152_gap_03.alist")
    _, llr = _noisy_words(code, 6, np.random.default_rng(3))
    decoder = MinSumDecoder(code.H, 20, SCALING)
    batch = decoder.decode(llr)
    for i, word in enumerate(llr):
        alone = decoder.decode(word)
        assert np.array_equal(alone.decisions[0], batch.decisions[i])
        assert np.array_equal(alone.flip_llr[0], batch.flip_llr[i])
        assert alone.iterations[0] == batch.iterations[i]


def test_a_few_wrong_bits_are_corrected_and_a_hopeless_word_stops_at_the_limit():
    code = gnuradio_code("n_1800_k_0902_gap_28.alist")
    rng = np.random.default_rng(5)
    word = code.encode(rng.integers(0, 2, (1, code.k)))[0]
    llr = np.where(word == 0, 4.0, -4.0)
    wrong = rng.choice(code.n, 12, replace=False)
    llr[wrong] = -0.5 * llr[wrong]  # confidently received, weakly wrong
    decoded = MinSumDecoder(code.H, 50, SCALING).decode(np.stack([llr, rng.normal(size=code.n)]))
    assert np.array_equal(decoded.decisions[0], word) and decoded.converged[0]
    assert 1 <= decoded.iterations[0] < 50
    assert not decoded.converged[1] and decoded.iterations[1] == 50
    # The posteriors are of "not flipped from the hard input": negative
    # exactly where the decoder flipped a bit.
    flipped = decoded.decisions[0] != (llr < 0)
    assert np.array_equal(decoded.flip_llr[0] <= 0, flipped)


def test_bad_input_is_a_clear_error():
    H = np.array([[1, 1, 0], [0, 1, 1]])
    with pytest.raises(ValueError, match="finite"):
        MinSumDecoder(H, 5, SCALING).decode(np.array([[1.0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="max_iterations"):
        MinSumDecoder(H, 0, SCALING)
    with pytest.raises(ValueError, match="scaling"):
        MinSumDecoder(H, 5, 0.0)
    with pytest.raises(ValueError, match="parity-check"):
        MinSumDecoder(np.zeros((2, 3)), 5, SCALING)
    with pytest.raises(ValueError):
        MinSumDecoder(H, 5, SCALING).decode(np.ones(4))  # not a multiple of n


@pytest.mark.timeout(120)
def test_the_decoder_still_compiles_where_numba_cannot_cache():
    """A read-only install run by a user without a home leaves numba no
    place for its cache, and njit(cache=True) raises: the decoder is then
    compiled in the process instead. (Run in a fresh interpreter, where
    numba refuses every cache.)"""
    import subprocess
    import sys

    script = (
        "import numba, numpy as np\n"
        "njit = numba.njit\n"
        "def refusing(*args, cache=False, **kwargs):\n"
        "    if cache:\n"
        "        raise RuntimeError('cannot cache function: no locator available')\n"
        "    return njit(*args, **kwargs)\n"
        "numba.njit = refusing\n"
        "from tokencom_sdr.phy.min_sum import MinSumDecoder\n"
        "result = MinSumDecoder(np.array([[1, 1, 0], [0, 1, 1]]), 5, 0.75).decode("
        "np.array([[1.0, -1.0, 2.0]]))\n"
        "print(result.decisions.tolist(), result.converged.tolist())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[[0, 0, 0]] [True]"
