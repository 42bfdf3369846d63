"""The radio backend interface: what every kind of radio offers the applications.

A backend validates the fields of its profiles, makes the ``complex64``
GNU Radio source the receiver reads, and makes the sink the transmitter
writes bursts of IQ into. The applications (``tokencom tx``/``rx``, the
loopback) look a backend up by the profile's ``backend`` name with
:func:`~tokencom_sdr.radio.backends.get_backend` and never compare backend
names themselves.

Backends: ``pluto`` (:mod:`.pluto`), ``usrp`` (:mod:`.usrp`), ``zmq``
(:mod:`.zmq_radio`), ``sigmf`` (:mod:`.sigmf_backend`: a recording file
played as a source, written as a sink) and ``loopback`` (:mod:`.loopback`:
the software channel in one process).
"""

from __future__ import annotations

from typing import Callable, FrozenSet, Optional

__all__ = ["RadioBackend", "TxSink", "Log"]

#: Receives one-line progress messages (the CLI prints them to stderr).
Log = Callable[[str], None]


class TxSink:
    """Where the transmitter puts its IQ: one call of :meth:`send` per message."""

    def send(self, iq) -> None:
        """Send one message's IQ (``complex64``, bursts with their gaps)."""
        raise NotImplementedError

    def close(self, interrupted: bool = False) -> None:
        """Let everything sent reach the air (unless ``interrupted``), then release the device."""
        raise NotImplementedError


class RadioBackend:
    """One kind of radio. Subclasses set the class attributes and override
    the methods that apply; the base class raises a clear error for the
    others.

    Attributes
    ----------
    name : str
        The profile's ``backend`` value.
    fields : frozenset of str
        Profile fields that apply to this backend (beyond the common ones).
    address_field : str or None
        The field ``-a/--args`` sets (None: the flag does not apply).
    has_gain : bool
        Whether ``-g`` applies (it sets ``tx_gain_db`` or ``rx_gain_db``).
    loops_back : bool
        The transmitter's IQ comes back to a receiver in the same process
        (the loopback): :meth:`make_sink` gives an
        :class:`~tokencom_sdr.radio.loopback.IqCollector`, whose samples
        ``tokencom tx`` runs through :meth:`make_channel` into the receiver,
        and prints what was received.
    finite_source : bool
        The source of :meth:`make_source` ends by itself (a recording): the
        receiver stops at its end instead of waiting for Ctrl-C.
    """

    name: str = ""
    fields: FrozenSet[str] = frozenset()
    address_field: Optional[str] = None
    has_gain: bool = False
    loops_back: bool = False
    finite_source: bool = False

    def validate(self, profile, label: str) -> None:
        """Check the backend's fields; raise ``ProfileError`` naming the first bad one."""

    def device_address(self, profile) -> str:
        """URI, device args or endpoint: what ``-a/--args`` sets ('' if none)."""
        return "" if self.address_field is None else str(getattr(profile, self.address_field))

    def hardware_label(self, profile) -> str:
        """Short description of the hardware, for recordings (SigMF ``core:hw``)."""
        return self.name

    def make_source(self, profile):
        """The ``complex64`` GNU Radio source the receiver reads.

        Raises
        ------
        RadioUnavailableError
            The device is missing or the address is unusable.
        ValueError
            The backend has no receiver of its own.
        """
        raise ValueError(f"the {self.name} backend has no receiver of its own")

    def make_sink(self, profile, log: Log) -> TxSink:
        """The transmitter's sink (opens the device).

        Raises
        ------
        RadioUnavailableError
            The device is missing or the address cannot be used.
        """
        raise ValueError(f"the {self.name} backend cannot transmit")

    def make_channel(self, profile):
        """The software channel this backend puts between TX and RX, or None."""
        return None
