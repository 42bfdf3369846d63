"""Self-describing safetensors files of the context package: atomic write, checked read.

Every file carries ``format`` and ``format_version`` in its safetensors
metadata. :func:`read_checkpoint` checks the container and both tags and
raises :class:`ContextModelFileError` with the reason, so that a corrupt,
truncated or foreign file never reaches the code that uses its tensors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import torch

from ..model_manifest import ModelManifestError, verify_model_bytes

__all__ = ["ContextModelFileError", "read_checkpoint", "write_checkpoint", "only_tensor"]


class ContextModelFileError(ValueError):
    """A context-model checkpoint is missing, corrupt or does not match the code."""


def write_checkpoint(tensors: Dict[str, torch.Tensor], path: Union[str, os.PathLike], *,
                     format_tag: str, format_version: str,
                     metadata: Optional[Dict[str, object]] = None) -> None:
    """Write ``tensors`` atomically (temporary file, then rename), tagged with
    the ``format`` and ``format_version`` that :func:`read_checkpoint` checks.

    ``metadata`` adds more entries (stored as strings). An interrupted save
    never leaves a truncated file behind.
    """
    from safetensors.torch import save_file

    tags = {"format": format_tag, "format_version": format_version}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({name: t.contiguous() for name, t in tensors.items()}, str(tmp),
              metadata={str(k): str(v) for k, v in {**(metadata or {}), **tags}.items()})
    os.replace(tmp, path)


def read_checkpoint(path: Union[str, os.PathLike, None], default, *, what: str,
                    format_tag: str, format_version: str,
                    retrain: str) -> Tuple[str, Dict[str, str], Dict[str, torch.Tensor]]:
    """Read and check a file written by :func:`write_checkpoint`.

    Parameters
    ----------
    path : str or path-like or None
        None reads ``default``.
    default : importlib.resources traversable
        The committed file inside the package.
    what : str
        Human name of the file's kind, for messages ("text context model").
    format_tag, format_version : str
        Expected ``format`` and ``format_version`` metadata.
    retrain : str
        The command that rebuilds the default, named when it is missing.

    Returns
    -------
    (source, metadata, tensors)
        ``source`` names the file in messages; tensors are on the CPU.

    Raises
    ------
    ContextModelFileError
        Also when the default differs from its entry in the model manifest
        (:mod:`tokencom_sdr.model_manifest`).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    if path is None:
        source = f"default {what} (package data {default.name})"
        try:
            blob = default.read_bytes()
        except (FileNotFoundError, OSError) as error:
            raise ContextModelFileError(
                f"{source} is missing; reinstall the package or rebuild it with "
                f"`{retrain}`") from error
        # A committed default must be the file its manifest entry describes.
        try:
            verify_model_bytes(blob, f"context/data/{default.name}", source)
        except ModelManifestError as error:
            raise ContextModelFileError(str(error)) from None
    else:
        source = str(path)
        try:
            blob = Path(path).read_bytes()
        except FileNotFoundError as error:
            raise ContextModelFileError(f"{what} file not found: {path}") from error
        except OSError as error:
            raise ContextModelFileError(f"cannot read {what} {path}: {error}") from error
    try:
        metadata = _read_metadata(blob)
        tensors = load(blob)
    except (SafetensorError, ValueError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ContextModelFileError(
            f"{source} is not a valid safetensors checkpoint (corrupt or truncated?): "
            f"{error}") from error
    if metadata.get("format") != format_tag:
        raise ContextModelFileError(
            f"{source} is a safetensors file but not a TokenCom {what} "
            f"(format {metadata.get('format')!r}, expected {format_tag!r})")
    if metadata.get("format_version") != format_version:
        raise ContextModelFileError(
            f"{source} has format version {metadata.get('format_version')!r}; this code "
            f"reads version {format_version}")
    return source, metadata, tensors


def only_tensor(source: str, tensors: Dict[str, torch.Tensor], name: str, ndim: int,
                dtype: torch.dtype) -> torch.Tensor:
    """The file's one tensor ``name`` of ``ndim`` dimensions and ``dtype``.

    Raises
    ------
    ContextModelFileError
        When the file holds another tensor, or this one is missing or of
        another rank or dtype.
    """
    tensor = tensors.get(name)
    if tensor is None or set(tensors) != {name} or tensor.ndim != ndim or tensor.dtype != dtype:
        raise ContextModelFileError(f"{source} must hold exactly one {ndim}-D "
                                    f"{str(dtype).rsplit('.', 1)[-1]} tensor '{name}'")
    return tensor


def _read_metadata(blob: bytes) -> Dict[str, str]:
    """The ``__metadata__`` of a safetensors byte string (empty if none).

    Layout: an 8-byte little-endian header length, then that many bytes of
    JSON. Read here so a wrong file fails with a reason, not a panic.
    """
    if len(blob) < 8:
        raise ValueError(f"only {len(blob)} bytes, too short for a safetensors header")
    size = int.from_bytes(blob[:8], "little")
    if size <= 0 or 8 + size > len(blob):
        raise ValueError(f"header length {size} does not fit a {len(blob)}-byte file")
    header = json.loads(blob[8:8 + size].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    meta: Optional[dict] = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError("metadata is not a JSON object")
    return meta
