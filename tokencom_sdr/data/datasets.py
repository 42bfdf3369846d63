"""The training data sets built from Debian packages: modern English and photographs.

``tokencom data fetch`` calls :func:`fetch_datasets`. For every source of
:mod:`tokencom_sdr.data.debian_sources` it downloads the ``.deb`` (once),
unpacks it into a scratch folder, takes the listed files, strips the markup
(:mod:`tokencom_sdr.data.markup`), splits, writes the result and deletes the
scratch folder. Each data set gets a ``manifest.json``: per source the
package, version, licences, files with sizes, and the split.

Layout under the data folder (:func:`resolve_data_dir`)::

    debs/                              the .deb files, as apt-get fetched them
    modern-english/<source>/train.txt  prose, one paragraph per line
    modern-english/<source>/heldout.txt
    modern-english/manifest.json
    photos/<source>/train/*.jpg        the photographs, unchanged
    photos/<source>/heldout/*.jpg
    photos/manifest.json
    <data set>/<source>/copyright      the package's copyright file

The split: text is cut into blocks of whole lines and each block goes to
held-out by a hash of its identity (:func:`tokencom_sdr.data.corpus.split_corpus`,
5 %); a photo source sends the first fifth of its photos in hash order (at
least one) to held-out. A source with role ``heldout-source`` goes to
held-out whole. Training reads only ``train`` files and never touches the
network once the folders exist.

Idempotent: a source whose output folder holds a stamp naming the same
package version and extraction rules is skipped, and a ``.deb`` already in
``debs/`` is not downloaded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

from .corpus import cache_root, file_sha256, split_corpus
from .debian_packages import (copyright_file, download_package, package_licences, package_version,
                              unpack_package)
from .debian_sources import PHOTO_SOURCES, ROLE_HELDOUT, ROLE_SPLIT, TEXT_SOURCES, DebianSource
from .markup import fortune_texts, html_to_text

__all__ = ["TEXT_DATASET", "PHOTO_DATASET", "RULES_VERSION", "DatasetUnavailableError",
           "resolve_data_dir", "fetch_datasets", "build_source", "load_text_dataset",
           "photo_paths", "read_manifest"]

TEXT_DATASET = "modern-english"
PHOTO_DATASET = "photos"
#: Bump when the extraction or split rules change: every source is rebuilt.
RULES_VERSION = 2
#: Held-out share of the text blocks of a split source.
TEXT_HELDOUT_FRACTION = 0.05
#: Held-out share of the photos of a split source (at least one photo).
PHOTO_HELDOUT_FRACTION = 0.2
_STAMP = ".source.json"

#: ``(package, download_dir) -> .deb path``; tests pass a local one.
Downloader = Callable[[str, Path], Path]


class DatasetUnavailableError(RuntimeError):
    """A data set was asked for and has not been fetched."""


def resolve_data_dir(data_dir: Union[str, os.PathLike, None] = None) -> Path:
    """Folder of the data sets: ``data_dir``, else ``$TOKENCOM_CACHE/data``,
    else ``~/.cache/tokencom_sdr/data`` (absolute, not necessarily existing)."""
    if data_dir is not None:
        return Path(data_dir).expanduser().resolve()
    return (cache_root() / "data").resolve()


def _selected_files(root: Path, source: DebianSource) -> List[Path]:
    """Regular files (no symbolic links) matching the source's patterns, sorted."""
    chosen = set()
    for pattern in source.include:
        chosen.update(p for p in root.glob(pattern) if p.is_file() and not p.is_symlink())
    for pattern in source.exclude:
        chosen.difference_update(root.glob(pattern))
    return sorted(chosen)


def _rank(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _write_text_source(source: DebianSource, files: List[Path], root: Path,
                       out_dir: Path) -> Dict[str, object]:
    documents: Dict[str, str] = {}
    listed = []
    for path in files:
        relative = path.relative_to(root).as_posix()
        raw = path.read_text(encoding="utf-8", errors="replace")
        if source.kind == "html":
            text = html_to_text(raw)
        elif source.kind == "fortune":
            text = "".join(fortune_texts(raw))
        else:
            raise ValueError(f"source {source.name}: unknown text kind {source.kind!r}")
        listed.append({"path": relative, "bytes": path.stat().st_size,
                       "text_bytes": len(text.encode("utf-8"))})
        if text:
            documents[f"{source.name}/{relative}"] = text
    fraction = 1.0 if source.role == ROLE_HELDOUT else TEXT_HELDOUT_FRACTION
    split = split_corpus(documents, heldout_fraction=fraction)
    sides = {"train": split.train_text, "heldout": split.heldout_text}
    summary = {}
    for side, blocks in sides.items():
        text = "".join(blocks)
        (out_dir / f"{side}.txt").write_text(text, encoding="utf-8", newline="\n")
        summary[side] = {"blocks": len(blocks), "bytes": len(text.encode("utf-8"))}
    return {"files": listed, "split": summary}


def _write_photo_source(source: DebianSource, files: List[Path], root: Path,
                        out_dir: Path) -> Dict[str, object]:
    from PIL import Image

    if source.role == ROLE_HELDOUT:
        heldout = set(files)
    else:
        ordered = sorted(files, key=lambda p: _rank(f"{source.name}\x00{p.name}"))
        count = max(1, round(PHOTO_HELDOUT_FRACTION * len(files))) if files else 0
        heldout = set(ordered[:count])
    listed = []
    counts = {"train": 0, "heldout": 0}
    for path in files:
        side = "heldout" if path in heldout else "train"
        # Plasma names every picture 2560x1600.jpg: name the copy after its folder.
        name = path.name if path.stem != "2560x1600" else f"{path.parents[2].name}.jpg"
        (out_dir / side).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out_dir / side / name)
        with Image.open(path) as image:
            width, height = image.size
        listed.append({"path": path.relative_to(root).as_posix(), "file": f"{side}/{name}",
                       "bytes": path.stat().st_size, "width": width, "height": height,
                       "split": side})
        counts[side] += 1
    return {"files": listed, "split": counts}


def build_source(source: DebianSource, dataset_dir: Path, download_dir: Path,
                 downloader: Downloader = download_package, force: bool = False
                 ) -> Dict[str, object]:
    """Fetch, extract and split one source; return its manifest entry.

    Skipped (the stamp's entry is returned) when the source's folder already
    holds a stamp with the same package version and :data:`RULES_VERSION`.

    Parameters
    ----------
    source : DebianSource
    dataset_dir : Path
        The data set's folder; the source writes ``dataset_dir/source.name``.
    download_dir : Path
        Cache of ``.deb`` files.
    downloader : callable
        ``(package, download_dir) -> Path`` of the ``.deb``.
    force : bool
        Rebuild even if the stamp matches.

    Returns
    -------
    dict
        ``name``, ``package``, ``version``, ``deb``, ``deb_sha256``,
        ``licences``, ``licence_note``, ``copyright`` (the copied file,
        relative to the data set), ``kind``, ``role``, ``files`` and
        ``split``.
    """
    deb = downloader(source.package, download_dir)
    version = package_version(deb)
    out_dir = dataset_dir / source.name
    stamp = out_dir / _STAMP
    if stamp.exists() and not force:
        entry = json.loads(stamp.read_text(encoding="utf-8"))
        if entry.get("version") == version and entry.get("rules_version") == RULES_VERSION:
            return entry
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix=f"tokencom-{source.name}-") as scratch:
        root = unpack_package(deb, Path(scratch) / "root")
        files = _selected_files(root, source)
        if not files:
            raise DatasetUnavailableError(
                f"{source.package} {version} has no file matching {source.include}")
        writer = _write_photo_source if source.kind == "photo" else _write_text_source
        entry = {"name": source.name, "package": source.package, "version": version,
                 "deb": deb.name, "deb_sha256": file_sha256(deb),
                 "licences": package_licences(root, source.package),
                 "licence_note": source.licence_note, "copyright": None, "kind": source.kind,
                 "role": source.role, "rules_version": RULES_VERSION}
        entry.update(writer(source, files, root, out_dir))
        # The licence text travels with the data it covers.
        if copyright_file(root, source.package).is_file():
            shutil.copyfile(copyright_file(root, source.package), out_dir / "copyright")
            entry["copyright"] = f"{source.name}/copyright"
    # Written last: a build cut short leaves no stamp and is redone next time.
    stamp.write_text(json.dumps(entry, indent=1), encoding="utf-8")
    return entry


@dataclass(frozen=True)
class _Dataset:
    name: str
    sources: Sequence[DebianSource]
    description: str


_DATASETS = {
    TEXT_DATASET: _Dataset(TEXT_DATASET, TEXT_SOURCES,
                           "modern English prose from Debian documentation packages, markup "
                           "stripped, one paragraph per line"),
    PHOTO_DATASET: _Dataset(PHOTO_DATASET, PHOTO_SOURCES,
                            "real photographs from Debian wallpaper packages, files unchanged"),
}


def fetch_datasets(data_dir: Union[str, os.PathLike, None] = None,
                   datasets: Sequence[str] = (TEXT_DATASET, PHOTO_DATASET), *,
                   sources: Optional[Dict[str, Sequence[DebianSource]]] = None,
                   downloader: Downloader = download_package, force: bool = False,
                   progress: bool = True) -> Dict[str, Path]:
    """Build the data sets; return ``{data set name: manifest path}``.

    Parameters
    ----------
    data_dir : str or path-like or None
        See :func:`resolve_data_dir`.
    datasets : sequence of str
        Names among :data:`TEXT_DATASET` and :data:`PHOTO_DATASET`.
    sources : dict, optional
        Replaces the source table of a data set (tests use small local ones).
    downloader : callable
        ``(package, download_dir) -> .deb path``; default ``apt-get download``.
    force : bool
        Rebuild sources whose stamp matches.
    progress : bool
        A tqdm bar over the sources on stderr.
    """
    root = resolve_data_dir(data_dir)
    download_dir = root / "debs"
    plan = []
    for name in datasets:
        if name not in _DATASETS:
            raise ValueError(f"unknown data set {name!r}; choose from {sorted(_DATASETS)}")
        table = (sources or {}).get(name, _DATASETS[name].sources)
        plan.extend((name, source) for source in table)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(plan), unit="source", desc="data fetch", file=sys.stderr)
    entries: Dict[str, List[dict]] = {name: [] for name in datasets}
    try:
        for name, source in plan:
            if bar is not None:
                bar.set_postfix_str(f"{name}/{source.name}")
            entries[name].append(build_source(source, root / name, download_dir,
                                              downloader=downloader, force=force))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    manifests = {}
    for name in datasets:
        manifest = {
            "dataset": name,
            "description": _DATASETS[name].description,
            "built_by": "tokencom data fetch",
            "rules_version": RULES_VERSION,
            "heldout_sources": [e["name"] for e in entries[name] if e["role"] == ROLE_HELDOUT],
            "train_sources": [e["name"] for e in entries[name] if e["role"] == ROLE_SPLIT],
            "sources": entries[name],
        }
        path = root / name / "manifest.json"
        path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        manifests[name] = path
    return manifests


def read_manifest(dataset: str, data_dir: Union[str, os.PathLike, None] = None) -> dict:
    """The manifest of a fetched data set.

    Raises
    ------
    DatasetUnavailableError
        The data set has not been fetched (run ``tokencom data fetch``).
    """
    path = resolve_data_dir(data_dir) / dataset / "manifest.json"
    if not path.exists():
        raise DatasetUnavailableError(
            f"data set {dataset!r} not found under {path.parent.parent}; run `tokencom data fetch`")
    return json.loads(path.read_text(encoding="utf-8"))


def load_text_dataset(side: str, data_dir: Union[str, os.PathLike, None] = None,
                      role: Optional[str] = None) -> Dict[str, str]:
    """``{source name: text}`` of one side (``"train"`` or ``"heldout"``) of
    the modern-English data set; ``role`` keeps only sources of that role
    (e.g. :data:`~tokencom_sdr.data.debian_sources.ROLE_HELDOUT` for the
    sources held out completely)."""
    if side not in ("train", "heldout"):
        raise ValueError(f"side must be 'train' or 'heldout', got {side!r}")
    manifest = read_manifest(TEXT_DATASET, data_dir)
    folder = resolve_data_dir(data_dir) / TEXT_DATASET
    return {entry["name"]: (folder / entry["name"] / f"{side}.txt").read_text(encoding="utf-8")
            for entry in manifest["sources"] if role is None or entry["role"] == role}


def photo_paths(side: str, data_dir: Union[str, os.PathLike, None] = None,
                role: Optional[str] = None) -> Dict[str, List[Path]]:
    """``{source name: photo files}`` of one side of the photo data set."""
    if side not in ("train", "heldout"):
        raise ValueError(f"side must be 'train' or 'heldout', got {side!r}")
    manifest = read_manifest(PHOTO_DATASET, data_dir)
    folder = resolve_data_dir(data_dir) / PHOTO_DATASET
    return {entry["name"]: [folder / entry["name"] / f["file"] for f in entry["files"]
                            if f["split"] == side]
            for entry in manifest["sources"] if role is None or entry["role"] == role}
