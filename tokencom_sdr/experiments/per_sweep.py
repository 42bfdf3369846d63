"""Packet error rate vs SNR through the real GNU Radio chain, per MCS, with
GNU Radio's stock OFDM loopback as the reference curve."""

from dataclasses import asdict, dataclass, replace
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from ..channel.loopback_channel import LoopbackChannel
from ..channel.mobility import FadingSpec, FrontEndSpec
from ..phy.mcs import get_mcs
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD
from ..phy.modem import run_phy_loopback
from .stock_ofdm import run_stock_loopback

STOCK_CURVE = "stock-qpsk-uncoded"


@dataclass
class SweepPoint:
    """One (MCS, SNR) point: the JSON row of ``tokencom per-sweep``.

    Attributes
    ----------
    per : float
        Packets not delivered exactly (lost, or failed their check) over sent.
    ber : float
        Bit errors over bits, in bursts the receiver delivered.
    goodput_bps : float
        Payload bits of exactly delivered packets per second of air time at
        ``sample_rate``.
    """

    mcs: str
    snr_db: float
    packets: int
    per: float
    ber: float
    goodput_bps: float
    packets_detected: int
    channel_uses: int
    sample_rate: float
    channel_tracking: bool = True
    channel: Optional[Dict] = None


def random_packets(count: int, size: int, seed: int) -> List[bytes]:
    rng = np.random.default_rng(seed)
    return [bytes(rng.integers(0, 256, size, dtype=np.uint8)) for _ in range(count)]


def _bit_errors(delivered: Sequence[bytes], sent: Sequence[bytes]) -> (int, int):
    """Bit errors of delivered bursts against the closest sent packet."""
    sent_bits = np.unpackbits(np.frombuffer(b"".join(sent), dtype=np.uint8)).reshape(len(sent), -1)
    errors = bits = 0
    for data in delivered:
        if len(data) != len(sent[0]):
            continue
        bits_here = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        errors += int(np.min(np.sum(sent_bits != bits_here, axis=1)))
        bits += bits_here.size
    return errors, bits


def _point(name: str, snr: float, sent: Sequence[bytes], delivered_ok: int, delivered: Sequence[bytes],
           channel_uses: int, sample_rate: float, channel: LoopbackChannel,
           channel_tracking: bool = True) -> SweepPoint:
    errors, bits = _bit_errors(delivered, sent)
    air_time = channel_uses / sample_rate
    return SweepPoint(mcs=name, snr_db=snr, packets=len(sent), per=1.0 - delivered_ok / len(sent),
                      ber=errors / bits if bits else 1.0,
                      goodput_bps=8 * len(sent[0]) * delivered_ok / air_time,
                      packets_detected=len(delivered), channel_uses=channel_uses, sample_rate=sample_rate,
                      channel_tracking=channel_tracking, channel=channel.settings())


def per_sweep(mcs_names: Sequence[str], snrs: Sequence[float], packets: int = 500, payload_bytes: int = 100,
              cfo: float = 0.0, sco_ppm: float = 0.0, taps=None, include_stock: bool = True,
              sample_rate: float = 1e6, sync_threshold: float = DEFAULT_SYNC_THRESHOLD, seed: int = 0,
              progress: Optional[Callable[[str], None]] = None, fading: Optional[FadingSpec] = None,
              front_end: Optional[FrontEndSpec] = None, channel_tracking: bool = True) -> List[Dict]:
    """Measure every (MCS, SNR) point; return the JSON rows.

    Each point sends ``packets`` random payloads of ``payload_bytes`` through
    OFDM TX -> channel -> OFDM RX. A packet counts as delivered when the
    receiver outputs it byte-exact with its FEC converged (for uncoded MCSs,
    byte-exact). ``progress`` is called after each point with a short label.
    ``fading`` and ``front_end`` (see :mod:`~tokencom_sdr.channel.mobility`)
    are added to the channel, with a different fading seed per point; each
    row records the channel's settings. ``channel_tracking=False`` measures
    the receiver without its in-burst tracking.
    """
    for name in mcs_names:
        get_mcs(name)
    sent = random_packets(packets, payload_bytes, seed)
    sent_set = set(sent)
    rows: List[Dict] = []

    def make_channel(i: int, snr: float) -> LoopbackChannel:
        # Every MCS meets the same noise and the same fading at a given SNR.
        point_seed = seed * 1000 + i + 1
        point_fading = None if fading is None else replace(fading, seed=fading.seed * 1000 + point_seed)
        return LoopbackChannel(snr, cfo, sco_ppm, taps, seed=point_seed, fading=point_fading,
                               front_end=front_end)

    for name in mcs_names:
        for i, snr in enumerate(snrs):
            channel = make_channel(i, snr)
            result = run_phy_loopback(sent, name, channel, sync_threshold, channel_tracking=channel_tracking)
            good = sum(1 for pdu in result.received
                       if pdu.data in sent_set and pdu.fec_ok is not False)
            rows.append(asdict(_point(name, snr, sent, good, [p.data for p in result.received],
                                      result.channel_uses, sample_rate, channel, channel_tracking)))
            if progress:
                progress(f"{name} {snr:g} dB")
    if include_stock:
        for i, snr in enumerate(snrs):
            channel = make_channel(i, snr)
            delivered, channel_uses, _ = run_stock_loopback(sent, channel)
            good = sum(1 for data in delivered if data in sent_set)
            rows.append(asdict(_point(STOCK_CURVE, snr, sent, good, delivered, channel_uses, sample_rate,
                                      channel, False)))
            if progress:
                progress(f"stock {snr:g} dB")
    return rows


def plot_per(rows: Sequence[Dict], path) -> None:
    """PER vs SNR, one curve per MCS plus the stock reference (log scale)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    floor = 0.5 / max(r["packets"] for r in rows)  # where "no error seen" is drawn
    for name in dict.fromkeys(r["mcs"] for r in rows):
        points = [r for r in rows if r["mcs"] == name]
        style = dict(linestyle="--", color="black") if name == STOCK_CURVE else {}
        ax.semilogy([p["snr_db"] for p in points], [max(p["per"], floor) for p in points],
                    marker="o", label=name, **style)
    ax.axhline(0.01, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("SNR (dB): burst power / noise power per sample")
    ax.set_ylabel("packet error rate")
    ax.set_ylim(floor / 2, 1.5)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("TokenCom-SDR OFDM loopback (points at the bottom: no error seen)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
