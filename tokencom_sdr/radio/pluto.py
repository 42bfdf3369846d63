"""ADALM-Pluto through gr-iio (``iio.fmcomms2_source_fc32`` / ``sink_fc32``).

Opening a Pluto goes in two steps:

1. :func:`check_pluto_context` asks libiio for the context itself (through
   ctypes; libiio is what gr-iio links against). When the URI does not
   answer, this fails in milliseconds with an errno, and we raise
   :class:`~tokencom_sdr.radio.errors.RadioUnavailableError`. Doing this
   first also keeps gr-iio from its fallback: when ``iio_create_context_from_uri``
   fails, gr-iio 3.10 retries the whole URI as a *hostname* through
   ``iio_create_network_context``, which asks Avahi (mDNS, i.e. the LAN) to
   resolve it.
2. The gr-iio block is built and configured from the profile; its own
   ``RuntimeError("Unable to create context")`` / ``"Device not found"`` is
   translated too.

TX burst padding: gr-iio's sink only pushes whole buffers of ``buffer_size``
samples to the device (it asks the scheduler for exactly that many), so a
burst shorter than a buffer sits in the flowgraph until more samples come.
The command-line TX therefore appends ``burst_padding`` zeros after each
message, rounds it up to a whole number of buffers, and keeps the stream
going with zeros while idle (:func:`pad_to_buffer`).
"""

import ctypes
import ctypes.util
import math
import os
from typing import List, Optional

import numpy as np
from gnuradio import gr

from .errors import RadioUnavailableError, is_no_device_error, radio_unavailable
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD
from .profile import RadioProfile, profile_from_dict
from ..gr.radio_chain import wire_token_rx, wire_token_tx

_LIBIIO_NAMES = ("libiio.so.0", "libiio.so.1", "libiio.so")


def _libiio():
    """The C libiio that gr-iio uses, through ctypes (None if missing)."""
    names = list(_LIBIIO_NAMES)
    found = ctypes.util.find_library("iio")
    if found:
        names.insert(0, found)
    for name in names:
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        lib.iio_create_context_from_uri.restype = ctypes.c_void_p
        lib.iio_create_context_from_uri.argtypes = [ctypes.c_char_p]
        lib.iio_context_destroy.argtypes = [ctypes.c_void_p]
        lib.iio_context_find_device.restype = ctypes.c_void_p
        lib.iio_context_find_device.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        return lib
    return None


def check_pluto_context(uri: str) -> None:
    """Open and close the IIO context at ``uri``; raise if it is not a Pluto.

    Raises
    ------
    RadioUnavailableError
        No context at ``uri`` (with the errno's text), or a context without
        the AD9361 PHY and its DDS/ADC cores.
    """
    lib = _libiio()
    if lib is None:
        raise RadioUnavailableError("pluto", uri, "libiio is not installed",
                                    hint="install GNU Radio's gr-iio (Debian: gnuradio, libiio0)")
    ctypes.set_errno(0)
    ctx = lib.iio_create_context_from_uri(uri.encode())
    if not ctx:
        err = ctypes.get_errno()
        reason = os.strerror(err) if err else "no IIO context"
        raise RadioUnavailableError("pluto", uri, f"cannot open IIO context ({reason})")
    try:
        missing = [name for name in ("ad9361-phy", "cf-ad9361-lpc", "cf-ad9361-dds-core-lpc")
                   if not lib.iio_context_find_device(ctx, name.encode())]
    finally:
        lib.iio_context_destroy(ctx)
    if missing:
        raise RadioUnavailableError("pluto", uri, f"the IIO context has no {', '.join(missing)} "
                                    f"device, so it is not a Pluto/AD936x")


def scan_usb_plutos() -> List[str]:
    """URIs of Plutos on local USB (``usb:BUS.DEV.INTF``), via libiio's USB
    scan only: no network discovery. Empty when none or libiio is missing."""
    lib = _libiio()
    if lib is None:
        return []
    lib.iio_create_scan_context.restype = ctypes.c_void_p
    lib.iio_create_scan_context.argtypes = [ctypes.c_char_p, ctypes.c_uint]
    lib.iio_scan_context_get_info_list.restype = ctypes.c_ssize_t
    lib.iio_scan_context_get_info_list.argtypes = [ctypes.c_void_p,
                                                   ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p))]
    lib.iio_context_info_get_uri.restype = ctypes.c_char_p
    lib.iio_context_info_get_uri.argtypes = [ctypes.c_void_p]
    lib.iio_context_info_get_description.restype = ctypes.c_char_p
    lib.iio_context_info_get_description.argtypes = [ctypes.c_void_p]
    lib.iio_context_info_list_free.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.iio_scan_context_destroy.argtypes = [ctypes.c_void_p]
    scan = lib.iio_create_scan_context(b"usb", 0)
    if not scan:
        return []
    uris = []
    try:
        info = ctypes.POINTER(ctypes.c_void_p)()
        count = lib.iio_scan_context_get_info_list(scan, ctypes.byref(info))
        if count > 0:
            for i in range(count):
                desc = (lib.iio_context_info_get_description(info[i]) or b"").decode(errors="replace")
                uri = (lib.iio_context_info_get_uri(info[i]) or b"").decode(errors="replace")
                if "PlutoSDR" in desc or "ADALM" in desc or "9363" in desc or "9364" in desc:
                    uris.append(uri)
            lib.iio_context_info_list_free(info)
    finally:
        lib.iio_scan_context_destroy(scan)
    return uris


def _open(uri: str, make):
    """Run the gr-iio constructor ``make`` with errors translated."""
    try:
        return make()
    except Exception as error:  # noqa: BLE001 - translated or re-raised below
        if is_no_device_error(error):
            raise radio_unavailable("pluto", uri, error) from None
        raise


def make_pluto_source(profile: RadioProfile, check: bool = True):
    """A configured gr-iio source (RX1 only), ``complex64`` at the profile's rate.

    Raises
    ------
    RadioUnavailableError
        No Pluto answers at ``profile.uri``.
    """
    from gnuradio import iio

    if check:
        check_pluto_context(profile.uri)
    source = _open(profile.uri, lambda: iio.fmcomms2_source_fc32(
        profile.uri, [True, True, False, False], int(profile.buffer_size)))
    source.set_len_tag_key("")
    source.set_frequency(int(profile.center_freq_hz))
    source.set_samplerate(int(profile.sample_rate_hz))
    source.set_gain_mode(0, profile.rx_gain_mode)
    if profile.rx_gain_mode == "manual":
        source.set_gain(0, float(profile.rx_gain_db))
    source.set_quadrature(True)
    source.set_rfdc(True)
    source.set_bbdc(True)
    source.set_filter_params(_filter_source(profile), "", 0.0, 0.0)
    return source


def make_pluto_sink(profile: RadioProfile, check: bool = True):
    """A configured gr-iio sink (TX1 only) taking ``complex64``.

    The sink's attenuation is ``-profile.tx_gain_db`` (gr-iio counts
    attenuation, pyadi-iio and the profile count gain).
    """
    from gnuradio import iio

    if check:
        check_pluto_context(profile.uri)
    sink = _open(profile.uri, lambda: iio.fmcomms2_sink_fc32(
        profile.uri, [True, True, False, False], int(profile.buffer_size), False))
    sink.set_len_tag_key("")
    sink.set_bandwidth(int(profile.rf_bandwidth_hz))
    sink.set_frequency(int(profile.center_freq_hz))
    sink.set_samplerate(int(profile.sample_rate_hz))
    sink.set_attenuation(0, -float(profile.tx_gain_db))
    sink.set_filter_params(_filter_source(profile), "", 0.0, 0.0)
    return sink


def _filter_source(profile: RadioProfile) -> str:
    return "Auto" if profile.fir_filter == "auto" else "Off"


def pad_to_buffer(iq: np.ndarray, padding: int, buffer_size: int) -> np.ndarray:
    """Append ``padding`` zeros, then more up to a multiple of ``buffer_size``.

    Returns
    -------
    np.ndarray, shape ``(k * buffer_size,)``, dtype ``complex64``
    """
    total = len(iq) + max(0, int(padding))
    total = int(math.ceil(total / buffer_size) * buffer_size) if buffer_size > 0 else total
    out = np.zeros(total, dtype=np.complex64)
    out[:len(iq)] = iq
    return out


def _grc_profile(uri, center_freq_hz, sample_rate_hz, rf_bandwidth_hz, buffer_size,
                 extended_tuning, **fields) -> RadioProfile:
    """A validated profile from GRC block parameters (same checks as YAML)."""
    raw = dict(backend="pluto", name="grc", uri=uri, center_freq_hz=center_freq_hz,
               sample_rate_hz=sample_rate_hz, rf_bandwidth_hz=rf_bandwidth_hz,
               buffer_size=int(buffer_size), extended_tuning=bool(extended_tuning), **fields)
    return profile_from_dict(raw, source="GRC block")


class PlutoTokenTx(gr.hier_block2):
    """GRC block *TokenCom Pluto TX*: packet PDUs in, over the air by a Pluto.

    Input: message port ``pdus`` (link packets, e.g. from the TokenCom Text
    Encoder). Output: the ``complex64`` baseband handed to the Pluto (after
    ``amplitude``), for GUI sinks; it may be left unconnected.

    The OFDM stream is continuous (zeros when idle), so the gr-iio sink's
    buffer always fills and flushes.
    """

    def __init__(self, uri: str = "ip:192.168.2.1", center_freq_hz: float = 2.45e9,
                 sample_rate_hz: float = 2.5e6, rf_bandwidth_hz: float = 2.5e6,
                 tx_gain_db: float = -20.0, amplitude: float = 0.3, mcs: str = "qpsk-1/2",
                 gap_len: int = 400, buffer_size: int = 32768, extended_tuning: bool = False):
        gr.hier_block2.__init__(self, "tokencom_pluto_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.profile = _grc_profile(uri, center_freq_hz, sample_rate_hz, rf_bandwidth_hz,
                                    buffer_size, extended_tuning, tx_gain_db=tx_gain_db,
                                    tx_amplitude=amplitude, mcs=mcs, gap_len=int(gap_len))
        wire_token_tx(self, make_pluto_sink(self.profile), mcs, gap_len, idle_fill=True,
                      amplitude=amplitude)

    def set_tx_gain_db(self, gain_db: float) -> None:
        self.sink.set_attenuation(0, -float(gain_db))

    def set_center_freq_hz(self, freq: float) -> None:
        self.sink.set_frequency(int(freq))


class PlutoTokenRx(gr.hier_block2):
    """GRC block *TokenCom Pluto RX*: a Pluto's samples to received packet PDUs.

    Output: message port ``pdus`` (raw packet bytes as decided by the OFDM
    receiver; the link CRC decides), and the ``complex64`` samples from the
    Pluto, for GUI sinks (may be left unconnected).
    """

    def __init__(self, uri: str = "ip:192.168.2.1", center_freq_hz: float = 2.45e9,
                 sample_rate_hz: float = 2.5e6, rf_bandwidth_hz: float = 2.5e6,
                 rx_gain_db: float = 40.0, gain_mode: str = "manual",
                 sync_threshold: float = DEFAULT_SYNC_THRESHOLD, buffer_size: int = 32768,
                 extended_tuning: bool = False):
        gr.hier_block2.__init__(self, "tokencom_pluto_rx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.profile = _grc_profile(uri, center_freq_hz, sample_rate_hz, rf_bandwidth_hz,
                                    buffer_size, extended_tuning, rx_gain_db=rx_gain_db,
                                    rx_gain_mode=gain_mode, sync_threshold=sync_threshold)
        wire_token_rx(self, make_pluto_source(self.profile), sync_threshold)

    def set_rx_gain_db(self, gain_db: float) -> None:
        self.source.set_gain(0, float(gain_db))

    def set_center_freq_hz(self, freq: float) -> None:
        self.source.set_frequency(int(freq))


def pluto_uri_from_env(default: Optional[str] = None) -> Optional[str]:
    """``$TOKENCOM_PLUTO_URI`` (used by the hardware tests), else ``default``."""
    return os.environ.get("TOKENCOM_PLUTO_URI") or default
