"""The model manifest: what every committed model file is, and the check its loader makes.

``tokencom_sdr/models.json`` has one entry per committed model file (the
text tokenizer JSON, the text context model, the corpus memory, both image
tokenizers and both image context models), keyed by the file's path inside
the package (``"context/data/text_context.safetensors"``). Each entry holds
the file's ``sha256``, its ``bytes``, its tensors' ``shapes`` (safetensors
files), its ``config``, the ``datasets`` it was trained on, the
``trained_by`` command and the measured ``figures`` (each with the
``command`` that measures it). ``tokencom models`` lists them.

The loaders of the committed defaults call :func:`verify_model_bytes` before
using a file: a file whose tensor shapes or SHA-256 differ from its entry is
refused with one line that says what differs and how to restore it. Files
loaded from a path the user gives are the user's own and are not checked.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from importlib import resources
from typing import Dict, List, Optional

__all__ = ["MANIFEST_FILE", "ModelManifestError", "load_model_manifest", "safetensors_shapes",
           "verify_model_bytes"]

#: The manifest, inside the package.
MANIFEST_FILE = "models.json"


class ModelManifestError(ValueError):
    """A committed model file does not match its manifest entry."""


@functools.lru_cache(maxsize=1)
def load_model_manifest() -> Dict[str, dict]:
    """``{package-relative path: entry}`` of the committed model files."""
    text = (resources.files("tokencom_sdr") / MANIFEST_FILE).read_text(encoding="utf-8")
    return json.loads(text)["models"]


def safetensors_shapes(blob: bytes) -> Dict[str, List[int]]:
    """Tensor shapes from a safetensors file's header, without reading the tensors.

    Parameters
    ----------
    blob : bytes
        The file's bytes (only the header is parsed).

    Returns
    -------
    dict of str to list of int

    Raises
    ------
    ModelManifestError
        The bytes do not start with a readable safetensors header.
    """
    if len(blob) < 8:
        raise ModelManifestError(f"only {len(blob)} bytes, too short for a safetensors header")
    (length,) = struct.unpack("<Q", blob[:8])
    if length > len(blob) - 8:
        raise ModelManifestError("safetensors header runs past the end of the file")
    try:
        header = json.loads(blob[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelManifestError(f"unreadable safetensors header: {error}") from None
    return {name: list(info["shape"]) for name, info in header.items()
            if name != "__metadata__"}


def verify_model_bytes(blob: bytes, package_path: str, source: Optional[str] = None) -> None:
    """Refuse a committed model file that differs from its manifest entry.

    Parameters
    ----------
    blob : bytes
        The file's content.
    package_path : str
        Its path inside the package, the manifest key
        (``"tokens/data/image_vq_standard.safetensors"``).
    source : str, optional
        How to name the file in the message (default ``package_path``).

    Raises
    ------
    ModelManifestError
        No entry for ``package_path``, other tensor shapes, or another
        SHA-256. The message is one line.
    """
    source = source or package_path
    entry = load_model_manifest().get(package_path)
    if entry is None:
        raise ModelManifestError(f"{source}: no entry {package_path!r} in the model manifest "
                                 f"tokencom_sdr/{MANIFEST_FILE}")
    restore = (f"restore it (git checkout -- tokencom_sdr/{package_path}) or rebuild it with "
               f"`{entry['trained_by']}`")
    expected_shapes = entry.get("shapes")
    if expected_shapes is not None:
        try:
            shapes = safetensors_shapes(blob)
        except ModelManifestError as error:
            raise ModelManifestError(f"{source}: {error}; {restore}") from None
        if shapes != expected_shapes:
            differing = sorted(set(shapes) ^ set(expected_shapes)) or sorted(
                name for name in shapes if shapes[name] != expected_shapes[name])
            raise ModelManifestError(
                f"{source}: tensor shapes differ from the model manifest (first: "
                f"{differing[0]!r} is {shapes.get(differing[0])}, manifest says "
                f"{expected_shapes.get(differing[0])}); {restore}")
    digest = hashlib.sha256(blob).hexdigest()
    if digest != entry["sha256"]:
        raise ModelManifestError(
            f"{source}: sha256 {digest[:16]}... differs from the model manifest's "
            f"{entry['sha256'][:16]}... (corrupt or replaced file); {restore}")
