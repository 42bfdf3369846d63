"""TokenCom Text Encoder: text in, link-layer packet PDUs out (a GNU Radio block)."""

import collections
import queue
import threading
import time
from typing import Deque, Dict, List, Optional, Tuple

import pmt
from gnuradio import gr

from ..link import make_aggregation, packetize
from ..tokens.text_bpe import TextTokenizer
from .pdu import make_byte_pdu, pdu_bytes

MESSAGE_ID_MODULUS = 1 << 16
_STOP = object()


class TokenTextEncoder(gr.basic_block):
    """Text -> BPE tokens -> CRC-protected TokenCom packets, one PDU each.

    A message-only block. When the flowgraph starts it sends ``text`` (once,
    or ``repeat`` times every ``interval`` seconds); at any time it also sends
    each text that arrives on the input port ``text``. Every message gets a
    new link-layer message id (incrementing, wrapping at 65536), so the
    receiver can tell repetitions apart.

    Sending happens on a worker thread started in :meth:`start` and joined in
    :meth:`stop`; the scheduler thread never waits.

    Ports
    -----
    text (in, message)
        A PMT symbol/string, or a PDU (or bare ``u8vector``) of UTF-8 bytes.
    pdus (out, message)
        One PDU per packet: ``(meta, u8vector)`` with ``meta`` holding
        ``message_id``, ``seq`` and ``num_packets``; the bytes are the encoded
        packet (header, token ids, CRC-32).

    Parameters
    ----------
    text : str
        Sent when the flowgraph starts; empty sends nothing.
    tokens_per_packet : int
        Tokens per packet (>= 1).
    aggregation : str
        ``"interleaved"`` (token i -> packet i mod P) or ``"sequential"``.
    repeat : int
        Transmissions of ``text`` when ``interval > 0``; 0 means until the
        flowgraph stops. Ignored when ``interval == 0``.
    interval : float
        Seconds between repetitions of ``text``; 0 sends it once.
    message_gap : float
        Pause in seconds after each message's packets, before the next
        message (a little air between messages for the receiver).
    first_message_id : int
        Message id of the first message, ``0..65535``.
    tokenizer : TextTokenizer, optional
        Defaults to :meth:`TextTokenizer.default`.
    """

    def __init__(self, text: str = "", tokens_per_packet: int = 32,
                 aggregation: str = "interleaved", repeat: int = 1, interval: float = 0.0,
                 message_gap: float = 0.0, first_message_id: int = 0,
                 tokenizer: Optional[TextTokenizer] = None):
        gr.basic_block.__init__(self, name="tokencom_text_encoder", in_sig=None, out_sig=None)
        if int(tokens_per_packet) < 1:
            raise ValueError(f"tokens_per_packet must be >= 1, got {tokens_per_packet}")
        if int(repeat) < 0:
            raise ValueError(f"repeat must be >= 0 (0 = until stopped), got {repeat}")
        if not float(interval) >= 0.0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval}")
        if not float(message_gap) >= 0.0:
            raise ValueError(f"message_gap must be >= 0 seconds, got {message_gap}")
        if not 0 <= int(first_message_id) < MESSAGE_ID_MODULUS:
            raise ValueError(f"first_message_id must be 0..65535, got {first_message_id}")
        # Fails early (at flowgraph construction) on an unknown strategy name.
        self.aggregation = make_aggregation(aggregation, int(tokens_per_packet))
        self.tokenizer = tokenizer or TextTokenizer.default()
        self.text = str(text)
        self.repeat = int(repeat)
        self.interval = float(interval)
        self.message_gap = float(message_gap)
        self._next_id = int(first_message_id)

        #: The most recent messages sent: dicts with ``message_id``, ``text``,
        #: ``num_packets``, ``num_tokens``, ``time``.
        self.sent: Deque[Dict[str, object]] = collections.deque(maxlen=1000)
        self._queue: "queue.Queue" = queue.Queue()
        self._stop_event = threading.Event()
        self._worker: Optional[threading.Thread] = None
        self._lock = threading.Lock()

        self.message_port_register_in(pmt.intern("text"))
        self.message_port_register_out(pmt.intern("pdus"))
        self.set_msg_handler(pmt.intern("text"), self._handle_text)

    # ------------------------------------------------------------------ API
    def encode(self, text: str) -> Tuple[int, List[bytes]]:
        """``(message_id, packets)`` of ``text`` under the next message id,
        without sending them (the id is consumed)."""
        message_id, packets, _ = self._encode(text)
        return message_id, packets

    def _encode(self, text: str) -> Tuple[int, List[bytes], int]:
        frame = self.tokenizer.encode_frame(text)
        with self._lock:
            message_id = self._next_id
            self._next_id = (message_id + 1) % MESSAGE_ID_MODULUS
        return message_id, packetize(frame, message_id, self.aggregation), len(frame)

    def send(self, text: str) -> None:
        """Queue ``text`` for transmission (thread-safe; returns at once)."""
        self._queue.put(str(text))

    def set_message_gap(self, message_gap: float) -> None:
        self.message_gap = max(0.0, float(message_gap))

    # ------------------------------------------------------- GNU Radio hooks
    def start(self):
        self._stop_event.clear()
        self._worker = threading.Thread(target=self._run, name="tokencom_text_encoder",
                                        daemon=True)
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
    def _handle_text(self, msg) -> None:
        try:
            if pmt.is_symbol(msg):
                text = pmt.symbol_to_string(msg)
            else:
                data = pdu_bytes(msg)
                if data is None:
                    self.logger.warn("text port: expected a string or a PDU of UTF-8 bytes; "
                                     "message dropped")
                    return
                text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            self.logger.warn(f"text port: PDU is not valid UTF-8 ({err}); message dropped")
            return
        self.send(text)

    def _run(self) -> None:
        remaining = self.repeat if self.interval > 0 else 1
        next_due = time.monotonic() if self.text else None
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
                self._send_now(self.text)
                remaining -= 1
                if self.interval > 0 and (self.repeat == 0 or remaining > 0):
                    next_due += self.interval
                else:
                    next_due = None

    def _send_now(self, text: str) -> None:
        if not text:
            self.logger.warn("empty text: nothing to send")
            return
        try:
            message_id, packets, num_tokens = self._encode(text)
        except ValueError as err:
            self.logger.error(f"cannot encode message: {err}")
            return
        for seq, packet in enumerate(packets):
            if self._stop_event.is_set():
                return
            meta = {"message_id": message_id, "seq": seq, "num_packets": len(packets)}
            self.message_port_pub(pmt.intern("pdus"), make_byte_pdu(packet, meta))
        self.sent.append({"message_id": message_id, "text": text, "num_packets": len(packets),
                          "num_tokens": num_tokens,
                          "time": time.time()})
        if self.message_gap > 0:
            self._stop_event.wait(self.message_gap)
