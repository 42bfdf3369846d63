"""Which blocks of a flowgraph GNU Radio Companion cannot find, by name.

``grcc`` reports a block it cannot find only indirectly (e.g. "Sink -
in(0): Port is not connected", naming neither the block nor where GRC
looked). :func:`missing_blocks` loads GRC's block library as ``grcc`` would
and lists, per ``.grc`` file, the block ids it lacks; ``tokencom grc-check``
prints them, and the ``grcc`` wrapper that the setup installs runs it first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import yaml

__all__ = ["load_block_library", "missing_blocks", "block_search_path"]


def _platform():
    from gnuradio import gr
    from gnuradio.grc.core.platform import Platform

    platform = Platform(version=gr.version(),
                        version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()),
                        prefs=gr.prefs())
    platform.build_library()
    return platform


def load_block_library() -> set:
    """Ids of every block GRC finds on its search path (as ``grcc`` would)."""
    return set(_platform().blocks)


def block_search_path() -> List[str]:
    """The folders GRC searches for ``*.block.yml`` (existing ones)."""
    return list(_platform().config.block_paths)


def flowgraph_block_ids(path: Path) -> List[str]:
    """Block ids used by a ``.grc`` file (``options`` excluded).

    Raises
    ------
    ValueError
        The file is not a readable flowgraph.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: not a readable flowgraph ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("blocks", []), list):
        raise ValueError(f"{path}: not a GRC flowgraph (no list of blocks)")
    return [str(b.get("id")) for b in data.get("blocks") or [] if isinstance(b, dict)]


def missing_blocks(paths: Sequence[Path], library: set = None) -> Dict[Path, List[str]]:
    """``{flowgraph: [block ids GRC cannot find]}`` for the flowgraphs that lack any."""
    library = load_block_library() if library is None else library
    out = {}
    for path in paths:
        missing = sorted(set(flowgraph_block_ids(path)) - library)
        if missing:
            out[Path(path)] = missing
    return out
