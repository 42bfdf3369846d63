"""The message assembler: a stream of received bursts -> the bursts of each message.

A message is delivered

* when every one of its packets has arrived CRC-good (``complete``);
* when ``timeout_s`` passes with no new packet of it (``timeout``);
* when CRC-good packets of another message start arriving (``superseded``);
* when the receiver stops with the message pending (:meth:`flush`, ``stopped``).

A CRC-good packet of a message delivered recently is late: dropped and
counted, never delivered twice.

A burst that fails the CRC cannot say for sure which message it belongs to,
yet it carries soft values worth keeping. It waits in a short buffer; when a
message is delivered it takes the waiting bursts whose message-id field is
closer to its id than to the id of any other message in play (pending, the
one superseding it, or one delivered recently), LLR-weighted when the PHY
gave LLRs, and within :data:`MAX_ID_BIT_ERRORS` bits. The waiting bursts
older than the message delivered that it did not take belonged to a message
none of whose packets passed its CRC: they are delivered before it as one
failed-only group (``message_id`` None), which the receiver may still
recognise from their headers combined. Soft reassembly then checks each
claimed burst against the headers it expects, and re-decoding accepts
nothing that fails the CRC, so a wrong claim costs a little soft
information, never a wrong packet.

Not a GNU Radio block and not thread-safe: it is driven by one caller
(:class:`~tokencom_sdr.link.receiver.stream.StreamReceiver`) with the time
passed in, so it is tested without clocks or flowgraphs.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Deque, Dict, List, Optional, Tuple

import numpy as np

from ...phy.received_burst import ReceivedBurst
from ...tokens.frame import Modality
from ..errors import PacketError
from ..packet import MESSAGE_ID_BITS, MESSAGE_ID_OFFSET, parse_packet

__all__ = ["AssembledMessage", "MessageAssembler", "COMPLETE", "TIMEOUT", "SUPERSEDED",
           "STOPPED", "FAILED_ONLY", "MAX_ID_BIT_ERRORS"]

#: Why a message was delivered.
COMPLETE = "complete"
TIMEOUT = "timeout"
SUPERSEDED = "superseded"
STOPPED = "stopped"
#: A group of CRC-failed bursts that no message with a CRC-good packet took.
FAILED_ONLY = "failed only"

#: Most bit errors in its message-id field for a CRC-failed burst to be claimed.
MAX_ID_BIT_ERRORS = 4
#: Ids of delivered messages remembered to recognise their late packets.
_RECENT_IDS = 64
#: CRC-failed bursts kept waiting for their message at most.
_MAX_WAITING = 512


@dataclass
class AssembledMessage:
    """The bursts of one message, as the assembler delivers them.

    Attributes
    ----------
    message_id : int or None
        None for a group of CRC-failed bursts only (:data:`FAILED_ONLY`):
        what message they are, if any, only their headers combined can say.
    num_packets : int
        From the headers (0 for a failed-only group).
    modality : Modality or None
        From the headers (None for a failed-only group).
    bursts : list of ReceivedBurst
        Its CRC-good bursts in arrival order, then the CRC-failed bursts it claimed.
    reason : str
        ``complete``, ``timeout``, ``superseded``, ``stopped`` or ``failed only``.
    first_time, last_time : float
        Arrival times of its first and last CRC-good packet (the caller's clock).
    """

    message_id: Optional[int]
    num_packets: int
    modality: Optional[Modality]
    bursts: List[ReceivedBurst] = field(default_factory=list)
    reason: str = ""
    first_time: float = 0.0
    last_time: float = 0.0
    seqs: set = field(default_factory=set)


class MessageAssembler:
    """Groups received bursts into messages (see the module docstring).

    Parameters
    ----------
    timeout_s : float
        Silence after a message's last CRC-good packet before it is
        delivered incomplete (> 0).

    Attributes
    ----------
    counters : dict
        ``bursts``, ``bursts_failed`` (did not pass the CRC), ``packets_late``,
        ``messages``, ``failed_unclaimed`` (CRC-failed bursts no message took).
    """

    def __init__(self, timeout_s: float = 1.0):
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.timeout_s = float(timeout_s)
        self._pending: Dict[int, AssembledMessage] = {}
        self._recent: Deque[int] = collections.deque(maxlen=_RECENT_IDS)
        self._waiting: Deque[Tuple[ReceivedBurst, float]] = collections.deque()
        self.counters = {"bursts": 0, "bursts_failed": 0, "packets_late": 0, "messages": 0,
                         "failed_unclaimed": 0, "failed_only_groups": 0}

    @property
    def pending_ids(self) -> List[int]:
        """Ids of the messages not yet delivered."""
        return list(self._pending)

    def delivered_recently(self, message_id: int) -> bool:
        """Whether a message of this id was among the last ones delivered."""
        return message_id in self._recent

    def add(self, burst: ReceivedBurst, now: float) -> List[AssembledMessage]:
        """Take one burst; return the messages it completes or supersedes."""
        self.counters["bursts"] += 1
        try:
            packet = parse_packet(burst.data)
        except PacketError:
            self.counters["bursts_failed"] += 1
            self._waiting.append((burst, now))
            while len(self._waiting) > _MAX_WAITING:
                self._waiting.popleft()
                self.counters["failed_unclaimed"] += 1
            return []
        mid = packet.message_id
        if mid not in self._pending and mid in self._recent:
            self.counters["packets_late"] += 1
            return []
        out = []
        if mid not in self._pending:
            for other in list(self._pending):
                out += self._deliver(other, SUPERSEDED, incoming=mid)
            self._pending[mid] = AssembledMessage(mid, packet.num_packets, packet.modality,
                                                  first_time=now)
        pending = self._pending[mid]
        pending.bursts.append(burst)
        pending.seqs.add(packet.seq)
        pending.last_time = now
        if len(pending.seqs) >= pending.num_packets:
            out += self._deliver(mid, COMPLETE)
        return out

    def expire(self, now: float) -> List[AssembledMessage]:
        """Messages with no CRC-good packet for ``timeout_s``.

        (CRC-failed bursts are not forgotten by time, only when more than
        :data:`_MAX_WAITING` wait: which message takes one then depends on
        the order of arrival alone, so a replay groups exactly as the live
        run it recorded, however fast it runs.)"""
        return [message for mid, p in list(self._pending.items())
                if now - p.last_time >= self.timeout_s for message in self._deliver(mid, TIMEOUT)]

    def next_deadline(self) -> Optional[float]:
        """When :meth:`expire` will next deliver something (None: nothing pending)."""
        if not self._pending:
            return None
        return min(p.last_time for p in self._pending.values()) + self.timeout_s

    def flush(self, reason: str = STOPPED) -> List[AssembledMessage]:
        """Every pending message, then the CRC-failed bursts no message took
        as one failed-only group (the receiver is stopping)."""
        out = [message for mid in list(self._pending) for message in self._deliver(mid, reason)]
        out += self._failed_only(list(self._waiting))
        self._waiting.clear()
        return out

    # ---------------------------------------------------------------- internals
    def _failed_only(self, waiting: List[Tuple[ReceivedBurst, float]]) -> List[AssembledMessage]:
        """The bursts as one failed-only group (none when there are none)."""
        if not waiting:
            return []
        self.counters["failed_only_groups"] += 1
        return [AssembledMessage(None, 0, None, [b for b, _ in waiting], FAILED_ONLY,
                                 first_time=waiting[0][1], last_time=waiting[-1][1])]

    def _deliver(self, mid: int, reason: str, incoming: Optional[int] = None
                 ) -> List[AssembledMessage]:
        """The message, preceded by a failed-only group of the waiting bursts
        older than it that it did not take (their own message never had a
        CRC-good packet)."""
        message = self._pending.pop(mid)
        message.reason = reason
        # A burst closer to another message in play, or to one delivered
        # before (its late part), is not this message's.
        rivals = list(self._pending) + list(self._recent) + ([] if incoming is None else [incoming])
        keep: Deque[Tuple[ReceivedBurst, float]] = collections.deque()
        older = []
        for burst, arrived in self._waiting:
            if _claims(burst, mid, rivals):
                message.bursts.append(burst)
            elif arrived >= message.first_time:
                keep.append((burst, arrived))
            else:
                older.append((burst, arrived))
        self._waiting = keep
        self._recent.append(mid)
        self.counters["messages"] += 1
        return self._failed_only(older) + [message]


def _id_distances(burst: ReceivedBurst, message_ids: List[int]
                  ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """(bit errors, LLR-weighted cost) of the burst's message-id field against
    each of ``message_ids``, as ``(len(message_ids),)`` arrays (one pass for
    all the ids in play); None when the burst is too short to have the field."""
    start, stop = MESSAGE_ID_OFFSET, MESSAGE_ID_OFFSET + MESSAGE_ID_BITS // 8
    if len(burst.data) < stop:
        return None
    got = np.unpackbits(np.frombuffer(burst.data[start:stop], dtype=np.uint8))
    ids = np.asarray(message_ids, dtype=np.uint16).astype(">u2")
    want = np.unpackbits(ids.view(np.uint8)).reshape(len(message_ids), MESSAGE_ID_BITS)
    wrong = want != got
    errors = wrong.sum(axis=1)
    weight = np.ones(MESSAGE_ID_BITS) if burst.bit_llr is None \
        else np.abs(burst.bit_llr[8 * start:8 * stop]).astype(np.float64)
    return errors, wrong @ weight


def _claims(burst: ReceivedBurst, mid: int, rivals: List[int]) -> bool:
    """Whether message ``mid`` takes the CRC-failed ``burst`` (see the module docstring)."""
    distances = _id_distances(burst, [mid] + rivals)
    if distances is None:
        return False
    errors, costs = distances
    return bool(errors[0] <= MAX_ID_BIT_ERRORS and np.all(costs[0] <= costs[1:]))
