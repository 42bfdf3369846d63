"""The plumbing the TokenCom decoder blocks share: PDUs in, one PDU per message out.

Everything that decides what a message is (grouping, soft reassembly,
re-decoding, recovery) is the receiver library's
(:class:`~tokencom_sdr.link.receiver.StreamReceiver`). A decoder block only
turns its input PDUs into :class:`~tokencom_sdr.phy.received_burst.ReceivedBurst`
s and queues them with their arrival time, and one worker thread hands them
to the library in order, times out messages waiting for lost packets, and
publishes what the library delivers. GNU Radio's message handler never waits
for a recovery, and a slow recovery never times out a message whose packets
are still queued.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Dict, List, Optional

import pmt
from gnuradio import gr

from ..link.receiver import STOPPED, ReceivedMessage, StreamReceiver, TokenReceiver
from ..phy.received_burst import ReceivedBurst
from ..tokens.frame import Modality

__all__ = ["MessageDecoderBlock"]


class MessageDecoderBlock(gr.basic_block):
    """Base of the TokenCom decoder blocks (message ports only).

    Input port ``pdus``: the OFDM receiver's PDUs (or any byte PDUs).
    Subclasses name their output port and turn a :class:`ReceivedMessage`
    into its output with :meth:`publish`.

    Parameters
    ----------
    name : str
        Block name.
    out_port : str
        Name of the output message port.
    modality : Modality
        The messages this block delivers (others are counted and skipped).
    receiver : TokenReceiver
    timeout : float
        Seconds of silence after a message's last CRC-good packet before it
        is delivered with what arrived (> 0).
    max_messages : int
        How many delivered messages :attr:`messages` keeps.

    Attributes
    ----------
    messages : list of dict
        The last delivered messages' records, oldest first (see the subclass).
    counters : dict
        The receiver library's counters (``bursts``, ``bursts_failed``,
        ``packets_late``, ``messages``, ``messages_skipped``, ...) plus
        ``pdus_in``, ``pdus_malformed`` (not byte PDUs) and ``messages_delivered``.
    """

    def __init__(self, name: str, out_port: str, modality: Modality, receiver: TokenReceiver,
                 timeout: float, max_messages: int):
        gr.basic_block.__init__(self, name=name, in_sig=None, out_sig=None)
        self._block_name = name
        if not float(timeout) > 0.0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if int(max_messages) < 1:
            raise ValueError(f"max_messages must be >= 1, got {max_messages}")
        self.max_messages = int(max_messages)
        self.stream = StreamReceiver(receiver, float(timeout), modalities=[modality])
        self.messages: List[Dict[str, object]] = []
        self.counters = self.stream.counters
        self.counters.update(pdus_in=0, pdus_malformed=0, messages_delivered=0)
        self._out = pmt.intern(out_port)
        self._cond = threading.Condition(threading.RLock())
        # (burst, arrival time), filled by GNU Radio's handler thread, which
        # must never wait for the lock a recovery holds.
        self._inbox: "queue.SimpleQueue" = queue.SimpleQueue()
        self._wake = threading.Event()
        self._worker: Optional[threading.Thread] = None
        self._closing = False
        self.message_port_register_in(pmt.intern("pdus"))
        self.message_port_register_out(self._out)
        self.set_msg_handler(pmt.intern("pdus"), self._handle_pdu)

    # ------------------------------------------------------------------ API
    @property
    def timeout(self) -> float:
        return self.stream.assembler.timeout_s

    def set_timeout(self, timeout: float) -> None:
        if not float(timeout) > 0.0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        with self._cond:
            self.stream.assembler.timeout_s = float(timeout)
        self._wake.set()

    def handle_pdu(self, msg) -> None:
        """Process one PDU as if it arrived on port ``pdus``, and return once
        the receiver has taken it (for tests and for use outside a flowgraph)."""
        self._handle_pdu(msg)
        with self._cond:
            self._process_inbox()
        self._ensure_worker()

    def wait_for_messages(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` messages were delivered in total, or
        ``timeout`` seconds pass. Returns True if they were."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.counters["messages_delivered"] < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    @property
    def pending_message_ids(self) -> List[int]:
        with self._cond:
            return self.stream.assembler.pending_ids

    def publish(self, message: ReceivedMessage):
        """``(record dict, output PDU)`` of one delivered message (subclasses)."""
        raise NotImplementedError

    # ------------------------------------------------------- GNU Radio hooks
    def start(self):
        self._ensure_worker()
        return True

    def stop(self):
        with self._cond:
            self._closing = True
        self._wake.set()
        worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=30.0)
        with self._cond:
            self._closing = False
            self._process_inbox()
            self._deliver_safely(lambda: self.stream.flush(STOPPED))
        return True

    # ------------------------------------------------------------ internals
    def _ensure_worker(self) -> None:
        with self._cond:
            if self._worker is None or not self._worker.is_alive():
                self._closing = False
                self._worker = threading.Thread(target=self._watch, daemon=True,
                                               name=f"{self._block_name}_worker")
                self._worker.start()

    def _watch(self) -> None:
        while True:
            with self._cond:
                if self._closing:
                    return
                # Bursts that arrived before `now` go in before messages are
                # timed out at `now`.
                now = time.monotonic()
                self._process_inbox()
                self._deliver_safely(lambda: self.stream.expire(now))
                deadline = self.stream.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._wake.wait(timeout)
            self._wake.clear()

    def _process_inbox(self) -> None:
        """Give every queued burst to the receiver, in arrival order (lock held)."""
        while True:
            try:
                burst, arrived = self._inbox.get_nowait()
            except queue.Empty:
                return
            self._deliver_safely(lambda: self.stream.push(burst, arrived))

    def _handle_pdu(self, msg) -> None:
        # GNU Radio's handler thread: parse, queue, wake the worker. Nothing slow.
        arrived = time.monotonic()
        self.counters["pdus_in"] += 1
        try:
            burst = ReceivedBurst.from_pdu(msg)
        except ValueError:
            self.counters["pdus_malformed"] += 1
            return
        self._inbox.put((burst, arrived))
        self._wake.set()

    def _deliver_safely(self, receive) -> None:
        # An exception in a message handler would kill GNU Radio's handler
        # thread and hang the flowgraph: log it and go on.
        try:
            self._deliver(receive())
        except Exception as error:  # noqa: BLE001
            self.logger.error(f"message lost to an unexpected error: {error!r}")

    def _deliver(self, messages: List[ReceivedMessage]) -> None:
        for message in messages:
            record, pdu = self.publish(message)
            self.messages.append(record)
            del self.messages[:-self.max_messages]
            self.counters["messages_delivered"] += 1
            self.message_port_pub(self._out, pdu)
        if messages:
            self._cond.notify_all()
