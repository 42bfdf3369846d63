"""ZMQ virtual radio: complex64 IQ over PUSH/PULL between processes or hosts.

The TX binds a PUSH socket and sends raw ``complex64`` samples (native
little-endian, no tags), which is exactly what gr-zeromq's ``pull_source``
with ``pass_tags=False`` expects; so the command-line TX can feed the
``zmq_rx.grc`` flowgraph and GRC's ``zmq_tx.grc`` can feed ``tokencom rx``.
The RX connects with :class:`~.zmq_source.ZmqIqSource`, which receives
what gr-zeromq's ``pull_source`` would but checks every message first (one
malformed message aborts ``pull_source``'s whole process).

Why PUSH/PULL and this sender (measured on this stack): PUSH/PULL carries
~23 MS/s between processes without loss, while PUB/SUB dropped 74% of
samples. A PUSH socket holds what it cannot send yet, and blocks when no
receiver is connected; gr-zeromq's own sink closes with zero linger, so a
sender that exits right after its last sample loses up to a second of IQ.
:class:`ZmqIqSender` instead waits for a receiver before its first sample
and, on :meth:`~ZmqIqSender.close`, lingers until ZMQ has handed every queued
message to the receiver (or ``drain_timeout_s`` passes).

:class:`ZmqBackend` is the ``zmq`` radio backend: ``-a`` sets the endpoint,
:class:`ZmqTxSink` sends, :func:`make_pull_source` receives.
"""

import re
import time
from typing import Callable, Optional, Tuple

import numpy as np

from .backend import Log, RadioBackend, TxSink
from .checks import ProfileError
from .errors import RadioUnavailableError

__all__ = ["ZmqBackend", "ZmqTxSink", "ZmqIqSender", "make_pull_source", "parse_zmq_address",
           "CHUNK_SAMPLES"]

#: Samples per ZMQ message (64 KiB of complex64).
CHUNK_SAMPLES = 8192

_ZMQ_ADDRESS = re.compile(r"^(tcp://(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\s]+):(?P<port>\d+)|ipc://\S+)$")


def parse_zmq_address(address: str) -> Tuple[str, Optional[str], Optional[int]]:
    """``tcp://127.0.0.1:5555`` -> ``("tcp", "127.0.0.1", 5555)``;
    ``ipc:///tmp/x`` -> ``("ipc", None, None)``.

    Raises
    ------
    ValueError
        Not ``tcp://HOST:PORT`` or ``ipc://PATH``, or a port above 65535.
    """
    match = _ZMQ_ADDRESS.match(address or "")
    if not match:
        raise ValueError(f"{address!r} is not a ZMQ endpoint; write tcp://HOST:PORT "
                         f"(e.g. tcp://127.0.0.1:5555) or ipc://PATH")
    if address.startswith("ipc://"):
        return "ipc", None, None
    port = int(match.group("port"))
    if port > 65535:
        raise ValueError(f"port {port} in {address!r} is above 65535")
    return "tcp", match.group("host").strip("[]"), port


def _bind_address(address: str) -> str:
    """``tcp://host:0`` -> ``tcp://host:*`` (ZMQ's spelling of "any free port")."""
    kind, host, port = parse_zmq_address(address)
    if kind == "tcp" and port == 0:
        return address.rsplit(":", 1)[0] + ":*"
    return address


class ZmqIqSender:
    """Send IQ bursts to one ZMQ PULL receiver, without losing the tail.

    Parameters
    ----------
    address : str
        Endpoint to bind, e.g. ``tcp://127.0.0.1:5555``; port 0 picks a free
        port, see :attr:`endpoint`.
    hwm : int
        Send high-water mark in messages (of :data:`CHUNK_SAMPLES` samples).
    wait_timeout_s : float
        How long :meth:`send` waits for a receiver to connect (or for room
        under the high-water mark) before giving up.
    drain_timeout_s : float
        How long :meth:`close` waits for queued samples to leave.
    log : callable
        Receives one-line progress messages (waiting, draining).

    Raises
    ------
    RadioUnavailableError
        The address cannot be bound (in use, bad interface).
    """

    def __init__(self, address: str, hwm: int = 1000, wait_timeout_s: float = 60.0,
                 drain_timeout_s: float = 30.0, log: Optional[Callable[[str], None]] = None):
        import zmq

        self._zmq = zmq
        self.address = address
        self.wait_timeout_s = float(wait_timeout_s)
        self.drain_timeout_s = float(drain_timeout_s)
        self.log = log or (lambda message: None)
        self.samples_sent = 0
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.PUSH)
        self._socket.setsockopt(zmq.SNDHWM, int(hwm))
        try:
            self._socket.bind(_bind_address(address))
        except zmq.ZMQError as error:
            self._socket.close(linger=0)
            self._context.term()
            raise RadioUnavailableError("zmq", address, f"cannot bind: {error}") from None
        #: The bound endpoint, with the real port when 0 was asked for.
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._connected = False
        self._closed = False

    def wait_for_receiver(self, timeout_s: Optional[float] = None) -> bool:
        """Block until a receiver is connected and can take a message."""
        timeout_s = self.wait_timeout_s if timeout_s is None else timeout_s
        poller = self._zmq.Poller()
        poller.register(self._socket, self._zmq.POLLOUT)
        deadline = time.monotonic() + timeout_s
        told = False
        while True:
            remaining = deadline - time.monotonic()
            if dict(poller.poll(timeout=max(0, min(remaining, 0.5)) * 1000)).get(self._socket):
                self._connected = True
                return True
            if remaining <= 0:
                return False
            if not told and not self._connected:
                self.log(f"waiting for a receiver to connect to {self.endpoint}")
                told = True

    def send(self, iq: np.ndarray) -> None:
        """Queue ``iq`` (``complex64``) for the receiver, in order.

        Raises
        ------
        RadioUnavailableError
            No receiver took the samples within ``wait_timeout_s``.
        """
        samples = np.ascontiguousarray(iq, dtype=np.complex64)
        for start in range(0, len(samples), CHUNK_SAMPLES):
            chunk = samples[start:start + CHUNK_SAMPLES]
            if not self.wait_for_receiver():
                raise RadioUnavailableError(
                    "zmq", self.endpoint, f"no receiver connected within {self.wait_timeout_s:g} s",
                    hint="start `tokencom rx --radio zmq -a ADDRESS` (it connects to the TX), "
                         "and check the address and port on both sides")
            self._socket.send(chunk.tobytes(), copy=True)
            self.samples_sent += len(chunk)

    def close(self) -> bool:
        """Wait until every queued sample has left (or ``drain_timeout_s``).

        Returns
        -------
        bool
            True if ZMQ finished before the timeout (the receiver has the
            samples in its queue), False if samples may have been dropped.
        """
        if self._closed:
            return True
        self._closed = True
        self.log(f"draining: waiting up to {self.drain_timeout_s:g} s for the receiver to take "
                 f"the queued samples")
        start = time.monotonic()
        self._socket.close(linger=int(self.drain_timeout_s * 1000))
        self._context.term()  # blocks until the queue is empty or linger expires
        return time.monotonic() - start < self.drain_timeout_s - 0.05

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_pull_source(address: str, timeout_ms: int = 100, hwm: int = -1):
    """PULL source of ``complex64`` that connects to ``address`` and
    survives malformed messages (:class:`~.zmq_source.ZmqIqSource`).

    Raises
    ------
    RadioUnavailableError
        The address is malformed or has port 0 (the RX must know the port).
    """
    from .zmq_source import ZmqIqSource

    try:
        kind, host, port = parse_zmq_address(address)
    except ValueError as error:
        raise RadioUnavailableError("zmq", address, str(error)) from None
    if kind == "tcp" and port == 0:
        raise RadioUnavailableError("zmq", address, "the receiver needs the TX's actual port, "
                                    "not 0", hint="use the endpoint that `tokencom tx` prints")
    try:
        return ZmqIqSource(address, timeout_ms, hwm)
    except Exception as error:  # noqa: BLE001 - pyzmq's errors: a bad endpoint
        raise RadioUnavailableError("zmq", address, str(error)) from None


class ZmqTxSink(TxSink):
    """IQ to a ZMQ PULL receiver, through a :class:`ZmqIqSender` bound to the profile's address.

    Attributes
    ----------
    sender : ZmqIqSender
        Its ``endpoint`` is the bound address, with the real port when the
        profile asked for port 0.

    Raises
    ------
    RadioUnavailableError
        The address cannot be bound.
    """

    def __init__(self, profile, log: Log):
        self.sender = ZmqIqSender(profile.address, profile.hwm, profile.wait_timeout_s,
                                  profile.drain_timeout_s, log)
        self.log = log
        # Scripts and tests read the real port (after port 0) from this line.
        log(f"zmq: bound to {self.sender.endpoint}")

    def send(self, iq: np.ndarray) -> None:
        self.sender.send(iq)

    def close(self, interrupted: bool = False) -> None:
        if interrupted:
            self.sender.drain_timeout_s = 0.5
        if not self.sender.close() and not interrupted:
            self.log("zmq: warning: the receiver did not take all samples before drain_timeout_s")


class ZmqBackend(RadioBackend):
    """The ZMQ virtual radio: the TX binds a PUSH socket, the RX connects a PULL source."""

    name = "zmq"
    fields = frozenset({"address", "sample_rate_hz", "center_freq_hz", "hwm", "wait_timeout_s",
                        "drain_timeout_s"})
    address_field = "address"

    def validate(self, profile, label: str) -> None:
        p = profile
        try:
            parse_zmq_address(p.address)
        except ValueError as error:
            raise ProfileError(label, "address", str(error)) from None
        if p.hwm < 1:
            raise ProfileError(label, "hwm", f"the ZMQ high-water mark must be >= 1 message, "
                               f"got {p.hwm}")
        if not p.wait_timeout_s > 0:
            raise ProfileError(label, "wait_timeout_s", f"must be > 0 s, got {p.wait_timeout_s:g}")
        if not p.drain_timeout_s > 0:
            raise ProfileError(label, "drain_timeout_s", f"must be > 0 s, got "
                               f"{p.drain_timeout_s:g}")

    def hardware_label(self, profile) -> str:
        return f"ZMQ virtual radio ({profile.address})"

    def make_source(self, profile):
        return make_pull_source(profile.address)

    def make_sink(self, profile, log: Log) -> ZmqTxSink:
        return ZmqTxSink(profile, log)
