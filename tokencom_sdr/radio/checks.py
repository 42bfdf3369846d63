"""Checks and number formats the profile loader and the backends share.

The lowest module of :mod:`tokencom_sdr.radio`: it imports nothing from the
package, so the backends can validate their own fields without importing
:mod:`.profile` (which looks the backends up).
"""

from typing import Any, Callable, Optional, Union

__all__ = ["ProfileError", "parse_si", "format_hz", "format_rate", "format_db", "check_range",
           "shown_value"]

_SI = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}


class ProfileError(ValueError):
    """A profile is missing, malformed or out of range.

    ``str()`` is one line: ``"<profile>: <field>: <what is wrong>"``.

    Attributes
    ----------
    profile : str
        Profile name or file.
    field : str or None
        The offending field, or None for file-level problems.
    """

    def __init__(self, profile: str, field: Optional[str], message: str):
        self.profile = profile
        self.field = field
        # (a name or a value can be anything a file says: an error shows
        # the start of it, on one line)
        shown = str(profile) if len(str(profile)) <= 80 else str(profile)[:77] + "..."
        where = f"{shown}: {field}: " if field else f"{shown}: "
        super().__init__((where + message).replace("\n", " ")[:1000])


def shown_value(value: Any) -> str:
    """A bad value as an error shows it: its repr, at most 80 characters (a
    file can hold anything; an error line stays short)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_si(text: Union[str, float, int]) -> float:
    """``"2.45G"`` -> 2.45e9, ``"2.5M"`` -> 2.5e6, ``"915e6"`` -> 915e6.

    Raises
    ------
    ValueError
        ``text`` is not a number with an optional k/M/G suffix.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    value = str(text).strip()
    scale = 1.0
    if value and value[-1] in _SI:
        scale, value = _SI[value[-1]], value[:-1]
    try:
        return float(value) * scale
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a number (e.g. 2.45e9 or 2.45G)") from None


def format_hz(hz: float) -> str:
    """``2.45e9`` -> ``"2.45 GHz"``."""
    for unit, scale in (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3)):
        if abs(hz) >= scale:
            return f"{hz / scale:g} {unit}"
    return f"{hz:g} Hz"


def format_rate(sps: float) -> str:
    """``2.5e6`` -> ``"2.5 MS/s"``."""
    for unit, scale in (("MS/s", 1e6), ("kS/s", 1e3)):
        if abs(sps) >= scale:
            return f"{sps / scale:g} {unit}"
    return f"{sps:g} S/s"


def format_db(db: float) -> str:
    """``-20.0`` -> ``"-20 dB"``."""
    return f"{db:g} dB"


def check_range(label: str, key: str, value: float, low: float, high: float, what: str,
                fmt: Callable[[float], str] = format_hz, hint: str = "") -> None:
    """Raise unless ``low <= value <= high``.

    Parameters
    ----------
    label : str
        Profile name, for the message.
    key : str
        The field checked.
    what : str
        The limit's name, e.g. ``"Pluto RF bandwidth"``.
    fmt : callable
        Formats the value and the limits (:func:`format_hz`,
        :func:`format_rate`, :func:`format_db`).
    hint : str
        Appended to the message (how to get a wider range).

    Raises
    ------
    ProfileError
        ``"<label>: <key>: <value> is below|above the <what> range <low>..<high><hint>"``.
    """
    if not low <= value <= high:
        side = "below" if value < low else "above"
        raise ProfileError(label, key, f"{fmt(value)} is {side} the {what} range "
                           f"{fmt(low)}..{fmt(high)}{hint}")
