"""Refresh the computed fields of the model manifest after a model file changes.

``tokencom models --refresh`` rewrites, for every entry of
``tokencom_sdr/models.json``, what can be read off the file itself: its
``sha256``, ``bytes``, tensor ``shapes`` and ``config`` (from the safetensors
metadata, or the tokenizer's vocabulary). The fields a person writes
(``kind``, ``description``, ``datasets``, ``trained_by``, ``figures``) are
kept as they are: update them in the JSON by hand, with the command of every
figure, when a model is retrained.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Dict

from ..model_manifest import MANIFEST_FILE, load_model_manifest, safetensors_shapes

__all__ = ["computed_fields", "refresh_manifest"]

# Metadata keys that describe the file format, not the model.
_FORMAT_KEYS = ("format", "format_version")


def computed_fields(path: Path) -> Dict[str, object]:
    """``sha256``, ``bytes``, ``shapes`` (None for a JSON file) and ``config`` of a model file.

    ``config`` is the safetensors ``config`` metadata as JSON when there is
    one, else the other non-format metadata (the corpus memory's settings);
    for a tokenizer JSON it is the vocabulary size.
    """
    blob = Path(path).read_bytes()
    fields: Dict[str, object] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    if Path(path).suffix == ".json":
        vocab = json.loads(blob.decode("utf-8"))["model"]["vocab"]
        fields.update(shapes=None, config={"type": "byte-level BPE", "vocab_size": len(vocab)})
        return fields
    fields["shapes"] = safetensors_shapes(blob)
    length = int.from_bytes(blob[:8], "little")
    metadata = json.loads(blob[8:8 + length].decode("utf-8")).get("__metadata__", {})
    if "config" in metadata:
        fields["config"] = json.loads(metadata["config"])
    else:
        fields["config"] = {k: v for k, v in metadata.items() if k not in _FORMAT_KEYS}
    return fields


def refresh_manifest() -> Path:
    """Recompute the computed fields of every entry; return the manifest's path."""
    path = Path(str(resources.files("tokencom_sdr") / MANIFEST_FILE))
    manifest = json.loads(path.read_text(encoding="utf-8"))
    package_root = path.parent
    for package_path, entry in manifest["models"].items():
        entry.update(computed_fields(package_root / package_path))
    path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    load_model_manifest.cache_clear()
    return path
