"""Byte PDUs of the TokenCom message blocks."""

from typing import Dict, Optional

import numpy as np
import pmt

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


def dict_to_pmt(values: Dict[str, object]):
    """PMT dict from a dict of str/bool/int/float values (None is skipped)."""
    out = pmt.make_dict()
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_)):
            pv = pmt.from_bool(bool(value))
        elif isinstance(value, (int, np.integer)):
            pv = pmt.from_long(int(value))
        elif isinstance(value, (float, np.floating)):
            pv = pmt.from_double(float(value))
        else:
            pv = pmt.intern(str(value))
        out = pmt.dict_add(out, pmt.intern(key), pv)
    return out


def pmt_dict_to_python(meta) -> Dict[str, object]:
    """Plain dict from a PMT dict (an empty dict for anything else)."""
    out: Dict[str, object] = {}
    if pmt.is_dict(meta):
        items = pmt.dict_items(meta)
        for i in range(pmt.length(items)):
            item = pmt.nth(i, items)
            out[pmt.symbol_to_string(pmt.car(item))] = pmt.to_python(pmt.cdr(item))
    return out
