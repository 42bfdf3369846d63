"""A message's layout from CRC-failed packets alone.

When not one packet of a message passes its CRC, the headers of the failed
ones still say, with some bit errors, what the message is: every packet of a
message repeats the same magic, version, modality, tokenizer, message id,
packet count, bits per token and frame shape, and the same position stride.
Combining those bits over all the failed packets (summing their LLRs, or a
majority vote of hard bits) is a repetition code: it recovers the shared
fields at an SNR where no single packet decodes. Magic, version and the
position mode are constants and not estimated; the few least reliable
estimated bits are also tried flipped (a Chase search). The candidate
layouts are scored by how closely their expected headers match the bursts,
and the best is returned; soft reassembly then accepts only the bursts
whose headers match it closely.

Nothing decided here is ever delivered as good on its own: the estimated
layout only lets soft reassembly place the failed packets and re-decoding
try them with a header prior, and a packet counts only if it then passes
its CRC-32.
"""

from __future__ import annotations

import struct
from typing import Optional, Sequence, Tuple

import numpy as np

from ...phy.received_burst import ReceivedBurst
from ...tokens.frame import Modality
from ..aggregation import AGGREGATIONS, InterleavedAggregation
from ..layout import MessageLayout, expected_packets
from ..packet import (CRC_SIZE, FIXED_HEADER_SIZE, MAGIC, MAX_BITS_PER_TOKEN, MESSAGE_ID_OFFSET,
                      NDIM_BY_MODALITY, VERSION, header_size, payload_size)
from ..positions import MAX_TOKENS_PER_PACKET, MODE_ARITHMETIC, ArithmeticPositions
from ..packetizer import DEFAULT_MAX_FRAME_TOKENS, FrameGeometry

__all__ = ["estimate_layout"]

# The fixed header (as packet.py writes it) and an arithmetic position block.
# The sequence number and the block's start differ between packets; their
# combined values are meaningless and not used.
_FIXED = struct.Struct(">2sBBBHHHBB")
_MODALITY_OFFSET = 3  # the tokenizer byte follows it
_BITS_OFFSET = 11
_ARITHMETIC = struct.Struct(">IIH")

#: Least reliable shared header bits the Chase search also tries flipped.
CHASE_BITS = 8


def _llr_sums(bursts: Sequence[ReceivedBurst], stop: int) -> np.ndarray:
    """The first ``stop`` bytes' bits as all bursts together say them: summed
    LLRs, positive favouring 0 (a burst without LLRs counts its hard bits as
    +-1). Shape ``(8 * stop,)``, float64."""
    total = np.zeros(8 * stop, dtype=np.float64)
    for burst in bursts:
        if burst.bit_llr is not None:
            total += np.clip(burst.bit_llr[:8 * stop], -50.0, 50.0)
        else:
            bits = np.unpackbits(np.frombuffer(burst.data[:stop], dtype=np.uint8))
            total += 1.0 - 2.0 * bits
    return total


def _bits(first_byte: int, nbytes: int) -> range:
    return range(8 * first_byte, 8 * (first_byte + nbytes))


def _header_cost(burst: ReceivedBurst, template: bytes, header_bytes: int) -> float:
    """LLR-weighted (or Hamming) distance of a burst's header to a template's."""
    sent = np.unpackbits(np.frombuffer(template[:header_bytes], dtype=np.uint8))
    got = np.unpackbits(np.frombuffer(burst.data[:header_bytes], dtype=np.uint8))
    wrong = sent != got
    if burst.bit_llr is None:
        return float(wrong.sum())
    return float(np.abs(burst.bit_llr[:sent.size][wrong]).sum())


def _free_bits(ndim: int, block: int, message_id_known: bool,
               tokenizer_known: bool) -> np.ndarray:
    """Bit indices of the header fields shared by every packet of a message
    and not known in advance: what the combination estimates."""
    free = list(_bits(9, 2))  # packet count
    if not tokenizer_known:
        free += list(_bits(4, 1)) + list(_bits(11, 1))  # tokenizer, bits per token
    if not message_id_known:
        free += list(_bits(MESSAGE_ID_OFFSET, 2))
    free += list(_bits(FIXED_HEADER_SIZE, 4 * ndim))  # shape
    free += list(_bits(block + 4, 4))  # stride of the arithmetic position block
    return np.asarray(free)


def _candidate_layouts(header: bytes, ndim: int, block: int, modality: Modality):
    """``(layout candidates, message id)`` a combined header allows (no layouts
    when its fields are invalid)."""
    _, _, _, tokenizer, mid, _, num_packets, bits, _ = _FIXED.unpack(header[:FIXED_HEADER_SIZE])
    if not 1 <= bits <= MAX_BITS_PER_TOKEN or num_packets < 1:
        return [], mid
    shape = struct.unpack(f">{ndim}I", header[FIXED_HEADER_SIZE:FIXED_HEADER_SIZE + 4 * ndim])
    n = int(np.prod(shape, dtype=np.int64))
    if not 1 <= n <= DEFAULT_MAX_FRAME_TOKENS or num_packets > n:
        return [], mid
    _, stride, per_packet = _ARITHMETIC.unpack(header[block:block + _ARITHMETIC.size])
    geometry = FrameGeometry(modality, shape, bits, num_packets, tokenizer)
    layouts = []
    for size in sorted({-(-n // num_packets), per_packet}):
        if not 1 <= size <= MAX_TOKENS_PER_PACKET:
            continue
        for name in sorted(AGGREGATIONS):
            aggregation = AGGREGATIONS[name](size)
            if aggregation.num_packets(n) != num_packets:
                continue
            # Interleaved packets step by the packet count, sequential ones by 1.
            if num_packets > 1 and stride != (num_packets if name == "interleaved" else 1):
                continue
            layouts.append(MessageLayout(geometry, aggregation))
    return layouts, mid


def _packet_lengths(layout: MessageLayout) -> set:
    """Encoded lengths of the layout's packets, by arithmetic (no packets built)."""
    geometry, aggregation = layout.geometry, layout.aggregation
    n, count = geometry.num_tokens, geometry.num_packets
    if isinstance(aggregation, InterleavedAggregation):
        sizes = {n // count, -(-n // count)}
    else:
        size = aggregation.tokens_per_packet
        sizes = {size, n - (count - 1) * size}
    header = header_size(len(geometry.shape), ArithmeticPositions(0, 1, 1))
    return {header + payload_size(k, geometry.bits_per_token) + CRC_SIZE for k in sizes if k > 0}


def _layout_cost(layout: MessageLayout, message_id: int, bursts: Sequence[ReceivedBurst]) -> float:
    """How far the bursts' headers are from the layout's (inf if a burst's
    length fits no packet of it)."""
    lengths = _packet_lengths(layout)
    if any(len(burst.data) not in lengths for burst in bursts):
        return float("inf")  # decided before building a frame that may be huge
    templates = expected_packets(layout, message_id)
    cost = 0.0
    for burst in bursts:
        cost += min(_header_cost(burst, template, header_bytes)
                    for template, header_bytes, _ in templates
                    if len(template) == len(burst.data))
    return cost


def estimate_layout(bursts: Sequence[ReceivedBurst], message_id: Optional[int] = None,
                    tokenizers: Optional[Sequence[Tuple[Modality, int, int]]] = None
                    ) -> Optional[Tuple[MessageLayout, int]]:
    """Estimate ``(layout, message_id)`` from CRC-failed bursts of one message.

    The shared header fields are the signs of the bursts' summed LLRs; the
    :data:`CHASE_BITS` least reliable of them are also tried flipped (a
    Chase search), and the candidate layout whose expected headers lie
    closest to the bursts' wins. Candidates must be valid headers whose
    packet lengths are the bursts' lengths.

    Parameters
    ----------
    bursts : sequence of ReceivedBurst
        Bursts that failed the link CRC (of one message, possibly with others').
    message_id : int, optional
        The message's id when known (a stream receiver's grouping); default:
        the combined estimate.
    tokenizers : sequence of (Modality, int, int), optional
        ``(modality, wire id, bits per token)`` of the tokenizers the receiver
        has: only headers naming one of them are candidates (what a receiver
        cannot detokenize is of no use). Default: any modality, tokenizer and
        bit width.

    Returns
    -------
    (MessageLayout, int) or None
        None when no candidate is a valid header of a known aggregation that
        fits the bursts' lengths.
    """
    best: Optional[Tuple[float, MessageLayout, int]] = None
    choices = [(m, None, None) for m in Modality] if tokenizers is None else tokenizers
    for modality, wire_id, bits_per_token in choices:
        modality = Modality(modality)
        ndim = NDIM_BY_MODALITY[modality]
        block = FIXED_HEADER_SIZE + 4 * ndim + 1  # after the positions mode byte
        stop = block + _ARITHMETIC.size
        usable = [b for b in bursts if len(b.data) > stop + CRC_SIZE]
        if not usable:
            continue
        sums = _llr_sums(usable, stop)
        hard = (sums < 0).astype(np.uint8)
        # Known fields: magic, version, modality, ndim, positions mode.
        known = bytearray(np.packbits(hard).tobytes())
        known[:3] = MAGIC + bytes([VERSION])
        known[_MODALITY_OFFSET] = int(modality)
        if wire_id is not None:
            known[_MODALITY_OFFSET + 1] = int(wire_id)
            known[_BITS_OFFSET] = int(bits_per_token)
        known[FIXED_HEADER_SIZE - 1] = ndim
        known[block - 1] = MODE_ARITHMETIC
        if message_id is not None:
            known[MESSAGE_ID_OFFSET:MESSAGE_ID_OFFSET + 2] = message_id.to_bytes(2, "big")
        base = np.unpackbits(np.frombuffer(bytes(known), dtype=np.uint8))
        free = _free_bits(ndim, block, message_id is not None, wire_id is not None)
        weakest = free[np.argsort(np.abs(sums[free]))[:CHASE_BITS]]
        for flips in range(1 << weakest.size):
            bits = base.copy()
            chosen = weakest[[(flips >> k) & 1 == 1 for k in range(weakest.size)]]
            bits[chosen] ^= 1
            header = np.packbits(bits).tobytes()
            layouts, mid = _candidate_layouts(header, ndim, block, modality)
            for layout in layouts:
                cost = _layout_cost(layout, mid, usable)
                if best is None or cost < best[0]:
                    best = (cost, layout, mid)
    if best is None or not np.isfinite(best[0]):
        return None
    return best[1], best[2]
