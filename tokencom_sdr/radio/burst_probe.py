"""Where each received packet lies in the receiver's input stream.

The PHY's PDUs carry the SNR and CFO estimates of their burst (``snr_db``,
``cfo``), but not its position in the sample stream, which SigMF
annotations need. :class:`InstrumentedOfdmRx` adds a :class:`BurstLocator`
to :class:`~tokencom_sdr.phy.ofdm_rx.OfdmBurstRx` that recovers it without
touching the receiver's own path:

* it records every Schmidl & Cox trigger (the detector's output 1, indexed
  like the receiver's input);
* it sees the header decoder's ``header_data`` answers, which the
  header/payload demux receives in the same order as it uses triggers;
* it replays the demux's rule (GNU Radio 3.10 ``header_payload_demux``): take
  the first trigger at or after the read position; on a failed header,
  resume one sample later; on a good one, skip the header and the
  ``frame_len`` payload symbols.

Each good header is thus tied to its trigger, and is keyed by its
``(packet number, cfo)``, two fields that the payload decoder copies
unchanged into the PDU's metadata (the CFO is a float, identical bit for
bit), so :meth:`BurstLocator.wait_for` finds the burst of any PDU.

The trigger comes :data:`TRIGGER_LAG` samples after the burst's first
sample (66 for this numerology, measured on GNU Radio 3.10.5; a few more
under noise or multipath).
"""

import collections
import threading
from typing import Deque, Dict, Optional, Tuple

import numpy as np
import pmt
from gnuradio import gr

from ..phy.burst_mapping import HEADER_OFDM_SYMBOLS
from ..phy.ofdm_params import FRAME_LENGTH_TAG, OfdmParams
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD, OfdmBurstRx

#: Samples from a burst's first sample to the detector's trigger.
TRIGGER_LAG = 66
_MAX_KEPT = 100_000

Key = Tuple[int, float]


def pdu_key(meta: Dict[str, object]) -> Optional[Key]:
    """``(packet_number, cfo)`` of a received PDU's metadata, if present."""
    if "packet_number" not in meta or "cfo" not in meta:
        return None
    return int(meta["packet_number"]), float(meta["cfo"])


class BurstLocator(gr.sync_block):
    """Trigger stream in (``uint8``); header answers through :meth:`on_header`;
    see the module docstring.

    Parameters
    ----------
    params : OfdmParams
        Numerology: symbol length, to skip what the demux consumes.
    """

    def __init__(self, params: Optional[OfdmParams] = None):
        gr.sync_block.__init__(self, name="tokencom_burst_locator", in_sig=[np.uint8],
                               out_sig=None)
        self.params = params or OfdmParams()
        self._triggers: Deque[int] = collections.deque()
        self._headers: Deque[Optional[Tuple[Key, int]]] = collections.deque()
        self._found: "collections.OrderedDict[Key, int]" = collections.OrderedDict()
        self._position = 0
        self._cond = threading.Condition()
        #: Triggers seen, headers answered, good headers located.
        self.triggers = 0
        self.headers = 0
        self.located = 0

    def work(self, input_items, output_items):
        trigger = input_items[0]
        hits = np.flatnonzero(trigger)
        if len(hits):
            base = self.nitems_read(0)
            with self._cond:
                self._triggers.extend(int(base + i) for i in hits)
                self.triggers += len(hits)
                self._match()
        return len(trigger)

    def on_header(self, msg) -> None:
        """Take one ``header_data`` answer (a dict, or ``#f`` for a failed
        header), in the order the header decoder gave them."""
        entry = None
        if pmt.is_dict(msg):
            number = pmt.dict_ref(msg, pmt.intern("tokencom_packet_number"), pmt.PMT_NIL)
            cfo = pmt.dict_ref(msg, pmt.intern("tokencom_cfo"), pmt.PMT_NIL)
            frame_len = pmt.dict_ref(msg, pmt.intern(FRAME_LENGTH_TAG), pmt.PMT_NIL)
            if not (pmt.is_null(number) or pmt.is_null(cfo) or pmt.is_null(frame_len)):
                entry = ((int(pmt.to_long(number)), float(pmt.to_double(cfo))),
                         int(pmt.to_long(frame_len)))
        with self._cond:
            self._headers.append(entry)
            self.headers += 1
            self._match()

    def _match(self) -> None:
        """Pair answered headers with triggers, as the demux did (lock held)."""
        symbol = self.params.symbol_len
        while self._headers:
            while self._triggers and self._triggers[0] < self._position:
                self._triggers.popleft()
            if not self._triggers:
                return  # that header's trigger has not been seen here yet
            trigger = self._triggers.popleft()
            entry = self._headers.popleft()
            if entry is None:  # failed header: the demux moves on by one sample
                self._position = trigger + 1
                continue
            key, frame_len = entry
            self._position = trigger + (2 + HEADER_OFDM_SYMBOLS + frame_len) * symbol
            self._found[key] = max(0, trigger - TRIGGER_LAG)
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

    Same ports and parameters. It relies on the attribute names
    ``sync_detector`` and ``header_decoder`` of :class:`OfdmBurstRx`; the
    SigMF tests fail if those change.
    """

    def __init__(self, sync_threshold: float = DEFAULT_SYNC_THRESHOLD,
                 params: Optional[OfdmParams] = None):
        OfdmBurstRx.__init__(self, sync_threshold, params)
        self.locator = BurstLocator(self.params)
        self.connect((self.sync_detector, 1), (self.locator, 0))
        # The header answers are taken straight from the decoder, not through
        # a message connection: at the end of a finite run GNU Radio stops a
        # block once its stream input is done, dropping the messages still
        # queued for it, and the answers come well after the triggers.
        self.header_decoder.listeners.append(self.locator.on_header)
