"""The PDU the receiver publishes for each burst: metadata and bytes.

Everything a received PDU's metadata holds is decided in :func:`pdu_meta`,
and only there, so that a new field is one line in one place.
"""

import numpy as np
import pmt

from .burst_decoding import BurstHeader
from .payload_code import DecodedPayload


def _f32vector(values: np.ndarray):
    """f32vector PMT of a float array. (pmt's bindings convert a list several
    times faster than a numpy array: 9 instead of 20-55 us per burst.)"""
    return pmt.init_f32vector(values.size, np.asarray(values, dtype=np.float32).tolist())


def pdu_meta(burst: BurstHeader, decoded: DecodedPayload):
    """Metadata of one burst's PDU.

    Keys: ``mcs`` (symbol, the MCS name), ``fec_ok`` (bool: every codeword
    converged), ``snr_db`` and ``cfo`` (doubles, from the header: see
    :class:`BurstHeader`), ``packet_number`` (long) and ``bit_llr``
    (f32vector, one posterior LLR per payload bit, positive favours 0).

    Returns
    -------
    pmt dict
    """
    fields = (
        ("mcs", pmt.intern(burst.mcs.name)),
        ("fec_ok", pmt.from_bool(decoded.fec_ok)),
        ("snr_db", pmt.from_double(burst.snr_db)),
        ("cfo", pmt.from_double(burst.cfo)),
        ("packet_number", pmt.from_long(burst.header.packet_number)),
        ("bit_llr", _f32vector(decoded.bit_llr)),
    )
    if not decoded.fec_ok:
        fields += (("code_llr", _f32vector(decoded.channel_llr)),)
    meta = pmt.make_dict()
    for key, value in fields:
        meta = pmt.dict_add(meta, pmt.intern(key), value)
    return meta


def burst_pdu(burst: BurstHeader, decoded: DecodedPayload):
    """``(meta, u8vector)`` PDU of one decoded burst (see :func:`pdu_meta`)."""
    return pmt.cons(pdu_meta(burst, decoded), pmt.init_u8vector(len(decoded.data), list(decoded.data)))


def symbols_pdu(symbols: np.ndarray):
    """``(empty dict, c32vector)`` PDU of a burst's equalised payload symbols,
    for a constellation display (PDU To Stream -> QT GUI Constellation Sink)."""
    # (from a list, as in _f32vector: 9 instead of 55 us)
    return pmt.cons(pmt.make_dict(), pmt.init_c32vector(symbols.size, symbols.tolist()))
