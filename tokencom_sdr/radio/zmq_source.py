"""A ZMQ PULL source of ``complex64`` samples that no sender can kill.

gr-zeromq's ``pull_source`` aborts the whole process (SIGABRT, "Incompatible
vector sizes") on one message whose length is not a multiple of the item
size, so anyone who can reach the address could stop a receiver. This block
owns its pyzmq socket instead and checks every message before a sample of
it reaches the flowgraph:

* a message whose length is not a whole number of ``complex64`` samples
  (8 bytes), or that is empty, is dropped and counted;
* a message above ``max_message_bytes`` is dropped and counted too (ZMQ's
  own ``MAXMSGSIZE`` would drop the sender's connection instead, and a PUSH
  sender then blocks: the valid samples after it would never come);
* non-finite samples (NaN, Inf) are set to zero and counted: one of them in
  the synchroniser's running sums would blind it for thousands of samples.

Work is per ZMQ message (8192 samples from our sender), in numpy.
"""

from collections import deque
from typing import Deque

import numpy as np
from gnuradio import gr

from ..phy.non_finite_guard import zero_non_finite

__all__ = ["ZmqIqSource", "MAX_MESSAGE_BYTES"]

#: Largest message accepted: 16 MiB, 2 M samples (our sender sends 64 KiB).
MAX_MESSAGE_BYTES = 16 << 20
_ITEM_BYTES = np.dtype(np.complex64).itemsize


class ZmqIqSource(gr.sync_block):
    """Connects a PULL socket to ``address`` and streams the samples it receives.

    Parameters
    ----------
    address : str
        The sender's endpoint, e.g. ``tcp://127.0.0.1:5555``.
    timeout_ms : int
        How long one ``work()`` call waits for a message before it returns
        no samples (the flowgraph can stop in between).
    hwm : int
        Receive high-water mark in messages; -1 keeps ZMQ's default.
    max_message_bytes : int
        Larger messages are dropped and counted.

    Attributes
    ----------
    messages_received, messages_dropped, samples_zeroed : int
        Counters: messages taken, messages refused as malformed (odd size,
        empty, too big), non-finite samples set to zero.
    """

    def __init__(self, address: str, timeout_ms: int = 100, hwm: int = -1,
                 max_message_bytes: int = MAX_MESSAGE_BYTES):
        gr.sync_block.__init__(self, "tokencom_zmq_iq_source", in_sig=None, out_sig=[np.complex64])
        import zmq

        self._zmq = zmq
        self.address = address
        self.timeout_ms = int(timeout_ms)
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.PULL)
        self.max_message_bytes = int(max_message_bytes)
        self._socket.setsockopt(zmq.LINGER, 0)
        if hwm >= 0:
            self._socket.setsockopt(zmq.RCVHWM, int(hwm))
        self._socket.connect(address)
        self._pending: Deque[np.ndarray] = deque()
        self.messages_received = self.messages_dropped = self.samples_zeroed = 0

    def _take(self, message: bytes) -> None:
        """Check one message and queue its samples."""
        if not message or len(message) % _ITEM_BYTES or len(message) > self.max_message_bytes:
            self.messages_dropped += 1
            return
        samples, zeroed = zero_non_finite(np.frombuffer(message, dtype=np.complex64))
        self.samples_zeroed += zeroed
        self.messages_received += 1
        self._pending.append(samples)

    def work(self, input_items, output_items):
        out = output_items[0]
        if not self._pending and self._socket.poll(self.timeout_ms, self._zmq.POLLIN):
            try:
                while len(self._pending) < 64:
                    self._take(self._socket.recv(flags=self._zmq.NOBLOCK, copy=True))
            except self._zmq.Again:
                pass
        written = 0
        while self._pending and written < len(out):
            head = self._pending[0]
            n = min(len(head), len(out) - written)
            out[written:written + n] = head[:n]
            written += n
            if n == len(head):
                self._pending.popleft()
            else:
                self._pending[0] = head[n:]
        return written

    def stop(self):
        self._socket.close(linger=0)
        self._context.term()
        return True

    def input_problems(self) -> dict:
        """The counters, for a receiver's live stats."""
        return {"zmq_messages_dropped": self.messages_dropped, "samples_zeroed": self.samples_zeroed}
