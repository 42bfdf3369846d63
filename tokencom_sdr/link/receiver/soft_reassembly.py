"""Keep what CRC-failed packets still say: token LLRs for the context layer.

:func:`~tokencom_sdr.link.depacketize` accepts only packets whose CRC-32
passes; a packet with a single wrong bit is thrown away and all its tokens
are erased. The bits of such a packet are nonetheless mostly right, and the
context model can use them (soft MAP detection). This module rebuilds a
:class:`~tokencom_sdr.tokens.soft.ReceivedFrame` with:

* the frame exactly as :func:`depacketize` builds it (erased = not delivered
  by a CRC-passed packet), and
* :class:`~tokencom_sdr.tokens.soft.SoftTokenInfo` whose rows at the tokens of
  CRC-failed packets hold those packets' bit LLRs (zeros for packets that
  never arrived).

A CRC-failed packet's header cannot be trusted to say which tokens it
carries, so it is matched instead against the headers the receiver expects:
given the frame geometry, message id and aggregation, every packet's header
is known in advance. The match is the expected header closest to the
received one (Hamming distance, or LLR-weighted distance when LLRs exist);
a packet too far from every unclaimed header is ignored.

The expected headers come from the message's layout, which the CRC-good
packets give (:func:`~tokencom_sdr.link.layout.infer_layout`): nothing is
taken from the sender. Without a known aggregation, failed packets cannot be
placed and are not used.

Where the PHY gives LLRs (:attr:`~tokencom_sdr.phy.received_burst.ReceivedBurst.bit_llr`)
they are used as they are. Where it made hard decisions only, each bit gets
the LLR of a binary symmetric channel, ``+-log((1-p)/p)``, with the bit error
rate ``p`` estimated from the known header bits of all matched packets of the
message: the headers act as pilots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ...phy.received_burst import ReceivedBurst
from ...tokens.soft import LLR_CLIP, ReceivedFrame, SoftTokenInfo, ids_to_bits
from ..layout import MessageLayout, expected_packets
from ..packetizer import ReassemblyResult, depacketize

__all__ = ["SoftReassembly", "soft_depacketize", "as_bursts"]

#: A CRC-failed packet whose header differs from the best expected header in
#: more than this share of bits is taken to be something else and ignored.
MAX_HEADER_BIT_ERROR_SHARE = 0.15


@dataclass
class SoftReassembly:
    """Output of :func:`soft_depacketize`.

    Attributes
    ----------
    received : ReceivedFrame
        Frame (erasures as the hard link layer sees them) plus soft info.
    reassembly : ReassemblyResult
        The plain :func:`depacketize` result.
    failed_packets_used : int
        CRC-failed packets matched to a sequence number and turned into LLRs.
    header_bit_error_rate : float or None
        Estimated channel bit error rate from the header bits (hard-decision
        input only), None when LLRs were given.
    matches : list of (int, int)
        ``(index in pdus, sequence number)`` of every CRC-failed packet used.
    """

    received: ReceivedFrame
    reassembly: ReassemblyResult
    failed_packets_used: int
    header_bit_error_rate: Optional[float]
    matches: List[Tuple[int, int]] = field(default_factory=list)


def as_bursts(items: Sequence[Union[bytes, bytearray, ReceivedBurst]]) -> List[ReceivedBurst]:
    """PHY outputs as :class:`ReceivedBurst` s (bytes become bursts without soft values)."""
    return [item if isinstance(item, ReceivedBurst) else ReceivedBurst(bytes(item))
            for item in items]


def soft_depacketize(bursts: Sequence[Union[bytes, ReceivedBurst]], message_id: int,
                     layout: MessageLayout) -> SoftReassembly:
    """Reassemble a text or image frame keeping the soft content of failed packets.

    Parameters
    ----------
    bursts : sequence of bytes or ReceivedBurst
        What the PHY delivered, in any order. ``bit_llr`` of shape
        ``(8 * len(data),)`` float32 (positive = bit 0) when available.
    message_id : int
        The message being received.
    layout : MessageLayout
        Geometry and aggregation (:func:`~tokencom_sdr.link.layout.infer_layout`);
        with the message id they fix every packet's header.

    Returns
    -------
    SoftReassembly
    """
    soft_pdus = as_bursts(bursts)
    geometry = layout.geometry
    reassembly = depacketize([p.data for p in soft_pdus], message_id, expected=geometry)
    frame = reassembly.frame
    bits = geometry.bits_per_token
    n = geometry.num_tokens
    llrs = np.zeros((n, bits), dtype=np.float32)
    # Delivered tokens are right (their CRC passed): certain LLRs.
    delivered = ~frame.erased
    llrs[delivered] = (1.0 - 2.0 * ids_to_bits(frame.ids[delivered], bits)) * LLR_CLIP

    if n == 0 or layout.aggregation is None:
        return SoftReassembly(ReceivedFrame(frame, SoftTokenInfo(llrs)), reassembly, 0, None)

    templates = expected_packets(layout, message_id)
    accepted_seqs = set(reassembly.stats.received_seqs)
    rejected_indices = [r.index for r in reassembly.stats.rejected if r.kind == "malformed"]
    open_seqs = [s for s in range(len(templates)) if s not in accepted_seqs]

    # Score every (failed pdu, open seq) pair of equal length by header distance.
    candidates = []
    for index in rejected_indices:
        pdu = soft_pdus[index]
        for seq in open_seqs:
            template, header_bytes, _ = templates[seq]
            if len(pdu.data) != len(template):
                continue
            sent = np.unpackbits(np.frombuffer(template[:header_bytes], dtype=np.uint8))
            got = np.unpackbits(np.frombuffer(pdu.data[:header_bytes], dtype=np.uint8))
            wrong = sent != got
            errors = int(wrong.sum())
            if errors > MAX_HEADER_BIT_ERROR_SHARE * sent.size:
                continue
            # With LLRs, a disagreement costs its reliability (ML matching).
            cost = float(np.abs(pdu.bit_llr[:sent.size][wrong]).sum()) \
                if pdu.bit_llr is not None else float(errors)
            candidates.append((cost, index, seq, errors, sent.size))
    candidates.sort()
    used_pdus, used_seqs, matches = set(), set(), []
    for cost, index, seq, errors, header_bits in candidates:
        if index in used_pdus or seq in used_seqs:
            continue
        used_pdus.add(index)
        used_seqs.add(seq)
        matches.append((index, seq, errors, header_bits))

    hard_input = any(soft_pdus[i].bit_llr is None for i, _, _, _ in matches)
    ber = None
    if hard_input:
        # Pilot estimate from every packet whose header we can compare:
        # the matched failed ones (with their errors) and the accepted ones
        # (header identical to the template, else they could not pass).
        errors = sum(e for i, _, e, _ in matches if soft_pdus[i].bit_llr is None)
        total = sum(h for i, _, _, h in matches if soft_pdus[i].bit_llr is None)
        total += sum(templates[s][1] * 8 for s in accepted_seqs if s < len(templates))
        ber = (errors + 0.5) / (total + 1.0)
        magnitude = float(np.log((1.0 - ber) / ber))

    for index, seq, _, _ in matches:
        pdu = soft_pdus[index]
        template, header_bytes, positions = templates[seq]
        count = positions.size
        start = 8 * header_bytes
        if pdu.bit_llr is not None:
            token_llrs = pdu.bit_llr[start:start + count * bits]
        else:
            payload_bits = np.unpackbits(np.frombuffer(pdu.data, dtype=np.uint8))
            token_llrs = (1.0 - 2.0 * payload_bits[start:start + count * bits].astype(np.float32)) \
                * magnitude
        llrs[positions] = token_llrs.reshape(count, bits)
    received = ReceivedFrame(frame, SoftTokenInfo(llrs))
    return SoftReassembly(received, reassembly, len(matches), ber,
                          [(index, seq) for index, seq, _, _ in matches])

