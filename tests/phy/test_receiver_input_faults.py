"""Faults in the receiver's input stream (issue 16), through the real OFDM
receiver: non-finite samples are zeroed before synchronisation and counted
(not only on ZMQ), and a burst cut short costs that burst alone."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from tokencom_sdr.app.tx import make_messages, message_iq, text_frame
from tokencom_sdr.phy.burst_mapping import burst_length
from tokencom_sdr.phy.modem import demodulate, modulate
from tokencom_sdr.phy.non_finite_guard import NonFiniteHold, zero_non_finite
from tokencom_sdr.phy.ofdm_params import OfdmParams
from tokencom_sdr.radio.profile import load_profile
from tokencom_sdr.radio.sigmf_file import write_recording

PARAMS = OfdmParams()
PAYLOAD = 120


def _bursts(n: int, snr_db: float = 25.0, seed: int = 0) -> np.ndarray:
    """``n`` qpsk-1/2 bursts (payload byte = index) in complex noise."""
    iq = modulate([bytes([i]) * PAYLOAD for i in range(n)])
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(10 ** (-snr_db / 10) / 2)
    noise = sigma * (rng.standard_normal(len(iq)) + 1j * rng.standard_normal(len(iq)))
    return (iq + noise).astype(np.complex64)


def _good_payloads(bursts) -> list:
    return sorted(b.data[0] for b in bursts if b.fec_ok and b.data == bytes([b.data[0]]) * PAYLOAD)


def test_zero_non_finite_counts_and_keeps_the_rest():
    samples = np.array([1 + 1j, np.inf, complex(np.nan, 0), complex(2, -np.inf), 3e38 + 3e38j],
                       dtype=np.complex64)
    cleaned, zeroed = zero_non_finite(samples)
    assert zeroed == 3
    np.testing.assert_array_equal(cleaned, np.array([1 + 1j, 0, 0, 0, 3e38 + 3e38j], np.complex64))
    finite = np.ones(4, np.complex64)
    assert zero_non_finite(finite) == (finite, 0)


@pytest.mark.timeout(30)
def test_the_detector_sees_the_last_finite_sample_in_place_of_a_non_finite_one():
    """NonFiniteHold (GNU Radio C++ blocks in front of the detector): every
    NaN or Inf, in either part, becomes the last finite sample (0 at the
    start); finite samples pass unchanged, however the scheduler chunks them."""
    from gnuradio import blocks, gr

    rng = np.random.default_rng(3)
    x = (rng.standard_normal(20011) + 1j * rng.standard_normal(20011)).astype(np.complex64)
    poison = [np.inf, -np.inf, complex(np.nan, 0), complex(0, np.nan), complex(1, np.inf),
              complex(-np.inf, 2), complex(np.nan, np.nan)]
    where = np.concatenate([[0, 1], rng.choice(np.arange(2, x.size), 400, replace=False)])
    for k, i in enumerate(where):
        x[i] = poison[k % len(poison)]
    tb = gr.top_block()
    tb.source, tb.hold, tb.sink = blocks.vector_source_c(x.tolist(), False), NonFiniteHold(), blocks.vector_sink_c()
    tb.connect(tb.source, tb.hold, tb.sink)
    tb.run()
    expected, last = x.copy(), 0j
    for i, sample in enumerate(x):
        if np.isfinite(sample):
            last = sample
        else:
            expected[i] = last
    np.testing.assert_array_equal(np.array(tb.sink.data(), dtype=np.complex64), expected)


@pytest.mark.timeout(60)
def test_non_finite_samples_in_a_stream_lose_no_burst():
    """20 Inf and NaN samples scattered over 40 bursts: before the guard, the
    synchroniser's running sums went NaN and 2 to 13 bursts were lost (with
    numpy overflow warnings); now every burst arrives."""
    iq = _bursts(40)
    rng = np.random.default_rng(1)
    where = rng.choice(len(iq), 20, replace=False)
    iq[where[:10]] = np.inf
    iq[where[10:]] = complex(np.nan, 1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bursts = demodulate(iq)
    assert _good_payloads(bursts) == list(range(40))
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


@pytest.mark.timeout(120)
def test_rx_replay_counts_the_zeroed_samples(tmp_path):
    """The same through ``tokencom rx --replay``: the live line counts them."""
    text = "Twenty poisoned samples in the recording, and the message still arrives."
    profile = load_profile("zmq")
    [message] = make_messages(text_frame(text), 1, 3)
    iq, _ = message_iq(message.packets, profile)
    iq = np.concatenate([np.zeros(2000, np.complex64), iq, np.zeros(2000, np.complex64)])
    iq[np.random.default_rng(2).choice(len(iq), 20, replace=False)] = np.inf
    record = tmp_path / "poisoned.sigmf-data"
    write_recording(record, iq, sample_rate_hz=profile.sample_rate_hz,
                    center_freq_hz=profile.center_freq_hz, hardware="test", annotations=[],
                    mcs=profile.mcs, sync_threshold=profile.sync_threshold)
    result = subprocess.run([sys.executable, "-m", "tokencom_sdr.cli", "rx", "--replay",
                             str(record.with_suffix(".sigmf-meta")), "--expect", text],
                            capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "20 non-finite samples zeroed" in result.stdout
    assert "exact True" in result.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cut", [600, 1000, 2000])
def test_a_burst_cut_short_costs_that_burst_alone(cut):
    """Burst 4 loses its last ``cut`` samples (more than the 400-sample gap),
    so burst 5 starts inside the length burst 4's header claims. Before,
    burst 5 was skipped as an echo; now only burst 4 may be lost."""
    iq = _bursts(10, snr_db=20.0)
    length = burst_length(PAYLOAD, "qpsk-1/2", PARAMS)
    end = 5 * length - PARAMS.gap_len  # burst 4's last sample + 1
    cut_iq = np.concatenate([iq[:end - cut], iq[end:]])
    got = _good_payloads(demodulate(cut_iq))
    assert set(got) >= set(range(10)) - {4}, got
