"""scripts/gpu_pack.py: what travels to a GPU machine for scripts/gpu_train.sh."""

import importlib.util
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tokencom_sdr.data.image_data import read_image_file

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_pack.py"


@pytest.fixture
def gpu_pack():
    spec = importlib.util.spec_from_file_location("gpu_pack", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A corpus and modern-English cache with one document each."""
    root = tmp_path / "cache"
    text = root / "corpus" / "text"
    text.mkdir(parents=True)
    (text / "doc.txt").write_text("To be, or not to be.\n", encoding="utf-8")
    (text / "MANIFEST.txt").write_text("# tokencom_sdr corpus extraction v1\ndoc.txt\n",
                                       encoding="utf-8")
    modern = root / "data" / "modern-english"
    (modern / "fortunes").mkdir(parents=True)
    (modern / "fortunes" / "blocks.txt").write_text("A modern sentence.\n", encoding="utf-8")
    (modern / "manifest.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("TOKENCOM_CACHE", str(root))
    return root


@pytest.mark.timeout(60)
def test_pack_holds_the_text_cache_and_the_training_pixels_exactly(gpu_pack, cache, tmp_path,
                                                                     monkeypatch):
    rng = np.random.default_rng(0)
    bundled = {"noise": rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)}
    photo = rng.integers(0, 256, (30, 64, 3), dtype=np.uint8)
    monkeypatch.setattr(gpu_pack, "load_images", lambda names, skip_missing: bundled)
    sides = []
    monkeypatch.setattr(gpu_pack, "train_photos", lambda side: sides.append(side) or [photo])
    out = tmp_path / "pack"
    assert gpu_pack.main(["--out", str(out), "--photo-side", "512"]) == 0
    assert sides == [512]
    with tarfile.open(out / "cache.tar.xz") as tar:
        names = set(tar.getnames())
        assert {"corpus/text/doc.txt", "corpus/text/MANIFEST.txt",
                "data/modern-english/manifest.json",
                "data/modern-english/fortunes/blocks.txt", "digits/digits.npz"} <= names
        assert tar.extractfile("corpus/text/doc.txt").read() == b"To be, or not to be.\n"
        # The labelled digits, for the caption model on a machine without
        # scikit-learn: all 1,797 of them, grey levels 0..16.
        with np.load(tar.extractfile("digits/digits.npz")) as digits:
            assert digits["images"].shape == (1797, 8, 8)
            assert digits["target"].shape == (1797,)
            assert digits["images"].max() == 16
    images = sorted((out / "images").iterdir())
    assert [p.name for p in images] == ["bundled-noise.webp", "photo-000.webp"]
    # Lossless: training there sees the very pixels training here would.
    np.testing.assert_array_equal(read_image_file(images[0]), bundled["noise"])
    np.testing.assert_array_equal(read_image_file(images[1]), photo)
    # Packing again replaces the images instead of piling them up.
    monkeypatch.setattr(gpu_pack, "train_photos", lambda side: [])
    assert gpu_pack.main(["--out", str(out)]) == 0
    assert [p.name for p in sorted((out / "images").iterdir())] == ["bundled-noise.webp"]


def test_pack_without_the_modern_english_data_set_says_how_to_fetch_it(gpu_pack, cache,
                                                                       tmp_path):
    (cache / "data" / "modern-english" / "manifest.json").unlink()
    with pytest.raises(SystemExit, match="tokencom data fetch"):
        gpu_pack.main(["--out", str(tmp_path / "pack")])
