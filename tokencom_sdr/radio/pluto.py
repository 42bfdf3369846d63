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
:class:`PlutoTxSink` therefore appends ``burst_padding`` zeros after each
message, rounds it up to a whole number of buffers (:func:`pad_to_buffer`),
and keeps the stream going with zeros while idle.

Limits (AD9363, checked by :meth:`PlutoBackend.validate`): LO 325 MHz-3.8 GHz
stock, 70 MHz-6 GHz with ``extended_tuning: true`` (AD9364 firmware
setting); sample rate >= 2.084 MS/s without FIR decimation
(``fir_filter: off``), >= 520.833 kS/s with it (``fir_filter: auto``),
<= 61.44 MS/s; RF bandwidth 200 kHz-20 MHz (40 MHz extended); TX gain
-89.75..0 dB in 0.25 dB steps (gr-iio's attenuation is its negative); RX gain
by LO band, as in the AD9361 gain tables: -1..73 dB below 1.3 GHz, -3..71 dB
to 4 GHz, -10..62 dB above.

The GRC blocks *TokenCom Pluto TX/RX* are in :mod:`tokencom_sdr.gr.radio_blocks`.
"""

import ctypes
import ctypes.util
import math
import os
import re
import time
from typing import List, Optional, Tuple

import numpy as np

from ..phy.burst_stream import BurstStreamSource
from .backend import Log, RadioBackend
from .checks import ProfileError, check_range, format_db, format_hz, format_rate
from .errors import RadioUnavailableError, is_no_device_error, radio_unavailable
from .flowgraph_sink import FlowgraphTxSink

__all__ = ["PlutoBackend", "PlutoTxSink", "make_pluto_source", "make_pluto_sink",
           "check_pluto_context", "scan_usb_plutos", "pad_to_buffer", "pluto_uri_from_env",
           "ad9361_rx_gain_range"]

# Device limits.
PLUTO_LO_STOCK = (325e6, 3.8e9)
PLUTO_LO_EXTENDED = (70e6, 6.0e9)
PLUTO_RATE_MIN_NO_FIR = 2.084e6
PLUTO_RATE_MIN_FIR = 520833.0
PLUTO_RATE_MAX = 61.44e6
PLUTO_BW_STOCK = (200e3, 20e6)
PLUTO_BW_EXTENDED = (200e3, 40e6)
PLUTO_TX_GAIN = (-89.75, 0.0)
PLUTO_TX_GAIN_STEP = 0.25
#: (upper LO edge, min gain, max gain) of the AD9361 RX gain tables.
AD9361_RX_GAIN_BANDS = ((1.3e9, -1.0, 73.0), (4.0e9, -3.0, 71.0), (6.0e9, -10.0, 62.0))
PLUTO_GAIN_MODES = ("manual", "slow_attack", "fast_attack", "hybrid")
PLUTO_FIR_FILTERS = ("auto", "off")
_PLUTO_URI = re.compile(r"^(ip:[^\s]+|usb:[0-9.]*|local:|serial:[^\s]+)$")

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


def make_pluto_source(profile, check: bool = True):
    """A configured gr-iio source (RX1 only), ``complex64`` at the profile's rate.

    Parameters
    ----------
    profile : RadioProfile
        A validated ``pluto`` profile.
    check : bool
        Ask libiio for the context first (:func:`check_pluto_context`), so a
        missing Pluto fails fast and gr-iio never falls back to mDNS.

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


def make_pluto_sink(profile, check: bool = True):
    """A configured gr-iio sink (TX1 only) taking ``complex64``.

    The sink's attenuation is ``-profile.tx_gain_db`` (gr-iio counts
    attenuation, pyadi-iio and the profile count gain). Parameters as for
    :func:`make_pluto_source`.

    Raises
    ------
    RadioUnavailableError
        No Pluto answers at ``profile.uri``.
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


def _filter_source(profile) -> str:
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


def pluto_uri_from_env(default: Optional[str] = None) -> Optional[str]:
    """``$TOKENCOM_PLUTO_URI`` (used by the hardware tests), else ``default``."""
    return os.environ.get("TOKENCOM_PLUTO_URI") or default


def ad9361_rx_gain_range(lo_hz: float) -> Tuple[float, float]:
    """Manual RX gain range of the AD9361/AD9363 at LO ``lo_hz`` (dB)."""
    for edge, low, high in AD9361_RX_GAIN_BANDS:
        if lo_hz <= edge:
            return low, high
    return AD9361_RX_GAIN_BANDS[-1][1:]


class PlutoTxSink(FlowgraphTxSink):
    """Zero-filled continuous stream into gr-iio's sink.

    Each message is padded with ``burst_padding`` zeros up to a whole number
    of IIO buffers and the stream is zero-filled while idle, so the sink's
    buffer always flushes; :meth:`close` waits for the samples queued in the
    flowgraph and the kernel's buffers to go out.

    Parameters
    ----------
    profile : RadioProfile
        A validated ``pluto`` profile.
    log : callable
        Receives one-line progress messages.
    sink : gr block, optional
        Replaces the Pluto sink (tests use a vector sink behind a throttle).
    """

    def __init__(self, profile, log: Log, sink=None):
        self.profile = profile
        self.log = log
        sink = sink if sink is not None else make_pluto_sink(profile)
        super().__init__(BurstStreamSource(gap_len=0), sink, "tokencom_pluto_tx")
        self.posted = 0

    def send(self, iq: np.ndarray) -> None:
        padded = pad_to_buffer(iq, self.profile.burst_padding, self.profile.buffer_size)
        self.post("bursts", padded)
        self.posted += 1
        self.wait_sent()

    def wait_sent(self, timeout_s: float = 60.0) -> bool:
        """Block until the source has played out everything posted."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.source.bursts_in >= self.posted and self.source.queued_samples == 0:
                return True
            time.sleep(0.01)
        return False

    def close(self, interrupted: bool = False) -> None:
        if not interrupted:
            self.wait_sent()
            # The last samples are in the flowgraph's buffers and in the
            # kernel's IIO buffers (4 by default): let them reach the air.
            time.sleep(5 * self.profile.buffer_size / self.profile.sample_rate_hz + 0.1)
        super().close()


class PlutoBackend(RadioBackend):
    """ADALM-Pluto (AD9363) through gr-iio; ``-a`` sets the IIO URI."""

    name = "pluto"
    fields = frozenset({"uri", "center_freq_hz", "sample_rate_hz", "rf_bandwidth_hz",
                        "tx_gain_db", "rx_gain_db", "rx_gain_mode", "extended_tuning",
                        "fir_filter", "buffer_size"})
    address_field = "uri"
    has_gain = True

    def validate(self, profile, label: str) -> None:
        p = profile
        if not _PLUTO_URI.match(p.uri):
            raise ProfileError(label, "uri", f"{p.uri!r} is not an IIO context URI; use ip:HOST "
                               f"(e.g. ip:192.168.2.1), usb:BUS.DEV.INTF (see `iio_info -s`) "
                               f"or local:")
        lo_range = PLUTO_LO_EXTENDED if p.extended_tuning else PLUTO_LO_STOCK
        hint = "" if p.extended_tuning else (
            " (70 MHz..6 GHz needs extended_tuning: true, i.e. a Pluto set to AD9364 mode)")
        check_range(label, "center_freq_hz", p.center_freq_hz, *lo_range,
                    "Pluto " + ("extended" if p.extended_tuning else "stock") + " LO", hint=hint)
        if p.fir_filter not in PLUTO_FIR_FILTERS:
            raise ProfileError(label, "fir_filter", f"must be one of "
                               f"{', '.join(PLUTO_FIR_FILTERS)}, got {p.fir_filter!r}")
        if p.fir_filter == "off" and p.sample_rate_hz < PLUTO_RATE_MIN_NO_FIR:
            raise ProfileError(label, "sample_rate_hz", f"{format_rate(p.sample_rate_hz)} is below "
                               f"the Pluto's {format_rate(PLUTO_RATE_MIN_NO_FIR)} minimum without "
                               f"FIR decimation; set fir_filter: auto (down to 521 kS/s) or raise "
                               f"the rate")
        check_range(label, "sample_rate_hz", p.sample_rate_hz, PLUTO_RATE_MIN_FIR, PLUTO_RATE_MAX,
                    "Pluto sample-rate (with FIR decimation)", fmt=format_rate)
        bw_range = PLUTO_BW_EXTENDED if p.extended_tuning else PLUTO_BW_STOCK
        check_range(label, "rf_bandwidth_hz", p.rf_bandwidth_hz, *bw_range, "Pluto RF bandwidth")
        check_range(label, "tx_gain_db", p.tx_gain_db, *PLUTO_TX_GAIN,
                    "Pluto TX gain (= -attenuation)", fmt=format_db)
        steps = p.tx_gain_db / PLUTO_TX_GAIN_STEP
        if abs(steps - round(steps)) > 1e-9:
            raise ProfileError(label, "tx_gain_db", f"{p.tx_gain_db:g} dB is not a multiple of "
                               f"the Pluto's {PLUTO_TX_GAIN_STEP} dB attenuation step "
                               f"(e.g. {round(steps) * PLUTO_TX_GAIN_STEP:g})")
        if p.rx_gain_mode not in PLUTO_GAIN_MODES:
            raise ProfileError(label, "rx_gain_mode", f"must be one of "
                               f"{', '.join(PLUTO_GAIN_MODES)}, got {p.rx_gain_mode!r}")
        low, high = ad9361_rx_gain_range(p.center_freq_hz)
        check_range(label, "rx_gain_db", p.rx_gain_db, low, high,
                    f"AD9361 RX gain at {format_hz(p.center_freq_hz)}", fmt=format_db)
        if not 1024 <= p.buffer_size <= 1 << 24:
            raise ProfileError(label, "buffer_size", f"must be 1024..16777216 samples, got "
                               f"{p.buffer_size}")

    def hardware_label(self, profile) -> str:
        return f"ADALM-Pluto (AD9363) at {profile.uri}"

    def make_source(self, profile):
        return make_pluto_source(profile)

    def make_sink(self, profile, log: Log) -> PlutoTxSink:
        return PlutoTxSink(profile, log)
