"""The plumbing the TokenCom encoder blocks share: messages in, packet PDUs out.

What a message becomes (tokens, packets) is the tokenizer's and the link
layer's business; an encoder block only schedules: it sends its configured
message when the flowgraph starts (once, or ``repeat`` times every
``interval`` seconds), and any message that arrives on its input port, each
under a new message id, from a worker thread so that the scheduler never waits.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from typing import Deque, Dict, List, Optional, Tuple

import pmt
from gnuradio import gr

from ..link import make_aggregation, packetize
from ..link.packet import MAX_MESSAGE_ID
from ..tokens.frame import TokenFrame
from .pdu import make_byte_pdu, pdu_bytes

__all__ = ["MessageEncoderBlock"]

_STOP = object()


class MessageEncoderBlock(gr.basic_block):
    """Base of the TokenCom encoder blocks (message ports only).

    Subclasses implement :meth:`to_frame` (one message -> a TokenFrame) and
    may override :meth:`read_port` (an input PMT -> a message, or None to
    drop it; by default a UTF-8 string).

    Ports
    -----
    <in_port> (in, message)
        Messages to send at any time (the subclass says what they are).
    pdus (out, message)
        One PDU per packet: ``(meta, u8vector)`` with ``meta`` holding
        ``message_id``, ``seq`` and ``num_packets``; the bytes are the encoded
        packet (header, token ids, CRC-32).

    Parameters
    ----------
    name, in_port : str
    message : object or None
        Sent when the flowgraph starts; None or empty sends nothing.
    tokens_per_packet : int
        Tokens per packet (>= 1).
    aggregation : str
        ``"interleaved"`` (token i -> packet i mod P) or ``"sequential"``.
    repeat : int
        Transmissions of ``message`` when ``interval > 0``; 0 means until the
        flowgraph stops. Ignored when ``interval == 0``.
    interval : float
        Seconds between repetitions of ``message``; 0 sends it once.
    message_gap : float
        Pause in seconds after each message's packets, before the next.
    first_message_id : int
        Message id of the first message, ``0..65535`` (then incrementing,
        wrapping at 65536, so the receiver tells repetitions apart).
    """

    def __init__(self, name: str, in_port: str, message, tokens_per_packet: int = 32,
                 aggregation: str = "interleaved", repeat: int = 1, interval: float = 0.0,
                 message_gap: float = 0.0, first_message_id: int = 0):
        gr.basic_block.__init__(self, name=name, in_sig=None, out_sig=None)
        if int(tokens_per_packet) < 1:
            raise ValueError(f"tokens_per_packet must be >= 1, got {tokens_per_packet}")
        if int(repeat) < 0:
            raise ValueError(f"repeat must be >= 0 (0 = until stopped), got {repeat}")
        if not float(interval) >= 0.0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval}")
        if not float(message_gap) >= 0.0:
            raise ValueError(f"message_gap must be >= 0 seconds, got {message_gap}")
        if not 0 <= int(first_message_id) <= MAX_MESSAGE_ID:
            raise ValueError(f"first_message_id must be 0..{MAX_MESSAGE_ID}, got {first_message_id}")
        # Fails early (at flowgraph construction) on an unknown strategy name.
        self.aggregation = make_aggregation(aggregation, int(tokens_per_packet))
        self.message = message
        self.repeat = int(repeat)
        self.interval = float(interval)
        self.message_gap = float(message_gap)
        self._next_id = int(first_message_id)
        #: The most recent messages sent: dicts with ``message_id``,
        #: ``num_packets``, ``num_tokens``, ``time`` (and what the subclass adds).
        self.sent: Deque[Dict[str, object]] = collections.deque(maxlen=1000)
        self._queue: "queue.Queue" = queue.Queue()
        self._stop_event = threading.Event()
        self._worker: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._block_name = name
        self._in_port = in_port
        self.message_port_register_in(pmt.intern(in_port))
        self.message_port_register_out(pmt.intern("pdus"))
        self.set_msg_handler(pmt.intern(in_port), self._handle_input)

    # ------------------------------------------------------------ subclasses
    def to_frame(self, message) -> TokenFrame:
        """Tokenize one message (raise ValueError if it cannot be sent)."""
        raise NotImplementedError

    def read_port(self, msg):
        """The message an input PMT carries, or None (dropped with a warning).
        By default: a string, as a PMT symbol or a PDU of UTF-8 bytes."""
        if pmt.is_symbol(msg):
            return pmt.symbol_to_string(msg)
        data = pdu_bytes(msg)
        if data is None:
            self.logger.warn(f"{self._in_port} port: expected a string or a PDU of UTF-8 "
                             f"bytes; message dropped")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as err:
            self.logger.warn(f"{self._in_port} port: PDU is not valid UTF-8 ({err}); "
                             f"message dropped")
            return None

    def describe(self, message) -> Dict[str, object]:
        """Extra fields of :attr:`sent` for one message."""
        return {}

    # ------------------------------------------------------------------ API
    def encode(self, message) -> Tuple[int, List[bytes]]:
        """``(message_id, packets)`` of ``message`` under the next message id,
        without sending them (the id is consumed)."""
        message_id, packets, _ = self._encode(message)
        return message_id, packets

    def send(self, message) -> None:
        """Queue ``message`` for transmission (thread-safe; returns at once)."""
        self._queue.put(message)

    def set_message_gap(self, message_gap: float) -> None:
        self.message_gap = max(0.0, float(message_gap))

    # ------------------------------------------------------- GNU Radio hooks
    def start(self):
        self._stop_event.clear()
        self._worker = threading.Thread(target=self._run, name=self._block_name, daemon=True)
        self._worker.start()
        return True

    def stop(self):
        self._stop_event.set()
        self._queue.put(_STOP)
        if self._worker is not None:
            self._worker.join(timeout=5.0)
            self._worker = None
        return True

    # ------------------------------------------------------------ internals
    def _encode(self, message) -> Tuple[int, List[bytes], int]:
        frame = self.to_frame(message)
        with self._lock:
            message_id = self._next_id
            self._next_id = (message_id + 1) % (MAX_MESSAGE_ID + 1)
        return message_id, packetize(frame, message_id, self.aggregation), len(frame)

    def _handle_input(self, msg) -> None:
        message = self.read_port(msg)
        if message is not None:
            self.send(message)

    def _run(self) -> None:
        remaining = self.repeat if self.interval > 0 else 1
        next_due = time.monotonic() if _present(self.message) else None
        while not self._stop_event.is_set():
            timeout = None if next_due is None else max(0.0, next_due - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP or self._stop_event.is_set():
                break
            if item is not None:
                self._send_now(item)
            if next_due is not None and time.monotonic() >= next_due:
                self._send_now(self.message)
                remaining -= 1
                if self.interval > 0 and (self.repeat == 0 or remaining > 0):
                    next_due += self.interval
                else:
                    next_due = None

    def _send_now(self, message) -> None:
        if not _present(message):
            self.logger.warn("empty message: nothing to send")
            return
        try:
            message_id, packets, num_tokens = self._encode(message)
        except (ValueError, OSError) as err:
            self.logger.error(f"cannot encode message: {err}")
            return
        for seq, packet in enumerate(packets):
            if self._stop_event.is_set():
                return
            meta = {"message_id": message_id, "seq": seq, "num_packets": len(packets)}
            self.message_port_pub(pmt.intern("pdus"), make_byte_pdu(packet, meta))
        self.sent.append(dict(self.describe(message), message_id=message_id,
                              num_packets=len(packets), num_tokens=num_tokens, time=time.time()))
        if self.message_gap > 0:
            self._stop_event.wait(self.message_gap)


def _present(message) -> bool:
    """Whether ``message`` is something to send (not None, not empty)."""
    if message is None:
        return False
    try:
        return len(message) > 0
    except TypeError:
        return True
