"""Context-aware iterative decoding of failed codewords (turbo-style).

When the LDPC decoder fails on a packet, the PHY hands over the packet's
channel LLRs (``code_llr``, see :class:`~tokencom_sdr.phy.received_burst.ReceivedBurst`).
The receiver knows a good share of that packet's bits before decoding:

* **the link header.** Every packet's header bytes (message id, sequence
  number, frame geometry, token positions) and its padding bits follow from
  the message's layout, which the CRC-good packets give, and its id
  (:func:`~tokencom_sdr.link.layout.expected_packets`). The CRC-32 is
  unknown (it depends on the tokens) and gets no prior.
* **the tokens, from context** (text). The masked-token model predicts each token of
  the packet from the other tokens of the message
  (:meth:`~tokencom_sdr.context.text_recovery.TextRecovery.bit_prior_llrs`):
  CRC-passed tokens as they are, tokens of other failed packets at their
  current soft-MAP estimates, the token itself masked (extrinsic
  information). Its distribution is marginalised to per-bit LLRs and clipped
  so that a confident wrong prediction cannot force a codeword.

Each failed packet is decoded again with these a-priori LLRs added to its
information bits (:func:`~tokencom_sdr.phy.payload_code.decode_payload`
``prior_llr``). A re-decoded packet counts as received **only if it passes
the link CRC-32** and carries the expected message id and sequence number:
the prior can steer belief propagation to a wrong codeword, and the CRC is
what keeps such a packet from ever being delivered as good. Accepted packets
join the context, which sharpens the prior for the packets still failing;
the rounds stop when one adds nothing. Packets that never pass keep the
posteriors of their original decode for the soft MAP recovery that follows.

Round 0 uses the header alone (no model); the later rounds use header and
model. ``use_model=False`` stops after round 0, which measures what header
knowledge alone is worth; ``use_header=False`` skips it and gives the
known bits no prior, which measures what the model alone is worth.

Data flow stays one way: the PHY's output (``code_llr``) goes through the
link layer's knowledge (templates, CRC) and the context model's prior back
into the PHY's decoder; nothing here changes how packets are sent.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from ...context.modes import CONTEXT_DECODING
from ...phy.mcs import get_mcs
from ...phy.payload_code import coded_length, decode_payload
from ...phy.received_burst import ReceivedBurst
from ..errors import PacketError
from ..layout import MessageLayout, expected_packets
from ..packet import parse_packet
from .soft_reassembly import SoftReassembly, as_bursts, soft_depacketize

__all__ = ["CONTEXT_DECODING", "ContextDecoding", "context_decode", "packet_prior_llr",
           "HEADER_PRIOR_LLR", "MODEL_PRIOR_CLIP"]


#: A-priori LLR magnitude of the bits the receiver knows in advance (link
#: header, padding). Not infinite: a wrongly matched packet must still be
#: able to disagree, and its CRC then fails.
HEADER_PRIOR_LLR = 10.0
#: Largest magnitude of a model-derived bit prior.
MODEL_PRIOR_CLIP = 4.0


@dataclass
class ContextDecoding:
    """Output of :func:`context_decode`.

    Attributes
    ----------
    soft : SoftReassembly
        The message reassembled with every packet that passed its CRC after
        re-decoding counted as received.
    pdus : list of ReceivedBurst
        What the PHY delivered, with recovered packets replaced by their
        re-decoded bytes (and ``code_llr`` None).
    candidates : int
        CRC-failed packets matched to a sequence number that brought
        ``code_llr`` (could be decoded again).
    recovered_header : int
        Of those, packets that passed their CRC with the header prior alone.
    recovered_model : int
        Packets that passed in the rounds with the model's token prior.
    decodes : int
        LDPC re-decodes run.
    rounds : int
        Decoding rounds run (round 0, header only, included when run).
    elapsed_s : float
    """

    soft: SoftReassembly
    pdus: List[ReceivedBurst]
    candidates: int = 0
    recovered_header: int = 0
    recovered_model: int = 0
    decodes: int = 0
    rounds: int = 0
    elapsed_s: float = 0.0

    @property
    def recovered(self) -> int:
        """Failed packets recovered by re-decoding (CRC-good)."""
        return self.recovered_header + self.recovered_model

    def summary(self) -> dict:
        """The counts as a JSON-ready dict."""
        return {"candidates": self.candidates, "recovered": self.recovered,
                "recovered_header_only": self.recovered_header,
                "recovered_with_model": self.recovered_model, "decodes": self.decodes,
                "rounds": self.rounds, "elapsed_s": self.elapsed_s}


def packet_prior_llr(template: bytes, header_bytes: int, n_token_bits: int,
                     token_llr: Optional[np.ndarray] = None,
                     header_llr: float = HEADER_PRIOR_LLR) -> np.ndarray:
    """A-priori LLRs of every bit of one packet (MSB first, positive = bit 0).

    Parameters
    ----------
    template : bytes
        The packet as :func:`~tokencom_sdr.link.layout.expected_packets`
        gives it (right header, length and zero padding; token ids 0).
    header_bytes : int
        Header length; its bits get ``+-header_llr``.
    n_token_bits : int
        Bits of token ids after the header; the padding bits up to the
        payload's byte boundary are known zeros (``+header_llr``).
    token_llr : np.ndarray, shape ``(n_token_bits,)``, optional
        Prior of the token bits (0 where None).

    Returns
    -------
    np.ndarray, shape ``(8 * len(template),)``, dtype ``float32``; the CRC-32
    bits are 0 (unknown).
    """
    bits = np.unpackbits(np.frombuffer(template, dtype=np.uint8))
    prior = np.zeros(bits.size, dtype=np.float32)
    start = 8 * header_bytes
    prior[:start] = (1.0 - 2.0 * bits[:start]) * header_llr
    payload_end = bits.size - 32
    prior[start + n_token_bits:payload_end] = header_llr  # padding: zeros
    if token_llr is not None:
        prior[start:start + n_token_bits] = np.asarray(token_llr, dtype=np.float32)
    return prior


def _decodable(pdu: ReceivedBurst) -> bool:
    if pdu.code_llr is None or pdu.mcs is None:
        return False
    try:
        mcs = get_mcs(pdu.mcs)
    except ValueError:
        return False
    # The convolutional decoder takes no prior; uncoded packets have no code.
    return mcs.code == "ldpc" and np.size(pdu.code_llr) == coded_length(len(pdu.data), mcs)


def context_decode(pdus: Sequence, message_id: int, layout: MessageLayout,
                   recovery=None, *, use_model: bool = True,
                   use_header: bool = True, rounds: int = 3, header_llr: float = HEADER_PRIOR_LLR,
                   prior_clip: float = MODEL_PRIOR_CLIP, groups: int = 4,
                   soft: Optional[SoftReassembly] = None) -> ContextDecoding:
    """Decode CRC-failed codewords again with header and context priors.

    Parameters
    ----------
    pdus : sequence of ReceivedBurst or bytes
        What the PHY delivered for one message; packets whose FEC failed
        carry ``code_llr`` and ``mcs``.
    message_id, layout
        As for :func:`~tokencom_sdr.link.receiver.soft_reassembly.soft_depacketize`.
    recovery : TextRecovery, optional
        The text context model; needed with ``use_model`` (text messages).
    use_model : bool
        Use the model's token prior after the header-only round.
    use_header : bool
        Give the known header and padding bits their prior (and run the
        header-only round). At least one of ``use_model`` and ``use_header``.
    rounds : int
        Most rounds with the model prior (each re-decodes every packet still
        failing); stops early when a round recovers nothing.
    header_llr, prior_clip, groups
        Prior magnitude of known bits, clip of model bit priors, and the
        interleaved groups of :meth:`TextRecovery.token_prior`.
    soft : SoftReassembly, optional
        :func:`soft_depacketize` of ``pdus``, when the caller already has it
        (it is the starting point; matching packets to headers is not free).

    Returns
    -------
    ContextDecoding
        Without any packet carrying ``code_llr`` (uncoded MCS, soft-bit
        channel, hard-decision PHY) ``soft`` is exactly
        :func:`soft_depacketize`'s result.
    """
    if not (use_model or use_header):
        raise ValueError("context decoding needs the header prior, the model prior or both")
    start = time.perf_counter()
    header_llr = header_llr if use_header else 0.0
    pdus = as_bursts(pdus)  # a list of our own: recovered packets are replaced
    if soft is None:
        soft = soft_depacketize(pdus, message_id, layout)
    todo = {index: seq for index, seq in soft.matches if _decodable(pdus[index])}
    out = ContextDecoding(soft, pdus, candidates=len(todo))
    if not todo:
        out.elapsed_s = time.perf_counter() - start
        return out
    templates = expected_packets(layout, message_id)
    bits = layout.geometry.bits_per_token

    def attempt(index: int, token_llr: Optional[np.ndarray]) -> bool:
        seq = todo[index]
        template, header_bytes, positions = templates[seq]
        pdu = pdus[index]
        prior = packet_prior_llr(template, header_bytes, positions.size * bits, token_llr,
                                 header_llr)
        decoded = decode_payload(pdu.code_llr, len(pdu.data), get_mcs(pdu.mcs), prior)
        out.decodes += 1
        # The CRC, not the decoder, decides: BP steered by a prior can
        # converge to a wrong codeword.
        try:
            packet = parse_packet(decoded.data)
        except PacketError:
            return False
        if packet.message_id != message_id or packet.seq != seq:
            return False
        pdus[index] = dataclasses.replace(pdu, data=decoded.data, bit_llr=decoded.bit_llr,
                                          code_llr=None, fec_ok=decoded.fec_ok)
        del todo[index]
        return True

    if use_header:
        # Round 0: the header alone.
        out.rounds = 1
        for index in list(todo):
            out.recovered_header += attempt(index, None)
    if use_model and todo:
        if recovery is None:
            raise ValueError("re-decoding with the model's prior needs a TextRecovery")
        for _ in range(rounds):
            if not todo:
                break
            out.rounds += 1
            current = soft_depacketize(pdus, message_id, layout)
            received = current.received
            # The model that will recover the message gives the prior too
            # (the corpus expert for 17th-century English).
            serving = recovery.routed(received)
            estimate = serving.recover(received, mode="soft").frame.ids
            visible = ~received.frame.erased | np.any(received.soft.llrs != 0, axis=1)
            order = list(todo)
            targets = np.concatenate([templates[todo[i]][2] for i in order])
            prior = serving.bit_prior_llrs(estimate, visible, targets, bits, groups, prior_clip)
            recovered = 0
            offset = 0
            for index in order:
                count = templates[todo[index]][2].size
                recovered += attempt(index, prior[offset:offset + count].reshape(-1))
                offset += count
            out.recovered_model += recovered
            if recovered == 0:
                break
    if out.recovered:
        out.soft = soft_depacketize(pdus, message_id, layout)
    out.elapsed_s = time.perf_counter() - start
    return out
