"""GNU Radio block: tagged packet bytes -> tagged burst data symbols."""

import numpy as np
import pmt
from gnuradio import gr

from .burst_mapping import HEADER_OFDM_SYMBOLS, MAX_BURST_OFDM_SYMBOLS, bursts_symbols, payload_ofdm_symbols
from .mcs import get_mcs
from .ofdm_params import LENGTH_TAG, OfdmParams
from .payload_code import warm_up_codes
from .phy_header import MAX_PAYLOAD_BYTES

# Twice the longest burst: the scheduler never offers a whole buffer at once.
_MAX_BURST_SYMBOLS = 2 * MAX_BURST_OFDM_SYMBOLS * 48


class BurstMapperBlock(gr.basic_block):
    """Codes and maps packets in numpy: the packets of one size that a
    ``work()`` call completes, as one batch (numpy's cost per call, not the
    arithmetic, is most of a packet's).

    Input: ``uint8`` tagged stream, one packet per ``packet_len`` tag.
    Output: ``complex64`` tagged stream of each burst's data-carrier
    symbols (coded header, then coded payload), ``packet_len`` = symbols, as
    gr-digital's carrier allocator expects.

    It is a stream block rather than a PDU block on purpose: in a finite
    flowgraph a chain of message hops can end before its last PDUs are
    handled, and the transmitter must never lose a packet.
    """

    def __init__(self, mcs="qpsk-1/2", params: OfdmParams = None):
        gr.basic_block.__init__(self, "tokencom_burst_mapper", in_sig=[np.uint8], out_sig=[np.complex64])
        self.mcs = get_mcs(mcs)
        self.params = params or OfdmParams()
        self.packet_number = 0
        self.packets_dropped = 0
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self.set_min_output_buffer(0, _MAX_BURST_SYMBOLS)
        # Build the codes now, not inside the first packet's work() call.
        warm_up_codes()

    def forecast(self, noutput_items, ninputs):
        # Any input may complete a packet; output size depends on the packet.
        return [1] * ninputs

    def general_work(self, input_items, output_items):
        data, out = input_items[0], output_items[0]
        start = self.nitems_read(0)
        # Only packets that start within the bytes this call's output could
        # code (a symbol carries at most bits_per_symbol payload bits): a
        # source that delivers all its packets at once would otherwise have
        # every remaining tag read again on every call.
        window = min(len(data), len(out) * self.mcs.bits_per_symbol // 8 + 1)
        lengths = {}
        for tag in self.get_tags_in_window(0, 0, window):
            if pmt.symbol_to_string(tag.key) == LENGTH_TAG:
                lengths[tag.offset - start] = int(pmt.to_long(tag.value))
        consumed = produced = 0
        packets = []  # (where its symbols go, bytes, packet number)
        while consumed < window:
            length = lengths.get(consumed)
            if length is None:  # bytes outside any packet: skip to the next tag
                following = [o for o in lengths if o > consumed]
                consumed = min(following) if following else window
                continue
            if consumed + length > len(data):
                break  # wait for the rest of the packet
            if not 1 <= length <= MAX_PAYLOAD_BYTES:
                gr.log.warn(f"tokencom burst mapper dropped a packet of {length} bytes; "
                            f"the PHY carries 1..{MAX_PAYLOAD_BYTES}")
                self.packets_dropped += 1
                consumed += length
                continue
            n_symbols = (HEADER_OFDM_SYMBOLS + payload_ofdm_symbols(length, self.mcs, self.params)) \
                * len(self.params.data_carriers)
            if produced + n_symbols > len(out):
                break  # no room: the scheduler calls again with more space
            packets.append((produced, bytes(data[consumed:consumed + length]), self.packet_number))
            self.add_item_tag(0, self.nitems_written(0) + produced, pmt.intern(LENGTH_TAG),
                              pmt.from_long(n_symbols))
            produced += n_symbols
            consumed += length
            self.packet_number = (self.packet_number + 1) % 256
        by_size = {}
        for packet in packets:
            by_size.setdefault(len(packet[1]), []).append(packet)
        for group in by_size.values():
            symbols = bursts_symbols([p[1] for p in group], self.mcs, [p[2] for p in group], self.params)
            for (first, _, _), row in zip(group, symbols):
                out[first:first + row.size] = row
        self.consume(0, consumed)
        return produced
