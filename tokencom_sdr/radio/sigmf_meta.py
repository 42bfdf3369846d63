"""A recording's ``.sigmf-meta`` read strictly: the fields replay needs, each
checked, every problem one line naming the file and the field.

A metadata file comes from anywhere (another tool, a hand edit, a damaged
disk): ``"captures": [5]`` or ``"core:num_channels": "two"`` must be an
error that says so, never an ``AttributeError`` from deep inside the replay.
"""

import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .checks import shown_value

__all__ = ["MAX_META_BYTES", "SigmfMeta", "parse_sigmf_meta"]

#: Largest metadata file read (one annotation per packet is ~300 bytes: 128 MiB
#: is some 400,000 packets).
MAX_META_BYTES = 128 << 20


@dataclass
class SigmfMeta:
    """What replay takes from the metadata.

    Attributes
    ----------
    datatype : str
        ``core:datatype``, e.g. ``"cf32_le"``.
    sample_rate_hz : float
        ``core:sample_rate``, finite and > 0.
    num_channels : int
        ``core:num_channels`` (1 when absent).
    center_freq_hz : float or None
        The first capture's ``core:frequency``.
    hardware : str
        ``core:hw`` ("" when absent).
    mcs : str or None
        ``tokencom:mcs``.
    sync_threshold : float or None
        ``tokencom:sync_threshold``.
    annotations : list of dict
    """

    datatype: str
    sample_rate_hz: float
    num_channels: int = 1
    center_freq_hz: Optional[float] = None
    hardware: str = ""
    mcs: Optional[str] = None
    sync_threshold: Optional[float] = None
    annotations: List[Dict[str, Any]] = field(default_factory=list)


class _Fields:
    """Reads one JSON object's fields, raising ``error_type`` with the file and field named."""

    def __init__(self, obj, where: str, source: str, error_type):
        self.source, self.where, self.error_type = source, where, error_type
        if not isinstance(obj, dict):
            raise self.fail(None, f"must be a JSON object, got {shown_value(obj)}")
        self.obj = obj

    def fail(self, key: Optional[str], message: str):
        name = self.where if key is None else (f"{self.where}.{key}" if self.where else key)
        return self.error_type(f"{self.source}: {name}: {message}" if name else
                               f"{self.source}: {message}")

    def number(self, key: str, required: bool = False) -> Optional[float]:
        value = self.obj.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {shown_value(value)}")
        return float(value)

    def text(self, key: str, default: Optional[str] = None, required: bool = False) -> Optional[str]:
        value = self.obj.get(key, None if required else default)
        if value is None and not required:
            return default
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {shown_value(value)}")
        return value

    def objects(self, key: str) -> list:
        value = self.obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {shown_value(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{index}]", f"must be a JSON object, got {shown_value(item)}")
        return value


def parse_sigmf_meta(data: bytes, source: str, error_type=ValueError) -> SigmfMeta:
    """Check and read a ``.sigmf-meta`` file's bytes.

    Parameters
    ----------
    data : bytes
        The file's content.
    source : str
        The file's name, for the messages.
    error_type : type
        The ``ValueError`` subclass raised.

    Raises
    ------
    ValueError (``error_type``)
        One line ``"<source>: <field>: <problem>"``: too big, not UTF-8, not
        JSON, or a field of the wrong type or range.
    """
    if len(data) > MAX_META_BYTES:
        raise error_type(f"{source}: {len(data)} bytes, more than the {MAX_META_BYTES} a "
                         f"metadata file may have")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise error_type(f"{source}: not UTF-8 (byte {error.start})") from None
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise error_type(f"{source}: not JSON ({str(error)[:80]})") from None
    top = _Fields(meta, "", source, error_type)
    glob = _Fields(top.obj.get("global"), "global", source, error_type)
    datatype = glob.text("core:datatype", required=True)
    rate = glob.number("core:sample_rate", required=True)
    if rate <= 0:
        raise glob.fail("core:sample_rate", f"must be > 0, got {rate:g}")
    channels = glob.obj.get("core:num_channels", 1)
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise glob.fail("core:num_channels", f"must be a whole number >= 1, got {shown_value(channels)}")
    captures = top.objects("captures")
    first_capture = _Fields(captures[0] if captures else {}, "captures[0]", source, error_type)
    return SigmfMeta(
        datatype=datatype, sample_rate_hz=rate, num_channels=channels,
        center_freq_hz=first_capture.number("core:frequency"),
        hardware=glob.text("core:hw", default=""),
        mcs=glob.text("tokencom:mcs"),
        sync_threshold=glob.number("tokencom:sync_threshold"),
        annotations=list(top.objects("annotations")),
    )
