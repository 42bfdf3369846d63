"""The conventional senders over the same PHY: JPEG files and UTF-8 or zlib
text in CRC packets, as a link without TokenCom's token packets would send them.

Each file is cut into packets of ``[sequence (2 bytes), count (2 bytes),
bytes, CRC-32 (4 bytes)]`` and sent through the same GNU Radio chain and the
same software channel (and packet-loss trace) as the tokens
(:func:`~tokencom_sdr.phy.modem.run_phy_loopback`,
:func:`~tokencom_sdr.app.loopback.drop_lost_packets`). A packet counts when
the PHY's FEC converged and its CRC-32 holds. The receiver does what a real
one does without retransmission:

* JPEG: the file up to the first lost packet (a decoder cannot resume inside
  an entropy-coded scan), decoded by Pillow as a viewer would, truncated
  files included; a file that does not decode is shown as a mid-grey image;
* zlib: the stream up to the first lost packet, decompressed as far as it
  goes;
* UTF-8: every packet that arrived in its place, a lost one as U+FFFD.

For equal channel uses, :func:`jpeg_over_link` gives JPEG the bytes of the
token packets it stands beside (same packet count and size), less its own
8-byte header per packet; text files are the size they are.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from ..app.loopback import LinkConfig, drop_lost_packets
from ..metrics.image_quality import ms_ssim, psnr
from ..metrics.jpeg_baseline import encode_jpeg, jpeg_at_bit_budget
from ..phy.modem import run_phy_loopback

__all__ = ["BYTE_PACKET_OVERHEAD", "TEXT_CODECS", "ReceivedFile", "send_file", "jpeg_over_link",
           "text_over_link", "mid_grey"]

_HEADER = struct.Struct(">HH")
_CRC = struct.Struct(">I")
#: Header and CRC bytes of one conventional packet.
BYTE_PACKET_OVERHEAD = _HEADER.size + _CRC.size
#: Text codecs of the conventional sender.
TEXT_CODECS = ("utf8", "zlib")
#: What a receiver shows for a file it cannot decode.
_GREY = 128


@dataclass
class ReceivedFile:
    """What arrived of one file.

    Attributes
    ----------
    chunks : list of bytes or None
        The file's pieces in order, None where the packet was lost.
    packets_sent, packets_received, channel_uses : int
    """

    chunks: List[Optional[bytes]]
    packets_sent: int
    packets_received: int
    channel_uses: int

    def prefix(self) -> bytes:
        """The file up to its first lost packet."""
        out = []
        for chunk in self.chunks:
            if chunk is None:
                break
            out.append(chunk)
        return b"".join(out)

    @property
    def complete(self) -> bool:
        return all(c is not None for c in self.chunks)


def _packets(data: bytes, chunk_bytes: int) -> List[bytes]:
    pieces = [data[i:i + chunk_bytes] for i in range(0, max(len(data), 1), chunk_bytes)]
    if len(pieces) > 0xFFFF:
        raise ValueError(f"{len(data)} bytes need more than 65535 packets of {chunk_bytes}")
    out = []
    for seq, piece in enumerate(pieces):
        body = _HEADER.pack(seq, len(pieces)) + piece
        out.append(body + _CRC.pack(zlib.crc32(body)))
    return out


def send_file(data: bytes, chunk_bytes: int, link: LinkConfig) -> ReceivedFile:
    """Send ``data`` in CRC packets of ``chunk_bytes`` file bytes through the chain."""
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be at least 1")
    packets = _packets(data, chunk_bytes)
    phy = drop_lost_packets(run_phy_loopback(packets, link.mcs, link.make_channel(), link.sync_threshold),
                            len(packets), link)
    chunks: List[Optional[bytes]] = [None] * len(packets)
    for burst in phy.received:
        body, crc = burst.data[:-_CRC.size], burst.data[-_CRC.size:]
        if burst.fec_ok is False or len(body) < _HEADER.size or _CRC.pack(zlib.crc32(body)) != crc:
            continue
        seq, count = _HEADER.unpack(body[:_HEADER.size])
        if count == len(packets) and seq < count:
            chunks[seq] = body[_HEADER.size:]
    received = sum(c is not None for c in chunks)
    return ReceivedFile(chunks, len(packets), received, phy.channel_uses)


def mid_grey(shape) -> np.ndarray:
    return np.full(shape, _GREY, dtype=np.uint8)


def _decode_jpeg(data: bytes, shape) -> np.ndarray:
    """What a viewer shows of (possibly truncated) JPEG bytes; mid-grey if nothing."""
    from PIL import Image, ImageFile

    if not data:
        return mid_grey(shape)
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except (OSError, ValueError, SyntaxError):
        return mid_grey(shape)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    return decoded if decoded.shape == tuple(shape) else mid_grey(shape)


def jpeg_over_link(image: np.ndarray, packets: int, packet_bytes: int, link: LinkConfig) -> Dict[str, object]:
    """The largest JPEG that fills ``packets`` packets of ``packet_bytes``
    bytes, sent through the chain.

    Returns
    -------
    dict
        ``packets_sent``, ``packets_received``, ``channel_uses``,
        ``payload_bits`` (the JPEG file's), ``bytes_delivered``,
        ``jpeg_bytes``, ``jpeg_quality``, ``psnr_db``/``ms_ssim`` (what
        arrived) and ``psnr_jpeg_error_free_db``; the scores are of a
        mid-grey image when no JPEG fits.
    """
    chunk = packet_bytes - BYTE_PACKET_OVERHEAD
    chosen = jpeg_at_bit_budget(image, 8 * packets * chunk)
    data = b"" if chosen is None else encode_jpeg(image, chosen.quality)
    received = send_file(data, chunk, link)
    shown = _decode_jpeg(received.prefix(), image.shape)
    return {"packets_sent": received.packets_sent, "packets_received": received.packets_received,
            "channel_uses": received.channel_uses, "payload_bits": 8 * len(data),
            "bytes_delivered": sum(len(c) for c in received.chunks if c is not None),
            "jpeg_bytes": len(data), "jpeg_quality": None if chosen is None else chosen.quality,
            "psnr_db": psnr(image, shown), "ms_ssim": ms_ssim(image, shown),
            "psnr_jpeg_error_free_db": None if chosen is None else psnr(image, chosen.decoded)}


def text_over_link(text: str, codec: str, packet_bytes: int, link: LinkConfig) -> Dict[str, object]:
    """``text`` as UTF-8 or zlib-compressed UTF-8 in packets of ``packet_bytes``.

    Returns
    -------
    dict
        ``packets_sent``, ``packets_received``, ``channel_uses``,
        ``payload_bits``, ``bytes_delivered``, ``exact`` and
        ``received_text``.
    """
    if codec not in TEXT_CODECS:
        raise ValueError(f"unknown text codec {codec!r}; choose {', '.join(TEXT_CODECS)}")
    raw = text.encode("utf-8")
    data = zlib.compress(raw, 9) if codec == "zlib" else raw
    received = send_file(data, packet_bytes - BYTE_PACKET_OVERHEAD, link)
    if codec == "zlib":
        try:
            shown = zlib.decompressobj().decompress(received.prefix()).decode("utf-8", errors="replace")
        except zlib.error:
            shown = ""
    else:
        shown = "".join("\ufffd" if c is None else c.decode("utf-8", errors="replace")
                        for c in received.chunks)
    return {"packets_sent": received.packets_sent, "packets_received": received.packets_received,
            "channel_uses": received.channel_uses, "payload_bits": 8 * len(data),
            "bytes_delivered": sum(len(c) for c in received.chunks if c is not None),
            "exact": received.complete and shown == text, "received_text": shown}
