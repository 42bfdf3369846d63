"""Plain Python dicts to and from PMT dicts (PDU metadata)."""

from typing import Dict

import numpy as np
import pmt

__all__ = ["dict_to_pmt", "pmt_dict_to_python"]


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
