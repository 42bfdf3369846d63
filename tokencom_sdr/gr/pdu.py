"""Byte PDUs of the TokenCom message blocks."""

from typing import Dict, Optional

import pmt

from ..phy.pmt_values import dict_to_pmt, pmt_dict_to_python

__all__ = ["pdu_bytes", "make_byte_pdu", "dict_to_pmt", "pmt_dict_to_python"]


def pdu_bytes(msg) -> Optional[bytes]:
    """Payload of a byte PDU ``(meta . u8vector)`` or of a bare ``u8vector``.

    Returns None when ``msg`` is neither.
    """
    if pmt.is_pair(msg) and not pmt.is_dict(msg):
        msg = pmt.cdr(msg)
    if pmt.is_u8vector(msg):
        return bytes(pmt.u8vector_elements(msg))
    return None


def make_byte_pdu(data: bytes, meta: Optional[Dict[str, object]] = None):
    """``(meta dict . u8vector)`` PDU from bytes and a plain dict."""
    return pmt.cons(dict_to_pmt(meta or {}), pmt.init_u8vector(len(data), list(data)))
