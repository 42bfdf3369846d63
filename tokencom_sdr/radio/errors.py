"""One clear line when a radio is missing, instead of a driver's traceback.

The drivers fail in different and unhelpful ways when no device answers
(all checked on GNU Radio 3.10.5 / libiio 0.24 / UHD 4.3):

* pyadi-iio's ``adi.Pluto(uri)`` raises a bare ``Exception("No device found")``;
* gr-iio's ``fmcomms2_source_fc32``/``sink_fc32`` raise
  ``RuntimeError("Unable to create context")`` (or ``"Device not found"`` when
  the context has no AD9361);
* pylibiio's ``iio.Context(uri)`` raises ``ConnectionRefusedError``/``OSError``;
* gr-uhd's ``usrp_source``/``usrp_sink`` raise ``RuntimeError("LookupError:
  KeyError: No devices found for ...")``, and UHD itself a ``LookupError``.

:func:`radio_unavailable` turns any of these into a
:class:`RadioUnavailableError` that names the device, the URI or device
arguments, and what to check. Other exceptions are not ours to explain and
are left alone (see :func:`is_no_device_error`).
"""

from typing import Optional, Sequence

#: What to check, per device kind; printed after the one-line reason.
_CHECKS = {
    "pluto": ("the Pluto is plugged in and its LED blinks; `iio_info -s` lists it; "
              "the URI is right (ip:192.168.2.1 over USB networking, or usb:BUS.DEV.INTF "
              "from `iio_info -s`); no other program holds it"),
    "usrp": ("the USRP is powered and connected (B2xx: a USB 3 port; X3xx: its Ethernet link and "
             "IP); `uhd_find_devices --args \"ARGS\"` lists it; the FPGA images are installed "
             "(`uhd_images_downloader`); udev rules allow USB access"),
    "zmq": ("the address is tcp://HOST:PORT or ipc://PATH; the port is free (TX binds) or the "
            "TX is running (RX connects)"),
}

_LABELS = {"pluto": "PlutoSDR", "usrp": "USRP", "zmq": "ZMQ endpoint"}

# Substrings of driver messages that mean "no such device / cannot reach it".
_NO_DEVICE_MARKERS: Sequence[str] = (
    "no device found", "unable to create context", "device not found", "no devices found",
    "connection refused", "no such device", "timed out", "host is unreachable",
    "network is unreachable", "name or service not known", "bad uri", "invalid argument",
    "no route to host", "lookuperror", "keyerror",
)


class RadioUnavailableError(RuntimeError):
    """A radio could not be opened. ``str()`` is one line meant for the user.

    Attributes
    ----------
    device : str
        ``"pluto"``, ``"usrp"`` or ``"zmq"``.
    address : str
        The URI, device arguments or endpoint that was tried.
    reason : str
        The driver's own message, condensed to one line.
    """

    def __init__(self, device: str, address: str, reason: str, hint: Optional[str] = None):
        self.device = device
        self.address = address
        self.reason = _one_line(reason)
        self.hint = hint if hint is not None else _CHECKS.get(device, "")
        label = _LABELS.get(device, device)
        message = f"{label} not available at {address!r}: {self.reason}"
        if self.hint:
            message += f". Check: {self.hint}"
        super().__init__(message)


def _one_line(text: str) -> str:
    """Collapse a multi-line driver message (UHD prints device addresses over
    several lines) into one line without trailing punctuation."""
    parts = [p.strip() for p in str(text).replace("\r", "\n").split("\n")]
    line = " ".join(p for p in parts if p)
    return line.rstrip(" .:-") or "no reason given"


def is_no_device_error(error: BaseException) -> bool:
    """True for the exceptions drivers raise when the device is absent.

    Matches by type first (``LookupError``, ``ConnectionError``, a *bare*
    ``Exception`` from pyadi-iio) and then by message for the ``RuntimeError``
    and ``OSError`` that gr-iio, gr-uhd and pylibiio raise. A ``ValueError``,
    ``TypeError`` etc. is a programming or configuration error and is not
    matched.
    """
    if isinstance(error, (LookupError, ConnectionError)):
        return True
    message = str(error).lower()
    # pyadi-iio raises exactly Exception("No device found"); only that exact
    # type, so that subclasses we do not know about keep their traceback.
    if type(error) is Exception:  # noqa: E721 - deliberate exact-type check
        return "no device" in message or "not found" in message
    if isinstance(error, (RuntimeError, OSError)):
        return any(marker in message for marker in _NO_DEVICE_MARKERS)
    return False


def radio_unavailable(device: str, address: str, error: BaseException) -> RadioUnavailableError:
    """The :class:`RadioUnavailableError` for ``error``.

    Use as ``raise radio_unavailable("pluto", uri, e) from None`` inside an
    ``except`` that has checked :func:`is_no_device_error`.
    """
    return RadioUnavailableError(device, address, f"{type(error).__name__}: {error}"
                                 if type(error) is not RuntimeError else str(error))
