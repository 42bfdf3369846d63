"""Fetch a Debian binary package and unpack it, without installing anything.

``apt-get download`` puts the ``.deb`` into a cache folder (it needs only the
package lists, not root); ``dpkg-deb -x`` unpacks it into a folder of our
choice; ``dpkg-deb -f`` reads its version. Nothing is configured or
installed, and a ``.deb`` already in the cache is used without the network.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import List, Optional

__all__ = ["PackageUnavailableError", "download_package", "unpack_package", "package_version",
           "package_licences", "copyright_file"]


class PackageUnavailableError(RuntimeError):
    """A package could not be downloaded or unpacked."""


def _run(command: List[str], cwd: Optional[Path] = None, timeout: float = 900) -> str:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                                timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PackageUnavailableError(f"could not run {' '.join(command)}: {error}") from error
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise PackageUnavailableError(
            f"`{' '.join(command)}` failed (exit {result.returncode}): " + " | ".join(said))
    return result.stdout


def _cached_deb(package: str, download_dir: Path) -> Optional[Path]:
    # apt names files <package>_<version with ':' as %3a>_<arch>.deb.
    found = sorted(download_dir.glob(f"{package}_*.deb"))
    return found[-1] if found else None


def download_package(package: str, download_dir: Path) -> Path:
    """The package's ``.deb`` in ``download_dir``, downloaded if not there yet.

    Parameters
    ----------
    package : str
        Debian binary package name.
    download_dir : Path
        Cache of ``.deb`` files; created if missing.

    Returns
    -------
    Path
        The ``.deb`` file.

    Raises
    ------
    PackageUnavailableError
        ``apt-get`` is missing, does not know the package (run
        ``apt-get update``) or cannot reach the mirror.
    """
    download_dir.mkdir(parents=True, exist_ok=True)
    cached = _cached_deb(package, download_dir)
    if cached is not None:
        return cached
    if shutil.which("apt-get") is None:
        raise PackageUnavailableError(
            f"apt-get not found; copy {package}_*.deb into {download_dir} by hand")
    _run(["apt-get", "download", "-q", package], cwd=download_dir)
    cached = _cached_deb(package, download_dir)
    if cached is None:
        raise PackageUnavailableError(f"apt-get download {package} left no .deb in {download_dir}")
    return cached


def unpack_package(deb: Path, destination: Path) -> Path:
    """Unpack ``deb``'s files into an empty ``destination`` (``dpkg-deb -x``).

    Returns
    -------
    Path
        ``destination``, holding the package's tree (``usr/share/...``).
    """
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    _run(["dpkg-deb", "-x", str(deb), str(destination)])
    return destination


def package_version(deb: Path) -> str:
    """The ``Version`` field of ``deb``'s control file."""
    return _run(["dpkg-deb", "-f", str(deb), "Version"]).strip()


_LICENSE_LINE = re.compile(r"^License:[ \t]*(\S.*?)\s*$", re.MULTILINE)


def copyright_file(unpacked: Path, package: str) -> Path:
    """Path of ``usr/share/doc/<package>/copyright`` in an unpacked package."""
    return unpacked / "usr" / "share" / "doc" / package / "copyright"


def package_licences(unpacked: Path, package: str) -> List[str]:
    """Licences named by the package's machine-readable copyright file, most used first.

    Only a DEP-5 file (first field ``Format:``) names its licences on
    ``License:`` lines; a free-form file gives ``["free-form"]`` (read the
    file itself; :mod:`tokencom_sdr.data.debian_sources` notes what it says).

    Returns
    -------
    list of str
        Distinct licence names; ``["unknown: no copyright file"]`` if the
        package has none.
    """
    path = copyright_file(unpacked, package)
    if not path.is_file():
        return ["unknown: no copyright file"]
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("Format:"):
        return ["free-form"]
    names = Counter(_LICENSE_LINE.findall(text))
    return [name for name, _ in names.most_common()] or ["free-form"]
