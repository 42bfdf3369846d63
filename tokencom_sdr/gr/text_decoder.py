"""TokenCom Text Decoder: received packet PDUs in, text with metrics out (a GNU Radio block)."""

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Deque, Dict, List, Optional, Set

import numpy as np
import pmt
from gnuradio import gr

from ..link import PacketError, ReassemblyError, depacketize, parse_packet
from ..tokens.frame import Modality
from ..tokens.text_bpe import ERASED_MARKER, TextTokenizer
from .pdu import make_byte_pdu, pdu_bytes

#: Why a message was delivered (``reason`` in its metrics).
COMPLETE = "complete"      # every packet of the message arrived
TIMEOUT = "timeout"        # no packet of it for ``timeout`` seconds
SUPERSEDED = "superseded"  # packets of another message started arriving
STOPPED = "stopped"        # the flowgraph stopped with the message pending

#: Ids of recently delivered messages kept to drop their late packets.
_RECENT_IDS = 64


@dataclass
class _Pending:
    """Packets of one message gathered so far."""

    message_id: int
    num_packets: int
    packets: List[bytes] = field(default_factory=list)
    seqs: Set[int] = field(default_factory=set)
    deadline: float = 0.0
    first_time: float = 0.0


class TokenTextDecoder(gr.basic_block):
    """Packets (with losses) -> tokens with erasures -> text, one PDU per message.

    A message-only block that sits after the OFDM receiver. It checks every
    PDU with the link layer's parser (CRC-32 and header fields): a malformed
    PDU is counted and dropped, never delivered. Valid packets are grouped by
    message id. A message is delivered when

    * all of its packets have arrived (``reason == "complete"``), or
    * ``timeout`` seconds pass after its last packet (``"timeout"``), or
    * packets of another message id start arriving (``"superseded"``), or
    * the flowgraph stops while it is pending (``"stopped"``).

    Tokens of lost packets become erasures, shown in the text as ``'⁇'``.
    Late packets of a message already delivered are dropped.

    Ports
    -----
    pdus (in, message)
        Raw packet bytes as PDUs ``(meta, u8vector)``, e.g. from the OFDM RX.
    text (out, message)
        One PDU per message: data is the received text in UTF-8; meta holds
        ``message_id``, ``packets_received``, ``packets_expected``,
        ``packet_error_rate``, ``token_erasure_rate``, ``tokens``,
        ``pdus_rejected`` (malformed PDUs since the previous delivered
        message), ``complete`` and ``reason``.

    Parameters
    ----------
    timeout : float
        Seconds of silence after a message's last packet before it is
        delivered with erasures (> 0).
    print_messages : bool
        Also print one line per delivered message.
    max_messages : int
        How many delivered messages :attr:`messages` keeps.
    tokenizer : TextTokenizer, optional
        Defaults to :meth:`TextTokenizer.default`; must match the encoder's.

    Attributes
    ----------
    messages : list of dict
        The last delivered messages, oldest first: the metrics above plus
        ``text`` and ``time`` (wall clock). Read it from Python while the
        flowgraph runs; :meth:`wait_for_messages` waits for new ones.
    counters : dict
        Totals since construction: ``pdus_in``, ``pdus_rejected``,
        ``packets_late``, ``packets_not_text``, ``messages_delivered``.
    """

    def __init__(self, timeout: float = 1.0, print_messages: bool = False,
                 max_messages: int = 1000, tokenizer: Optional[TextTokenizer] = None):
        gr.basic_block.__init__(self, name="tokencom_text_decoder", in_sig=None, out_sig=None)
        if not float(timeout) > 0.0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if int(max_messages) < 1:
            raise ValueError(f"max_messages must be >= 1, got {max_messages}")
        self.timeout = float(timeout)
        self.print_messages = bool(print_messages)
        self.max_messages = int(max_messages)
        self.tokenizer = tokenizer or TextTokenizer.default()

        self.messages: List[Dict[str, object]] = []
        self.counters = {"pdus_in": 0, "pdus_rejected": 0, "packets_late": 0,
                         "packets_not_text": 0, "messages_delivered": 0}
        self._pending: "collections.OrderedDict[int, _Pending]" = collections.OrderedDict()
        self._recent: Deque[int] = collections.deque(maxlen=_RECENT_IDS)
        self._rejected_since_delivery = 0
        self._cond = threading.Condition(threading.RLock())
        self._watchdog: Optional[threading.Thread] = None
        self._closing = False

        self.message_port_register_in(pmt.intern("pdus"))
        self.message_port_register_out(pmt.intern("text"))
        self.set_msg_handler(pmt.intern("pdus"), self._handle_pdu)

    # ------------------------------------------------------------------ API
    def handle_pdu(self, msg) -> None:
        """Process one PDU as if it arrived on port ``pdus`` (for tests and
        for use outside a flowgraph)."""
        self._handle_pdu(msg)

    def set_timeout(self, timeout: float) -> None:
        if not float(timeout) > 0.0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        with self._cond:
            self.timeout = float(timeout)
            self._cond.notify_all()

    def flush(self, reason: str = TIMEOUT) -> None:
        """Deliver every pending message now."""
        with self._cond:
            for message_id in list(self._pending):
                self._deliver_locked(message_id, reason)

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
            return list(self._pending)

    # ------------------------------------------------------- GNU Radio hooks
    def start(self):
        self._ensure_watchdog()
        return True

    def stop(self):
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(timeout=5.0)
        with self._cond:
            self._closing = False
            for message_id in list(self._pending):
                self._deliver_locked(message_id, STOPPED)
        return True

    # ------------------------------------------------------------ internals
    def _ensure_watchdog(self) -> None:
        with self._cond:
            if self._watchdog is None or not self._watchdog.is_alive():
                self._closing = False
                self._watchdog = threading.Thread(target=self._watch,
                                                  name="tokencom_text_decoder_timeout",
                                                  daemon=True)
                self._watchdog.start()

    def _watch(self) -> None:
        with self._cond:
            while not self._closing:
                now = time.monotonic()
                for message_id in [m for m, p in self._pending.items() if p.deadline <= now]:
                    self._deliver_locked(message_id, TIMEOUT)
                deadlines = [p.deadline for p in self._pending.values()]
                self._cond.wait(None if not deadlines else max(0.0, min(deadlines) - now))

    def _handle_pdu(self, msg) -> None:
        try:
            self._process(msg)
        except Exception as err:  # never let a bad PDU kill the handler thread
            self.logger.error(f"unexpected error on a PDU: {err!r}")

    def _process(self, msg) -> None:
        data = pdu_bytes(msg)
        with self._cond:
            self.counters["pdus_in"] += 1
            if data is None:
                self._reject_locked()
                return
            try:
                packet = parse_packet(data)
            except PacketError:
                self._reject_locked()
                return
            if packet.modality != Modality.TEXT:
                self.counters["packets_not_text"] += 1
                return
            message_id = packet.message_id
            if message_id not in self._pending and message_id in self._recent:
                self.counters["packets_late"] += 1
                return
            for other in [m for m in self._pending if m != message_id]:
                self._deliver_locked(other, SUPERSEDED)
            now = time.monotonic()
            pending = self._pending.get(message_id)
            if pending is None:
                pending = _Pending(message_id, packet.num_packets, first_time=now)
                self._pending[message_id] = pending
            pending.packets.append(data)
            pending.seqs.add(packet.seq)
            pending.deadline = now + self.timeout
            if len(pending.seqs) >= pending.num_packets:
                self._deliver_locked(message_id, COMPLETE)
            else:
                self._cond.notify_all()
        self._ensure_watchdog()

    def _reject_locked(self) -> None:
        self.counters["pdus_rejected"] += 1
        self._rejected_since_delivery += 1

    def _deliver_locked(self, message_id: int, reason: str) -> None:
        pending = self._pending.pop(message_id, None)
        if pending is None:
            return
        self._recent.append(message_id)
        rejected, self._rejected_since_delivery = self._rejected_since_delivery, 0
        try:
            result = depacketize(pending.packets, message_id)
            frame, stats = result.frame, result.stats
            expected = stats.packets_expected or pending.num_packets
            received = stats.packets_received
            erasure_rate = float(np.mean(frame.erased)) if len(frame) else 0.0
            tokens = len(frame)
            text = self.tokenizer.decode_frame(frame)
        except (ReassemblyError, ValueError) as err:
            # Possible only if every packet of the id conflicts with another,
            # or the frame does not suit this tokenizer.
            self.logger.warn(f"message {message_id}: cannot rebuild text ({err})")
            expected, received, erasure_rate, tokens, text = pending.num_packets, 0, 1.0, 0, ""
        record = {
            "message_id": message_id,
            "packets_received": int(received),
            "packets_expected": int(expected),
            "packet_error_rate": 1.0 - received / expected if expected else 0.0,
            "token_erasure_rate": erasure_rate,
            "tokens": int(tokens),
            "pdus_rejected": int(rejected),
            "complete": bool(received == expected),
            "reason": reason,
            "text": text,
            "time": time.time(),
        }
        self.messages.append(record)
        del self.messages[:-self.max_messages]
        self.counters["messages_delivered"] += 1
        meta = {k: v for k, v in record.items() if k not in ("text", "time")}
        self.message_port_pub(pmt.intern("text"), make_byte_pdu(text.encode("utf-8"), meta))
        if self.print_messages:
            print(f"[TokenCom RX] message {message_id} ({reason}): {received}/{expected} "
                  f"packets, {erasure_rate:.1%} tokens erased, {rejected} PDUs rejected: "
                  f"{text}", flush=True)
        self._cond.notify_all()


__all__ = ["TokenTextDecoder", "ERASED_MARKER", "COMPLETE", "TIMEOUT", "SUPERSEDED", "STOPPED"]
