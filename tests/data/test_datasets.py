"""`tokencom data fetch` on small local packages: markup stripping, the split,
the manifest, idempotence. No network: the packages are built here with
dpkg-deb and handed over by a local downloader in place of apt-get."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tokencom_sdr.data.datasets import (PHOTO_DATASET, TEXT_DATASET, DatasetUnavailableError,
                                        fetch_datasets, load_text_dataset, photo_paths,
                                        read_manifest)
from tokencom_sdr.data.debian_packages import package_licences
from tokencom_sdr.data.debian_sources import ROLE_HELDOUT, ROLE_SPLIT, DebianSource
from tokencom_sdr.data.markup import fortune_texts, html_to_text

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb not found")

PAGE = """<html><head><title>Ignored title</title><script>var x = "no";</script></head>
<body><div class="navheader">Prev Up Next navigation bar</div>
<h1>Chapter 1. Getting started with tools<a class="headerlink" href="#c">&#182;</a></h1>
<p>The first paragraph &amp; its entity, spread
   over two lines.
<p>An unclosed paragraph that the next block ends.
<pre>$ apt-get install code --that should vanish</pre>
<ul><li>A list item with several words<li>Two</ul>
<div class="toc">Table of contents is not prose at all</div>
<p>Final words of the page here.</p></body></html>"""


def test_html_to_text_keeps_prose_one_paragraph_per_line():
    text = html_to_text(PAGE)
    assert text.splitlines() == [
        "Chapter 1. Getting started with tools",
        "The first paragraph & its entity, spread over two lines.",
        "An unclosed paragraph that the next block ends.",
        "A list item with several words",
        "Final words of the page here.",
    ]
    assert text.endswith("\n")
    assert html_to_text("<pre>only code here at all</pre>") == ""


def test_fortune_texts_split_on_percent_lines():
    raw = "First fortune, with\n  two lines.\n%\nok\n%\n\tThird one -- a quote  \n%\n"
    assert fortune_texts(raw) == ["First fortune, with\n  two lines.\n",
                                  "\tThird one -- a quote\n"]
    assert fortune_texts(raw, min_words=None)[1] == "ok\n"


def _build_deb(tmp_path: Path, package: str, version: str, files: dict, copyright: str) -> Path:
    root = tmp_path / f"{package}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Test <test@example.org>\nDescription: test fixture\n")
    doc = root / "usr" / "share" / "doc" / package
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(copyright)
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    deb = tmp_path / "built" / f"{package}_{version}_all.deb"
    deb.parent.mkdir(exist_ok=True)
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def _jpeg(seed: int, size=(40, 30)) -> bytes:
    import io

    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


DEP5 = ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: someone\nLicense: CC-BY-4.0\n\n"
        "Files: b*\nCopyright: other\nLicense: GPL-2+\n\nFiles: c*\nCopyright: x\n"
        "License: CC-BY-4.0\n")


@pytest.fixture()
def packages(tmp_path):
    """Three local packages (HTML prose, fortunes, photos) and a downloader
    that copies them like apt-get download, counting its calls."""
    sentences = [f"Paragraph {i} tells the reader about topic {i % 7} in plain words."
                 for i in range(3000)]
    pages = {f"usr/share/doc/prose/html/page{k}.html":
             "<html><body>" + "".join(f"<p>{s}</p>" for s in sentences[k::4]) + "</body></html>"
             for k in range(4)}
    pages["usr/share/doc/prose/html/genindex.html"] = "<p>index entries should be excluded</p>"
    debs = {
        "prose-doc": _build_deb(tmp_path, "prose-doc", "1.2-3", pages, DEP5),
        "fortune-pkg": _build_deb(tmp_path, "fortune-pkg", "1:2.0", {
            "usr/share/games/fortunes/wisdom": "A fortune of several words.\n%\nAnother one, "
                                               "also long enough.\n%\n",
            "usr/share/games/fortunes/wisdom.dat": "binary index"}, "Free-form text\nBSD\n"),
        "photo-pkg": _build_deb(tmp_path, "photo-pkg", "5.0",
                                {f"usr/share/backgrounds/p{i}.jpg": _jpeg(i) for i in range(6)},
                                DEP5),
    }
    calls = []

    def downloader(package, download_dir):
        calls.append(package)
        download_dir.mkdir(parents=True, exist_ok=True)
        target = download_dir / debs[package].name
        if not target.exists():
            shutil.copyfile(debs[package], target)
        return target

    sources = {
        TEXT_DATASET: (
            DebianSource("prose", "prose-doc", "html", ("usr/share/doc/prose/html/*.html",),
                         exclude=("usr/share/doc/prose/html/genindex.html",)),
            DebianSource("sayings", "fortune-pkg", "fortune", ("usr/share/games/fortunes/*",),
                         exclude=("usr/share/games/fortunes/*.dat",), role=ROLE_HELDOUT,
                         licence_note="BSD"),
        ),
        PHOTO_DATASET: (
            DebianSource("pics", "photo-pkg", "photo", ("usr/share/backgrounds/p[0-4].jpg",)),
            DebianSource("pics-out", "photo-pkg", "photo", ("usr/share/backgrounds/p5.jpg",),
                         role=ROLE_HELDOUT),
        ),
    }
    return sources, downloader, calls, sentences


@needs_dpkg
def test_fetch_builds_split_and_manifest(tmp_path, packages):
    sources, downloader, calls, sentences = packages
    data_dir = tmp_path / "data"
    manifests = fetch_datasets(data_dir, sources=sources, downloader=downloader, progress=False)
    assert set(manifests) == {TEXT_DATASET, PHOTO_DATASET}

    text = read_manifest(TEXT_DATASET, data_dir)
    assert text["heldout_sources"] == ["sayings"] and text["train_sources"] == ["prose"]
    prose, sayings = text["sources"]
    assert (prose["package"], prose["version"]) == ("prose-doc", "1.2-3")
    assert prose["licences"] == ["CC-BY-4.0", "GPL-2+"]  # most used first
    assert sayings["licences"] == ["free-form"] and sayings["licence_note"] == "BSD"
    assert (data_dir / TEXT_DATASET / "sayings" / "copyright").read_text().startswith("Free-form")
    assert [f["path"] for f in prose["files"]] == [
        f"usr/share/doc/prose/html/page{k}.html" for k in range(4)]  # genindex excluded
    assert all(f["bytes"] > f["text_bytes"] > 0 for f in prose["files"])
    assert [f["path"] for f in sayings["files"]] == ["usr/share/games/fortunes/wisdom"]

    # Every paragraph lands on exactly one side; nothing is lost or doubled.
    train = load_text_dataset("train", data_dir)
    heldout = load_text_dataset("heldout", data_dir)
    prose_lines = train["prose"].splitlines() + heldout["prose"].splitlines()
    assert sorted(prose_lines) == sorted(sentences)
    assert heldout["prose"] and train["prose"]  # 5 % of ~50 blocks: both sides used
    for side in ("train", "heldout"):
        assert prose["split"][side]["bytes"] == len(
            (train if side == "train" else heldout)["prose"].encode("utf-8"))
    # The source held out completely has nothing on the train side.
    assert train["sayings"] == "" and sayings["split"]["train"]["blocks"] == 0
    assert heldout["sayings"] == "A fortune of several words.\nAnother one, also long enough.\n"
    assert set(load_text_dataset("heldout", data_dir, role=ROLE_HELDOUT)) == {"sayings"}

    photos = read_manifest(PHOTO_DATASET, data_dir)
    pics, pics_out = photos["sources"]
    assert pics["split"] == {"train": 4, "heldout": 1}
    assert pics_out["split"] == {"train": 0, "heldout": 1}
    assert all(f["width"] == 40 and f["height"] == 30 for f in pics["files"])
    train_photos = photo_paths("train", data_dir)
    assert len(train_photos["pics"]) == 4 and train_photos["pics-out"] == []
    assert all(p.exists() for p in train_photos["pics"])
    assert set(photo_paths("heldout", data_dir, role=ROLE_SPLIT)) == {"pics"}


@needs_dpkg
def test_fetch_is_idempotent_and_force_rebuilds(tmp_path, packages):
    sources, downloader, calls, _ = packages
    data_dir = tmp_path / "data"
    fetch_datasets(data_dir, sources=sources, downloader=downloader, progress=False)
    train_file = data_dir / TEXT_DATASET / "prose" / "train.txt"
    first = (train_file.stat().st_mtime_ns, json.loads(
        (data_dir / TEXT_DATASET / "manifest.json").read_text()))
    debs = sorted((data_dir / "debs").iterdir())
    fetch_datasets(data_dir, sources=sources, downloader=downloader, progress=False)
    assert train_file.stat().st_mtime_ns == first[0]  # not rebuilt
    assert json.loads((data_dir / TEXT_DATASET / "manifest.json").read_text()) == first[1]
    assert sorted((data_dir / "debs").iterdir()) == debs
    fetch_datasets(data_dir, [TEXT_DATASET], sources=sources, downloader=downloader,
                   progress=False, force=True)
    assert train_file.stat().st_mtime_ns != first[0]


@needs_dpkg
def test_interrupted_build_is_redone(tmp_path, packages):
    sources, downloader, _, _ = packages
    data_dir = tmp_path / "data"
    fetch_datasets(data_dir, [TEXT_DATASET], sources=sources, downloader=downloader,
                   progress=False)
    # A build cut short leaves its files but no stamp.
    (data_dir / TEXT_DATASET / "prose" / ".source.json").unlink()
    (data_dir / TEXT_DATASET / "prose" / "train.txt").write_text("half written")
    fetch_datasets(data_dir, [TEXT_DATASET], sources=sources, downloader=downloader,
                   progress=False)
    assert "half written" not in load_text_dataset("train", data_dir)["prose"]


def test_licences_of_free_form_and_missing_copyright(tmp_path):
    doc = tmp_path / "usr" / "share" / "doc" / "pkg"
    doc.mkdir(parents=True)
    assert package_licences(tmp_path, "other") == ["unknown: no copyright file"]
    (doc / "copyright").write_text("This package was debianized by someone.\nLicense: text\n")
    assert package_licences(tmp_path, "pkg") == ["free-form"]
    (doc / "copyright").write_text(DEP5)
    assert package_licences(tmp_path, "pkg") == ["CC-BY-4.0", "GPL-2+"]


@needs_dpkg
def test_train_photos_are_the_train_split_shrunk_to_the_side(tmp_path, packages):
    """What ``tokencom train image-context --photos SIDE`` adds: the train side
    of every photo source, never a held-out photo, shrunk to SIDE pixels."""
    from tokencom_sdr.data.image_data import read_image_file, shrink_to_side
    from tokencom_sdr.training.image_context import train_photos

    sources, downloader, _, _ = packages
    data_dir = tmp_path / "data"
    fetch_datasets(data_dir, sources=sources, downloader=downloader, progress=False)
    photos = train_photos(20, data_dir)
    train_files = photo_paths("train", data_dir)["pics"]
    assert len(photos) == len(train_files) == 4  # pics' 4 train photos; pics-out has none
    for photo, path in zip(photos, train_files):
        assert photo.shape == (15, 20, 3) and photo.dtype == np.uint8  # 40x30 -> 20x15
        assert np.array_equal(photo, shrink_to_side(read_image_file(path), 20))
    with pytest.raises(DatasetUnavailableError, match="tokencom data fetch"):
        train_photos(20, tmp_path / "nothing")


def test_missing_dataset_says_how_to_fetch(tmp_path):
    with pytest.raises(RuntimeError, match="tokencom data fetch"):
        read_manifest(TEXT_DATASET, tmp_path)


@needs_dpkg
def test_training_text_adds_only_train_sides_of_split_sources(tmp_path, packages, monkeypatch):
    from tokencom_sdr.data import training_text
    from tokencom_sdr.data.corpus import split_corpus

    sources, downloader, _, _ = packages
    data_dir = tmp_path / "data"
    fetch_datasets(data_dir, [TEXT_DATASET], sources=sources, downloader=downloader,
                   progress=False)
    corpus = split_corpus({"old/play": "Thou art more lovely and more temperate.\n"},
                          heldout_fraction=0.0)
    monkeypatch.setattr(training_text, "load_corpus_split", lambda: corpus)

    assert training_text.training_blocks("corpus", data_dir) == corpus.train_text
    blocks = training_text.training_blocks("corpus+modern", data_dir)
    assert blocks[0] == corpus.train_text[0]  # the corpus first
    modern = "".join(blocks[1:])
    assert modern == load_text_dataset("train", data_dir)["prose"]
    held_out = load_text_dataset("heldout", data_dir)
    assert not set(held_out["prose"].splitlines()) & set(modern.splitlines())
    assert "fortune" not in modern  # the source held out completely never trains

    capped = training_text.training_blocks("corpus+modern", data_dir, max_bytes_per_source=20000)
    capped_bytes = sum(len(b.encode("utf-8")) for b in capped[1:])
    assert 10000 < capped_bytes <= 20000
    # Drawn from the whole source, not its first pages only.
    assert set("".join(capped[1:]).splitlines()) - set(modern[:40000].splitlines())
    with pytest.raises(ValueError, match="unknown training data"):
        training_text.training_blocks("modern", data_dir)
