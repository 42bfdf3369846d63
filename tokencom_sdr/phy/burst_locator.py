"""Where each received packet lies in the receiver's input stream.

The PHY's PDUs carry the SNR and CFO estimates of their burst (``snr_db``,
``cfo``), but not its position in the sample stream, which SigMF
annotations need. :class:`InstrumentedOfdmRx` adds a :class:`BurstLocator`
to :class:`~tokencom_sdr.phy.ofdm_rx.OfdmBurstRx` that records it without
touching the receiver's own path: the receiver's decoder tells its header
listeners, for every header it decodes, where the burst starts (the
detector's trigger corrected by the header's timing estimate).

Each good header is keyed by its ``(packet number, cfo)``, two fields that
the decoder copies unchanged into the PDU's metadata (the CFO is a float,
identical bit for bit), so :meth:`BurstLocator.wait_for` finds the burst of
any PDU.
"""

import collections
import threading
from typing import Dict, Optional, Tuple

from .burst_decoding import BurstHeader
from .ofdm_params import OfdmParams
from .ofdm_rx import DEFAULT_SYNC_THRESHOLD, OfdmBurstRx

_MAX_KEPT = 100_000

Key = Tuple[int, float]


def pdu_key(meta: Dict[str, object]) -> Optional[Key]:
    """``(packet_number, cfo)`` of a received PDU's metadata, if present."""
    if "packet_number" not in meta or "cfo" not in meta:
        return None
    return int(meta["packet_number"]), float(meta["cfo"])


class BurstLocator:
    """First sample of every burst whose header decoded, by PDU key.

    Fed by :meth:`on_header` (a header listener of the receiver's decoder,
    called from the flowgraph's thread); read with :meth:`wait_for` from any
    thread.
    """

    def __init__(self):
        self._found: "collections.OrderedDict[Key, int]" = collections.OrderedDict()
        self._cond = threading.Condition()
        #: Headers tried (triggers), and good headers located.
        self.headers = 0
        self.located = 0

    def on_header(self, start: int, burst: Optional[BurstHeader]) -> None:
        """One header answer: the burst's first sample, and its decoded
        header (None for a failed one, which locates nothing)."""
        with self._cond:
            self.headers += 1
            if burst is None:
                return
            key = (int(burst.header.packet_number), float(burst.cfo))
            self._found[key] = max(0, int(start))
            self.located += 1
            while len(self._found) > _MAX_KEPT:
                self._found.popitem(last=False)
            self._cond.notify_all()

    def wait_for(self, key: Optional[Key], timeout: float = 0.0) -> Optional[int]:
        """First sample of the burst whose PDU has ``key`` (see :func:`pdu_key`),
        waiting up to ``timeout`` seconds for the locator to catch up."""
        if key is None:
            return None
        with self._cond:
            self._cond.wait_for(lambda: key in self._found, timeout=timeout)
            return self._found.pop(key, None)


class InstrumentedOfdmRx(OfdmBurstRx):
    """:class:`OfdmBurstRx` plus a :class:`BurstLocator` (``self.locator``).

    Same ports and parameters. It relies on the ``decoder`` attribute of
    :class:`OfdmBurstRx` and its ``header_listeners``; the SigMF tests fail
    if those change.
    """

    def __init__(self, sync_threshold: float = DEFAULT_SYNC_THRESHOLD,
                 params: Optional[OfdmParams] = None):
        OfdmBurstRx.__init__(self, sync_threshold, params)
        self.locator = BurstLocator()
        # Header answers are the decoder's direct calls, not messages: at the
        # end of a finite run GNU Radio drops the messages still queued.
        self.decoder.header_listeners.append(self.locator.on_header)
