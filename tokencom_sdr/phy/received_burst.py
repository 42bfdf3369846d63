"""The one PHY -> link type: a received burst, and its one PMT encoding.

Everything the receiver knows about one burst whose PHY header decoded
travels as a :class:`ReceivedBurst`: the payload bytes as the PHY decided
them (not yet checked by the link layer's CRC-32), the burst's estimates, and
the soft values the link layer and the context layer use for CRC-failed
packets. Inside Python (the loopback, the radio receiver, the evaluations)
it is handed over as is; across a GNU Radio message port it becomes a PDU
with :meth:`ReceivedBurst.to_pdu` and comes back with
:meth:`ReceivedBurst.from_pdu`, and nowhere else is a received PDU's
metadata read or written.

PDU metadata keys (all optional except none; a bare ``u8vector`` PDU is a
burst with bytes only): ``mcs`` (symbol), ``fec_ok`` (bool), ``snr_db``,
``cfo``, ``channel_change``, ``doppler``, ``drift_db`` (double), ``packet_number``, ``start_sample``
(long), ``bit_llr``, ``code_llr``, ``evm_db`` (f32vector). Unknown keys are
ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Dict, Optional

import numpy as np
import pmt

__all__ = ["ReceivedBurst"]

_VECTORS = ("bit_llr", "code_llr", "evm_db")


def _f32vector(values: np.ndarray):
    """f32vector PMT of a float array. (pmt's bindings convert a list several
    times faster than a numpy array: 9 instead of 20-55 us per burst.)"""
    return pmt.init_f32vector(values.size, np.asarray(values, dtype=np.float32).tolist())


#: (interned key, attribute, converter) of every metadata entry, in PDU order.
_TO_PMT = tuple((pmt.intern(name), name, convert) for name, convert in (
    ("mcs", lambda v: pmt.intern(str(v))), ("fec_ok", lambda v: pmt.from_bool(bool(v))),
    ("snr_db", lambda v: pmt.from_double(float(v))), ("cfo", lambda v: pmt.from_double(float(v))),
    ("packet_number", lambda v: pmt.from_long(int(v))),
    ("start_sample", lambda v: pmt.from_long(int(v))),
    ("bit_llr", _f32vector), ("code_llr", _f32vector),
    ("evm_db", _f32vector), ("channel_change", lambda v: pmt.from_double(float(v))),
    ("doppler", lambda v: pmt.from_double(float(v))), ("drift_db", lambda v: pmt.from_double(float(v)))))


@dataclass
class ReceivedBurst:
    """One burst as the PHY delivered it.

    Attributes
    ----------
    data : bytes
        The payload, the PHY's best decision (the link CRC decides if it is good).
    mcs : str or None
        Name of the payload's MCS (from the PHY header).
    fec_ok : bool or None
        Every codeword converged (None when the PHY did not say).
    snr_db, cfo : float or None
        The burst's SNR estimate in dB and its frequency offset normalised to
        the sample rate.
    packet_number : int or None
        The PHY header's packet counter.
    start_sample : int or None
        Index of the burst's first sample in the receiver's input stream.
    bit_llr : np.ndarray or None, shape ``(8 * len(data),)``, dtype ``float32``
        Posterior LLR of every payload bit, MSB first (positive favours 0).
    code_llr : np.ndarray or None, shape ``(coded bits,)``, dtype ``float32``
        The channel LLRs of the coded payload as sent; only for bursts whose
        FEC failed, so that the receiver can decode them again with prior
        knowledge (:func:`~tokencom_sdr.phy.payload_code.decode_payload`).
    evm_db : np.ndarray or None, shape ``(payload OFDM symbols,)``, dtype ``float32``
        EVM of each payload OFDM symbol in dB: one that rises across the
        burst shows a channel moving within it.
    channel_change : float or None
        How far the channel moved over the burst, when the receiver had to
        track it (see :class:`~tokencom_sdr.phy.burst_decoding.BurstDiagnostics`).
    doppler : float or None
        The Doppler shift that change implies, normalised to the sample rate.
    drift_db : float or None
        How much the channel moved as the pilots saw it, dB over the noise
        (0-2 static; see :class:`~tokencom_sdr.phy.burst_decoding.BurstDiagnostics`).
    """

    data: bytes
    mcs: Optional[str] = None
    fec_ok: Optional[bool] = None
    snr_db: Optional[float] = None
    cfo: Optional[float] = None
    packet_number: Optional[int] = None
    start_sample: Optional[int] = None
    bit_llr: Optional[np.ndarray] = None
    code_llr: Optional[np.ndarray] = None
    evm_db: Optional[np.ndarray] = None
    channel_change: Optional[float] = None
    doppler: Optional[float] = None
    drift_db: Optional[float] = None

    def __post_init__(self):
        self.data = bytes(self.data)
        for name in _VECTORS:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, np.asarray(value, dtype=np.float32).reshape(-1))
        if self.bit_llr is not None and self.bit_llr.size != 8 * len(self.data):
            raise ValueError(f"bit_llr has {self.bit_llr.size} values for {len(self.data)} bytes")

    @classmethod
    def from_decoded(cls, burst, decoded, start_sample: Optional[int] = None,
                     diagnostics=None) -> "ReceivedBurst":
        """From the burst decoder's header and payload results.

        Parameters
        ----------
        burst : ~tokencom_sdr.phy.burst_decoding.BurstHeader
        decoded : ~tokencom_sdr.phy.payload_code.DecodedPayload
        diagnostics : ~tokencom_sdr.phy.burst_decoding.BurstDiagnostics, optional
        """
        return cls(decoded.data, burst.mcs.name, bool(decoded.fec_ok), float(burst.snr_db),
                   float(burst.cfo), int(burst.header.packet_number), start_sample,
                   decoded.bit_llr, None if decoded.fec_ok else decoded.channel_llr,
                   None if diagnostics is None else diagnostics.evm_db,
                   None if diagnostics is None else diagnostics.channel_change,
                   None if diagnostics is None else diagnostics.doppler,
                   None if diagnostics is None else diagnostics.drift_db)

    def meta(self) -> Dict[str, object]:
        """The scalar fields that are set, JSON-ready (no LLR vectors)."""
        out = {}
        for field in fields(self):
            if field.name in ("data",) + _VECTORS:
                continue
            value = getattr(self, field.name)
            if value is not None:
                out[field.name] = value
        return out

    # ------------------------------------------------------------------ PMT
    def to_pdu(self):
        """``(meta dict, u8vector)`` PDU of this burst (see the module docstring)."""
        # Once per burst in the receiver's hot path: typed conversions and
        # interned keys, no type dispatch.
        meta = pmt.make_dict()
        for key, name, convert in _TO_PMT:
            value = getattr(self, name)
            if value is not None:
                meta = pmt.dict_add(meta, key, convert(value))
        return pmt.cons(meta, pmt.init_u8vector(len(self.data), list(self.data)))

    @classmethod
    def from_pdu(cls, pdu) -> "ReceivedBurst":
        """Read a PDU made by :meth:`to_pdu` (or any byte PDU, or a bare u8vector).

        Metadata of the wrong type is dropped, not trusted: a value that is
        not what :meth:`to_pdu` writes is as good as absent.

        Raises
        ------
        ValueError
            ``pdu`` carries no bytes.
        """
        meta = pmt.PMT_NIL
        if pmt.is_pair(pdu) and not pmt.is_dict(pdu):
            meta, pdu = pmt.car(pdu), pmt.cdr(pdu)
        if not pmt.is_u8vector(pdu):
            raise ValueError("not a byte PDU: expected (meta . u8vector) or a u8vector")
        data = bytes(pmt.u8vector_elements(pdu))
        values: Dict[str, object] = {}
        if pmt.is_dict(meta):
            items = pmt.dict_items(meta)
            for i in range(pmt.length(items)):
                item = pmt.nth(i, items)
                key = pmt.symbol_to_string(pmt.car(item)) if pmt.is_symbol(pmt.car(item)) else ""
                value = _read(key, pmt.cdr(item))
                if value is not None:
                    values[key] = value
        if "bit_llr" in values and values["bit_llr"].size != 8 * len(data):
            del values["bit_llr"]
        return cls(data, **values)


def _read(key: str, value):
    """The Python value of one metadata entry, or None if absent or ill-typed."""
    if key in _VECTORS:
        return np.array(pmt.f32vector_elements(value), dtype=np.float32) \
            if pmt.is_f32vector(value) else None
    if key == "mcs":
        return pmt.symbol_to_string(value) if pmt.is_symbol(value) else None
    if key == "fec_ok":
        return pmt.to_bool(value) if pmt.is_bool(value) else None
    if key in ("snr_db", "cfo", "channel_change", "doppler", "drift_db"):
        if not pmt.is_number(value) or pmt.is_complex(value):
            return None
        number = pmt.to_double(value) if pmt.is_real(value) else float(pmt.to_long(value))
        return number if math.isfinite(number) else None
    if key in ("packet_number", "start_sample"):
        return pmt.to_long(value) if pmt.is_integer(value) else None
    return None
