"""The MiniLM sentence encoder pinned to stored reference embeddings.

``tests/metrics/minilm_reference.npz`` holds all-MiniLM-L6-v2 embeddings of
nine texts (short, empty, non-ASCII, and one longer than the 256-token
window) computed once by sentence-transformers 5.7.0 with transformers
4.57.6, from the same packaged weights (``scripts/make_minilm_reference.py``
says how). Our own torch encoder must reproduce them to float32 rounding:
a wrong GELU, pooling, attention mask, LayerNorm or truncation moves them by
far more.
"""

from pathlib import Path

import numpy as np
import pytest

from tokencom_sdr.metrics.semantic import MiniLMEncoder

pytestmark = pytest.mark.timeout(120)
REFERENCE = Path(__file__).parent / "minilm_reference.npz"


@pytest.fixture(scope="module")
def reference():
    stored = np.load(REFERENCE)
    return [str(t) for t in stored["texts"]], stored["embeddings"]


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder()


def test_embeddings_match_sentence_transformers(encoder, reference):
    texts, expected = reference
    got = encoder.encode(texts)  # one padded batch of unequal lengths
    assert got.shape == expected.shape == (len(texts), 384)
    assert np.abs(got - expected).max() < 1e-5


def test_embeddings_do_not_depend_on_batching(encoder, reference):
    texts, expected = reference
    one_by_one = np.concatenate([encoder.encode([text]) for text in texts])
    assert np.abs(one_by_one - expected).max() < 1e-5


def test_similarities_are_the_reference_cosines(encoder, reference):
    texts, expected = reference
    cosines = encoder.similarities(texts[:4], texts[4:8])
    assert np.allclose(cosines, np.sum(expected[:4] * expected[4:8], axis=1), atol=1e-5)
    # Related sentences score well above unrelated ones (cat/dog on a mat or
    # carpet 0.36, cat against quantum error correction 0.02).
    assert encoder.similarity(texts[2], texts[3]) > 0.3
    assert encoder.similarity(texts[2], texts[4]) < 0.1
