"""The labelled images behind cross-modal context (scikit-learn's digits)."""

import numpy as np
import pytest

from tokencom_sdr.data.labelled_images import DIGIT_WORDS, IMAGE_SIDE, digit_images


def test_splits_are_fixed_disjoint_and_captioned_by_class():
    train, heldout = digit_images("train"), digit_images("heldout")
    assert (len(train), len(heldout)) == (1258, 539)
    assert not {i.index for i in train} & {i.index for i in heldout}
    assert max(i.index for i in train) < min(i.index for i in heldout)
    for item in train[:50] + heldout[:50]:
        assert item.image.shape == (IMAGE_SIDE, IMAGE_SIDE, 3) and item.image.dtype == np.uint8
        assert item.caption == DIGIT_WORDS[item.label]
        # Grey: the three channels are equal.
        assert np.array_equal(item.image[..., 0], item.image[..., 2])
    # Every class is on both sides.
    assert {i.label for i in heldout} == set(range(10)) == {i.label for i in train}


def test_scaling_keeps_the_digit():
    from sklearn.datasets import load_digits

    item = digit_images("heldout")[0]
    small = load_digits().images[item.index]
    # Block means of the 32x32 image follow the 8x8 original (0..16 levels).
    blocks = item.image[..., 0].reshape(8, 4, 8, 4).mean(axis=(1, 3)) / 255 * 16
    assert np.corrcoef(blocks.ravel(), small.ravel())[0, 1] > 0.95


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split must be"):
        digit_images("test")


def _without_sklearn(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError(f"no module named {name!r} (refused by the test)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)


def test_a_machine_without_sklearn_reads_the_packed_arrays(tmp_path, monkeypatch):
    from tokencom_sdr.data.labelled_images import digits_cache_path, save_digits_arrays

    monkeypatch.setenv("TOKENCOM_CACHE", str(tmp_path))
    expected = digit_images("heldout")
    save_digits_arrays(digits_cache_path())
    _without_sklearn(monkeypatch)
    got = digit_images("heldout")
    assert [i.index for i in got] == [i.index for i in expected]
    assert [i.caption for i in got] == [i.caption for i in expected]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(got, expected))


def test_without_sklearn_or_the_packed_arrays_the_error_says_what_is_missing(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("TOKENCOM_CACHE", str(tmp_path))
    _without_sklearn(monkeypatch)
    with pytest.raises(RuntimeError, match="scikit-learn, or .*digits.npz"):
        digit_images("train")
