"""A live receiver: bursts as they arrive -> messages, recovered, as they complete.

:class:`StreamReceiver` is the :class:`~.assembler.MessageAssembler` feeding
a :class:`~.receiver.TokenReceiver`. ``tokencom rx`` (radios and replays),
the loopback and the GRC decoder blocks all receive through it; they differ
only in where the bursts come from and what they do with each message.
"""

from __future__ import annotations

from typing import Iterable, List, Optional

from ...phy.received_burst import ReceivedBurst
from ...tokens.frame import Modality
from .assembler import STOPPED, AssembledMessage, MessageAssembler
from .message import ReceivedMessage
from .receiver import TokenReceiver

__all__ = ["StreamReceiver"]


class StreamReceiver:
    """Bursts in, :class:`ReceivedMessage` s out.

    Parameters
    ----------
    receiver : TokenReceiver, optional
        Default: one with the best recovery modes.
    timeout_s : float
        Silence after a message's last CRC-good packet before it is
        delivered incomplete.
    modalities : iterable of Modality, optional
        Deliver only messages of these modalities (others are counted in
        ``counters["messages_skipped"]``); default all.

    Attributes
    ----------
    counters : dict
        The assembler's counters plus ``messages_skipped`` and
        ``messages_unreadable`` (no CRC-good packet of the message id
        survived reassembly, e.g. all of them conflicting).
    """

    def __init__(self, receiver: Optional[TokenReceiver] = None, timeout_s: float = 1.0,
                 modalities: Optional[Iterable[Modality]] = None):
        self.receiver = receiver or TokenReceiver()
        self.assembler = MessageAssembler(timeout_s)
        self.modalities = None if modalities is None else {Modality(m) for m in modalities}
        self.counters = self.assembler.counters
        self.counters.update({"messages_skipped": 0, "messages_unreadable": 0})

    def push(self, burst: ReceivedBurst, now: float) -> List[ReceivedMessage]:
        """Take one burst (arrived at time ``now``); return the messages it finishes."""
        return self._receive(self.assembler.add(burst, now))

    def expire(self, now: float) -> List[ReceivedMessage]:
        """Messages whose timeout has passed by ``now``."""
        return self._receive(self.assembler.expire(now))

    def flush(self, reason: str = STOPPED) -> List[ReceivedMessage]:
        """Every pending message (the receiver stops)."""
        return self._receive(self.assembler.flush(reason))

    def next_deadline(self) -> Optional[float]:
        """When :meth:`expire` will next have something to deliver."""
        return self.assembler.next_deadline()

    def _receive(self, assembled: List[AssembledMessage]) -> List[ReceivedMessage]:
        out = []
        for group in assembled:
            if self.modalities is not None and group.modality is not None \
                    and group.modality not in self.modalities:
                self.counters["messages_skipped"] += 1
                continue
            message = self.receiver.receive(group.bursts, group.message_id)
            if message is None or (group.message_id is None and
                                   self.assembler.delivered_recently(message.message_id)):
                # (a failed-only group that names no message, or one already
                # delivered, is noise or stragglers, or too little to say)
                self.counters["messages_unreadable"] += 1
                continue
            if self.modalities is not None and message.modality not in self.modalities:
                self.counters["messages_skipped"] += 1
                continue
            message.reason = group.reason
            out.append(message)
        return out
