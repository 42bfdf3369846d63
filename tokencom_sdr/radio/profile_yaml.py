"""Reading a radio profile's YAML strictly.

``yaml.safe_load`` refuses Python tags, but it still expands aliases (a
300-byte file of nested anchors grows to gigabytes when a value is used)
and keeps the last of two equal keys without a word. A profile is a flat
mapping written by hand: it needs neither, so both are errors here, and so
is a file too large to be one.
"""

from pathlib import Path
from typing import Any

import yaml

__all__ = ["read_profile_yaml", "ProfileYamlError", "MAX_PROFILE_BYTES"]

#: A profile is a few hundred bytes; anything past this is not one.
MAX_PROFILE_BYTES = 64 * 1024


class ProfileYamlError(ValueError):
    """The file is not a profile's YAML; the message says why and where."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases and without duplicate keys."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ProfileYamlError(f"line {event.start_mark.line + 1}: aliases (*{event.anchor}) are not "
                                   f"allowed in a profile")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue  # (a list or mapping as a key: yaml's own error below)
            if key in seen:
                raise ProfileYamlError(f"line {key_node.start_mark.line + 1}: field {str(key)[:80]!r} "
                                       f"is given twice")
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_profile_yaml(path: Path) -> Any:
    """Parse ``path`` strictly (see the module docstring).

    Raises
    ------
    ProfileYamlError
        Too large, not UTF-8, not YAML, an alias or a duplicate key.
    """
    size = path.stat().st_size
    if size > MAX_PROFILE_BYTES:
        raise ProfileYamlError(f"{size} bytes is too large for a profile (at most {MAX_PROFILE_BYTES})")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProfileYamlError(f"not UTF-8 text (byte {error.start})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = str(getattr(error, "problem", None) or error)[:200]
        raise ProfileYamlError(f"not valid YAML{where}: {problem}") from None
