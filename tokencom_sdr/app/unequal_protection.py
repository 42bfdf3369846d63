"""Unequal protection at the same air time as one MCS for everything.

Given the tokens' importance, :func:`equal_airtime_protection` sends as many
of the most important packets at the robust MCS as fit, with the rest at the
fast MCS, in no more channel uses than every packet at the base MCS,
counting every burst's preamble, header, padding and gap
(:func:`~tokencom_sdr.phy.burst_mapping.burst_length`). Robust packets go
on the air first; the receiver reads each burst's MCS from its PHY header
and each packet's positions from its link header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

from ..link import Aggregation, build_packets, encode_packet
from ..link.unequal_protection import protection_order
from ..phy.burst_mapping import burst_length
from ..phy.mcs import get_mcs
from ..phy.ofdm_params import OfdmParams
from ..tokens.frame import TokenFrame

__all__ = ["ProtectionPlan", "equal_airtime_protection", "parse_uep", "check_protection_pair"]


@dataclass
class ProtectionPlan:
    """What the sender puts on the air under unequal protection.

    Attributes
    ----------
    packets : list of bytes
        Encoded packets in air order: robust ones first.
    robust_mcs, fast_mcs : str
        The two MCSs.
    robust_packets : int
        How many leading packets are robust.
    robust_tokens : int
        Tokens they carry.
    channel_uses : int
        Air time of ``packets`` at ``packet_mcs``.
    budget : int
        Air time of equal protection (every packet at the base MCS).
    """

    packets: List[bytes]
    robust_mcs: str
    fast_mcs: str
    robust_packets: int
    robust_tokens: int
    channel_uses: int
    budget: int

    @property
    def packet_mcs(self) -> List[str]:
        """The MCS of each packet, in air order."""
        fast = len(self.packets) - self.robust_packets
        return [self.robust_mcs] * self.robust_packets + [self.fast_mcs] * fast

    def summary(self) -> Dict[str, object]:
        return {"robust_mcs": self.robust_mcs, "fast_mcs": self.fast_mcs,
                "robust_packets": self.robust_packets, "robust_tokens": self.robust_tokens,
                "packets": len(self.packets), "channel_uses": self.channel_uses,
                "equal_protection_channel_uses": self.budget}


def parse_uep(text: str) -> Tuple[str, str]:
    """``"ROBUST,FAST"`` -> two checked MCS names, the robust one slower."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2:
        raise ValueError(f"--uep takes ROBUST,FAST (two MCS names), got {text!r}")
    return check_protection_pair(*parts)


def check_protection_pair(robust_mcs: str, fast_mcs: str) -> Tuple[str, str]:
    """Both MCS names checked, the robust one carrying fewer bits per symbol."""
    robust, fast = get_mcs(robust_mcs), get_mcs(fast_mcs)
    if robust.bits_per_symbol * robust.rate >= fast.bits_per_symbol * fast.rate:
        raise ValueError(f"--uep: the robust MCS ({robust.name}) must carry fewer bits per "
                         f"symbol than the fast one ({fast.name})")
    return robust.name, fast.name


def equal_airtime_protection(frame: TokenFrame, message_id: int, importance: np.ndarray,
                             aggregation: Aggregation, base_mcs: str, robust_mcs: str,
                             fast_mcs: str, params: OfdmParams = None) -> ProtectionPlan:
    """The most important packets at ``robust_mcs`` that fit in equal protection's air time.

    Parameters
    ----------
    frame : TokenFrame
    importance : np.ndarray, shape ``(n,)``, float
        Per token; a packet's importance is its tokens' sum.
    aggregation : Aggregation
        Which tokens share a packet (unchanged by protection).
    base_mcs, robust_mcs, fast_mcs : str
        Equal protection sends everything at ``base_mcs``.

    Raises
    ------
    ValueError
        When every packet at ``fast_mcs`` already takes more air time than
        at ``base_mcs``.
    """
    params = params or OfdmParams()
    robust_mcs, fast_mcs = check_protection_pair(robust_mcs, fast_mcs)
    built = build_packets(frame, message_id, aggregation)
    packets = [encode_packet(p) for p in built]
    budget = sum(burst_length(len(p), base_mcs, params) for p in packets)
    order = protection_order([p.position_array() for p in built], importance)
    robust_cost = [burst_length(len(packets[i]), robust_mcs, params) for i in order]
    fast_cost = [burst_length(len(packets[i]), fast_mcs, params) for i in order]
    # Robust packets are taken in importance order; air time only grows with each.
    uses = int(sum(fast_cost))
    if uses > budget:
        raise ValueError(f"{fast_mcs} for every packet already takes more air time than "
                         f"{base_mcs}: no unequal protection fits")
    robust = 0
    while robust < len(order) and uses - fast_cost[robust] + robust_cost[robust] <= budget:
        uses += robust_cost[robust] - fast_cost[robust]
        robust += 1
    air_order = order[:robust] + sorted(order[robust:])
    return ProtectionPlan(
        packets=[packets[i] for i in air_order], robust_mcs=robust_mcs, fast_mcs=fast_mcs,
        robust_packets=robust,
        robust_tokens=int(sum(len(built[i].position_array()) for i in order[:robust])),
        channel_uses=uses, budget=budget)
