"""Exceptions of the link layer.

Every way a received packet can be unusable has its own exception, so that a
receiver can count rejections by cause and a test can assert the exact cause.
All of them derive from :class:`PacketError`, itself a :class:`ValueError`, so
``except PacketError`` catches any malformed packet and nothing else.

Hierarchy::

    ValueError
    ├── PacketError                  the bytes (or fields) are not a valid packet
    │   ├── PacketTooShortError      fewer bytes than the header needs
    │   ├── CRCMismatchError         CRC-32 trailer does not match the contents
    │   ├── BadMagicError            not a TokenCom packet at all
    │   ├── UnsupportedVersionError  a TokenCom packet of a version we cannot read
    │   ├── HeaderFieldError         a header field is out of range or inconsistent
    │   ├── PayloadLengthError       payload size does not match the token count
    │   │   └── TrailingBytesError   bytes left over after the payload
    │   └── NonzeroPaddingError      padding bits after the last token are not zero
    └── ReassemblyError              a frame cannot be rebuilt from what arrived
"""

from __future__ import annotations

from typing import Any, Optional


class PacketError(ValueError):
    """Base class: the bytes or fields given do not form a valid packet."""


class PacketTooShortError(PacketError):
    """The data ends before the header it announces is complete."""


class CRCMismatchError(PacketError):
    """The CRC-32 trailer does not match the bytes it protects.

    This is what channel corruption looks like, so the parser checks the CRC
    before any other field: a corrupted packet is reported as corrupted, not as
    whichever field the corruption happened to hit.
    """


class BadMagicError(PacketError):
    """The packet does not start with the TokenCom magic bytes."""


class UnsupportedVersionError(PacketError):
    """The packet announces a wire-format version this parser cannot read."""


class HeaderFieldError(PacketError):
    """A header field is out of range or inconsistent with another field.

    Parameters
    ----------
    field : str
        Name of the offending field (``"modality"``, ``"seq"``, ``"positions"``,
        ...), so that callers can group rejections without parsing messages.
    message : str
        What was wrong, with the offending value.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class PayloadLengthError(PacketError):
    """The payload is not the size that the token count and width imply."""


class TrailingBytesError(PayloadLengthError):
    """Bytes remain between the end of the payload and the CRC trailer."""


class NonzeroPaddingError(PacketError):
    """The padding bits that fill the payload's last byte are not zero.

    A valid encoder always writes zeros there; anything else means the packet
    was not produced by a conforming encoder, so its token ids are not trusted.
    """


class ReassemblyError(ValueError):
    """A token frame cannot be rebuilt, e.g. no packet arrived and no geometry
    was given.

    Parameters
    ----------
    message : str
        What is missing.
    stats : optional
        The :class:`~tokencom_sdr.link.packetizer.ReassemblyStats` gathered
        before giving up, so that rejected packets are still accounted for.
    """

    def __init__(self, message: str, stats: Optional[Any] = None):
        super().__init__(message)
        self.stats = stats
