"""GNU Radio sink: cut bursts out of the sample stream at sync triggers and
decode them, header then payload, with no round trip through the scheduler."""

from collections import deque
from typing import Callable, List, Optional, Tuple

import numpy as np
import pmt
from gnuradio import gr

from .burst_decoding import (SYMBOLS_PER_HEADER, TIMING_PADDING, BurstHeader, decode_header_windows,
                             decode_payloads, header_window_length)
from .non_finite_guard import zero_non_finite
from .ofdm_params import OfdmParams
from .payload_code import warm_up_codes
from .received_burst import ReceivedBurst

_PDUS = pmt.intern("pdus")
_SYMBOLS = pmt.intern("symbols")


def symbols_pdu(symbols: np.ndarray):
    """``(empty dict, c32vector)`` PDU of a burst's equalised payload symbols,
    for a constellation display (PDU To Stream -> QT GUI Constellation Sink)."""
    # (from a list: pmt converts it several times faster than an array)
    return pmt.cons(pmt.make_dict(), pmt.init_c32vector(symbols.size, symbols.tolist()))


class _SampleBuffer:
    """The recent part of a sample stream, addressed by absolute index.

    Holds samples ``start .. stop - 1``; appending copies a chunk in once,
    and the storage is reused, so keeping a burst over many small chunks
    costs no more than one copy per sample.

    Parameters
    ----------
    start : int
        Absolute index of the first sample held. A negative start holds
        ``-start`` zeros before the stream's first sample.
    """

    def __init__(self, start: int, capacity: int = 1 << 16):
        self._data = np.zeros(max(capacity, -start), dtype=np.complex64)
        self._head = 0  # where `start` lives in _data
        self.start = start
        self.stop = max(start, 0)
        self._tail = self.stop - start

    def append(self, chunk: np.ndarray) -> None:
        n = len(chunk)
        if self._tail + n > self._data.size:
            live = self._data[self._head:self._tail]
            if live.size + n > self._data.size // 2:  # grow: keep moves rare
                data = np.empty(max(2 * self._data.size, 2 * (live.size + n)), dtype=np.complex64)
            else:
                data = self._data
            data[:live.size] = live  # (numpy copies overlapping ranges safely)
            self._data, self._head, self._tail = data, 0, live.size
        self._data[self._tail:self._tail + n] = chunk
        self._tail += n
        self.stop += n

    def discard_before(self, index: int) -> None:
        """Forget the samples before ``index`` (clamped to what is held)."""
        index = min(max(index, self.start), self.stop)
        self._head += index - self.start
        self.start = index

    def get(self, first: int, stop: int) -> np.ndarray:
        """Samples ``first .. stop - 1`` (a view: valid until the next append)."""
        if first < self.start or stop > self.stop:
            raise IndexError(f"samples {first}..{stop} requested, {self.start}..{self.stop} held")
        return self._data[self._head + first - self.start:self._head + stop - self.start]


class BurstDecoderBlock(gr.sync_block):
    """Samples and sync triggers in, decoded packets out as PDUs.

    Input 0: ``complex64`` received samples. Input 1: ``uint8`` trigger
    stream aligned with it (the Schmidl & Cox detector's output: nonzero where a
    burst's preamble was detected, ``trigger_lag`` samples after its first
    sample).

    The block keeps the samples from the earliest unresolved trigger on in a
    buffer of its own and works per chunk, never per sample. For each
    trigger, as soon as the preamble and header are buffered (plus
    ``TIMING_PADDING`` either side), it decodes the header
    (:func:`~.burst_decoding.decode_header_windows`: the headers of all the
    triggers whose windows a chunk completes, as one batch); if that passes its CRC,
    it decodes the payload once the whole burst is buffered and ignores the
    triggers inside the burst. A failed header costs nothing more: the next
    trigger is tried. Nothing waits on a message, so a burst is decoded in
    the same ``work()`` call that brings its last sample: the payloads
    completed in one call are decoded at its end, those of one MCS and size
    as one batch (:func:`~.burst_decoding.decode_payloads`), and published
    in burst order.

    Output message port ``pdus``: one PDU per burst whose header decoded,
    decodable or not (the link layer's CRC decides):
    :meth:`~.received_burst.ReceivedBurst.to_pdu`. Output message port
    ``symbols``: the burst's equalised payload symbols (c32vector PDU). Each
    port's PDUs are built only while something is connected to it.

    Parameters
    ----------
    params : OfdmParams
        Numerology; must match the transmitter's.
    trigger_lag : int
        Samples from a burst's first sample to its trigger, as the detector
        places it on a clean channel; the header's timing estimate corrects
        the rest (up to ``TIMING_PADDING``).
    channel_tracking : bool
        Track the channel across payloads whose first decoding failed
        (:mod:`.channel_tracking`); False only to measure what it brings.

    Attributes
    ----------
    listeners : list of callables
        Each is given every burst as a :class:`~.received_burst.ReceivedBurst`,
        in order, from the flowgraph's thread (finite runs collect bursts
        here, race-free and with no PMT round trip, instead of through a
        message sink that may stop before its queue is drained).
    header_listeners : list of callables
        Each is called as ``listener(start, burst)`` for every trigger tried:
        ``start`` the index of the burst's first sample in input 0 (timing
        corrected), ``burst`` the :class:`~.burst_decoding.BurstHeader`, or
        None when the header failed.
    headers_ok, headers_failed, bursts_decoded, bursts_dropped, bursts_cut_short : int
        Counters: headers that passed or failed their CRC; payloads decoded,
        or lost to an error; bursts cut short by the next one.
    samples_zeroed : int
        Non-finite input samples (NaN or Inf in either part) set to zero
        before anything else sees them (:mod:`.non_finite_guard`).
    """

    def __init__(self, params: OfdmParams = None, trigger_lag: int = 68, channel_tracking: bool = True):
        gr.sync_block.__init__(self, "tokencom_burst_decoder", in_sig=[np.complex64, np.uint8],
                               out_sig=None)
        self.params = params = params or OfdmParams()
        self.message_port_register_out(_PDUS)
        self.message_port_register_out(_SYMBOLS)
        warm_up_codes()  # not inside the first burst's work() call
        self.listeners: List[Callable] = []
        self.header_listeners: List[Callable[[int, Optional[BurstHeader]], None]] = []
        self.headers_ok = self.headers_failed = 0
        self.bursts_decoded = self.bursts_dropped = self.bursts_cut_short = 0
        self.samples_zeroed = 0
        self._lag = trigger_lag
        self.channel_tracking = bool(channel_tracking)
        self._window = header_window_length(params)
        # How far a header window reaches back from its trigger. The buffer
        # starts with that many zeros, as if the receiver had heard silence
        # before the stream began, so a burst at sample 0 is decoded too.
        self._reach = trigger_lag + TIMING_PADDING
        self._buffer = _SampleBuffer(-self._reach)
        self._triggers = deque()
        # Header decodings done ahead, as one batch per chunk: trigger index
        # -> BurstHeader, None (failed) or the exception the decoding raised.
        self._headers = {}
        # Triggers before this index fall inside the last burst decoded.
        self._resume = 0
        # (burst, first, stop): the burst whose payload samples are awaited.
        self._pending = None
        # The last burst whose header passed, where its payload starts and stops.
        self._last_burst = (None, 0, 0)
        self._symbols_wanted = self._pdus_wanted = True

    def work(self, input_items, output_items):
        samples, trigger = input_items
        n = len(samples)
        try:
            # A symbols PDU costs as much to build as the packet's own PDU;
            # skip it when nobody listens (looked up per call, as message
            # connections may change while the graph runs).
            self._symbols_wanted = not pmt.is_null(self.message_subscribers(_SYMBOLS))
            self._pdus_wanted = not pmt.is_null(self.message_subscribers(_PDUS))
            first = self._buffer.stop
            samples, zeroed = zero_non_finite(samples)
            self.samples_zeroed += zeroed
            self._buffer.append(samples)
            self._triggers.extend((first + np.flatnonzero(trigger[:n])).tolist())
            self._decode_ready()
        except Exception as error:  # noqa: BLE001 - never stall the flowgraph
            # Only a bug gets here (decoding errors are caught per burst);
            # start afresh from the next chunk rather than stop the graph.
            gr.log.warn(f"tokencom burst decoder lost its state: {error!r}")
            self._triggers.clear()
            self._headers.clear()
            self._pending = None
            self._buffer.discard_before(self._buffer.stop)
        return n

    def _decode_ready(self) -> None:
        """Decode every header and payload whose samples are all buffered,
        then drop the samples nothing needs any more."""
        symbol_len, available = self.params.symbol_len, self._buffer.stop
        self._decode_headers_ahead(available)
        ready = []  # (burst, start, payload samples): decoded together below
        while True:
            if self._pending is not None:
                burst, start, first, stop = self._pending
                if stop > available:
                    break
                self._pending = None
                ready.append((burst, start, self._buffer.get(first, stop)))
                continue
            if not self._skip_triggers_inside_last_burst(ready, available):
                break  # a trigger inside it awaits its header's samples
            if not self._triggers or self._triggers[0] - self._reach + self._window > available:
                break
            trigger = self._triggers.popleft()
            burst = self._header(trigger)
            start = trigger - self._lag + (burst.timing_correction if burst is not None else 0)
            for listener in self.header_listeners:
                listener(start, burst)
            if burst is None:
                continue
            first = start + SYMBOLS_PER_HEADER * symbol_len
            stop = first + burst.payload_ofdm_symbols * symbol_len
            self._last_burst = (burst, first, stop)
            self._pending = (burst, start, first, stop)
            # The detector fires again inside a burst (the timing metric has
            # echoes of the preamble): those triggers are not bursts, unless
            # this burst was cut short (see _skip_triggers_inside_last_burst).
            self._resume = stop + self._lag
        # (The payload views stay valid: nothing is appended before this.)
        self._publish(ready)
        if self._pending is not None:
            keep = self._pending[2]
        elif self._triggers:
            keep = self._triggers[0] - self._reach
        else:  # a trigger in the next chunk reaches back this far
            keep = available - self._reach
        self._buffer.discard_before(keep)

    def _skip_triggers_inside_last_burst(self, ready, available: int) -> bool:
        """Drop the triggers that fall inside the last burst whose header
        passed, unless one of them starts a burst of its own.

        A burst cut short (a truncated recording, a radio that lost samples)
        still claims the length its header gives, so the next burst starts
        inside it. Its trigger is probed here (echoes inside a burst are rare:
        a few per hundred bursts) and, if its header passes, it is tried as a
        burst and the cut burst's payload keeps only its samples before that
        burst, zeros after (no information), so the cut costs that burst alone.

        Returns
        -------
        bool
            False when a trigger inside the burst needs samples not yet here.
        """
        while self._triggers and self._triggers[0] < self._resume:
            trigger = self._triggers[0]
            window_start = trigger - self._reach
            if window_start + self._window > available:
                return False
            # (Left in the cache: if it starts a burst, it is tried as one.)
            inner = self._headers[trigger]
            if isinstance(inner, Exception):  # a probe that fails is an echo
                inner = None
            inner_start = trigger - self._lag + (0 if inner is None else inner.timing_correction)
            last_burst, last_payload_first, last_stop = self._last_burst
            if inner is None or inner_start < last_payload_first:
                # (a header found again at the burst's own start is an echo)
                del self._headers[self._triggers.popleft()]
                continue
            # The cut burst loses its samples from the inner one on, if the
            # inner header lies within it: then it was probed in the same
            # call that completed the cut burst, before its publication,
            # however the stream was chunked (a replay decodes as live).
            if window_start + self._window <= last_stop and ready and ready[-1][0] is last_burst:
                burst, start, payload = ready[-1]
                payload = payload.copy()
                payload[inner_start - last_payload_first:] = 0
                ready[-1] = (burst, start, payload)
                self.bursts_cut_short += 1
            self._resume = trigger  # tried next, as a burst of its own
        return True

    def _decode_headers_ahead(self, available: int) -> None:
        """Decode, as one batch, the header of every trigger whose window is
        buffered and not yet decoded (every trigger is decoded once, whether
        as a burst or as a probe inside the last one, so none is wasted).

        A batch that fails is decoded again window by window, so that an
        error costs only the header that causes it.
        """
        triggers = []
        for trigger in self._triggers:  # (in stream order)
            window_start = trigger - self._reach
            if window_start + self._window > available:
                break
            if trigger in self._headers:
                continue
            if window_start < self._buffer.start:
                # An echo in the header of a burst whose payload was awaited:
                # its window was let go with the header (a probe that fails
                # is an echo).
                self._headers[trigger] = IndexError(f"the header window of trigger {trigger} was let go")
            else:
                triggers.append(trigger)
        if not triggers:
            return
        windows = np.stack([self._buffer.get(t - self._reach, t - self._reach + self._window)
                            for t in triggers])
        try:
            results = decode_header_windows(windows, self.params)
        except Exception as error:  # noqa: BLE001 - one bad burst must not stop the rest
            results = [error] if len(triggers) == 1 else [self._decode_one_header(w) for w in windows]
        self._headers.update(zip(triggers, results))

    def _decode_one_header(self, window: np.ndarray):
        """BurstHeader, None, or the exception its decoding raised."""
        try:
            return decode_header_windows(window[None, :], self.params)[0]
        except Exception as error:  # noqa: BLE001 - one bad burst must not stop the rest
            return error

    def _header(self, trigger: int) -> Optional[BurstHeader]:
        """The header decoded ahead for ``trigger`` (counted as passed or failed)."""
        burst = self._headers.pop(trigger)
        if isinstance(burst, Exception):
            gr.log.warn(f"tokencom burst decoder: header failed with {burst!r}")
            burst = None
        if burst is None:
            self.headers_failed += 1
        else:
            self.headers_ok += 1
        return burst

    def _publish(self, ready: List[Tuple[BurstHeader, int, np.ndarray]]) -> None:
        """Decode the payloads of a chunk's bursts and publish their PDUs, in
        order. Bursts that share MCS and size are decoded as one batch: a
        burst's numpy work is mostly fixed cost per call, which a batch pays
        once."""
        groups = {}
        for index, (burst, _, _) in enumerate(ready):
            groups.setdefault((burst.mcs.name, burst.header.payload_bytes), []).append(index)
        results = {}
        for members in groups.values():
            results.update(self._decode_batch(ready, members))
        for index, (burst, start, _) in enumerate(ready):
            if index not in results:
                self.bursts_dropped += 1
                continue
            symbols, decoded, diagnostics = results[index]
            try:
                received = ReceivedBurst.from_decoded(burst, decoded, max(0, start), diagnostics)
                pdu = received.to_pdu() if self._pdus_wanted else None
            except Exception as error:  # noqa: BLE001 - one bad burst must not stop the rest
                gr.log.warn(f"tokencom burst decoder dropped a burst: {error!r}")
                self.bursts_dropped += 1
                continue
            self.bursts_decoded += 1
            if self._symbols_wanted:
                self.message_port_pub(_SYMBOLS, symbols_pdu(symbols))
            for listener in self.listeners:
                listener(received)
            if pdu is not None:
                self.message_port_pub(_PDUS, pdu)

    def _decode_batch(self, ready, members: List[int]) -> dict:
        """``{index: (symbols, decoded)}`` for the bursts ``ready[members]``.
        If the batch fails, its bursts are retried one by one, so that an
        error loses only the burst that causes it."""
        try:
            return dict(zip(members, decode_payloads([ready[i][2] for i in members],
                                                     [ready[i][0] for i in members], self.params,
                                                     self.channel_tracking)))
        except Exception as error:  # noqa: BLE001 - one bad burst must not stop the rest
            if len(members) == 1:
                gr.log.warn(f"tokencom burst decoder dropped a burst: {error!r}")
                return {}
            gr.log.warn(f"tokencom burst decoder: a batch of {len(members)} payloads failed with "
                        f"{error!r}; decoding them one by one")
        results = {}
        for index in members:
            results.update(self._decode_batch(ready, [index]))
        return results
