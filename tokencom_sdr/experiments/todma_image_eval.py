"""``tokencom todma --modality image``: ToDMA against TDMA for VQ image tokens.

Sources: square crops (``crop`` pixels, default 64: a 16 x 16 grid of the
standard tokenizer's 512-entry codebook) cut on a grid from the held-out
images (never seen in training); in a frame, K devices send one crop each,
one token per slot (``slots`` = the grid's tokens). The ToDMA receiver is the
text one (:mod:`tokencom_sdr.todma`) over a ``L x 512`` codebook.

Schemes: ``todma`` (masked tokens filled by the image context model,
``ImageRecovery("context")``, free over the codebook: the slot-candidate
restriction of text is not applied to images yet), ``todma-no-context``
(masked tokens take the neutral code, ``ImageRecovery("none")``) and
``tdma`` (each crop through :func:`tokencom_sdr.app.loopback.run_image_loopback`
with context recovery, the real link and OFDM PHY at the same SNR).

Each JSON row: ``devices``, ``snr_db``, ``scheme``, ``modality``,
``codeword_len``, ``slots``, ``frames``, ``collisions``,
``collisions_resolved_rate``, ``token_error_rate``, ``psnr_db`` (mean over
crops, against the original pixels), ``psnr_tokens_only_db`` (the error-free
tokens' PSNR, the ceiling), ``channel_uses`` (per frame) and, for ToDMA,
``channel_uses_symbols``, ``channel_use_ratio_vs_tdma``,
``assignment_rate_non_colliding``, ``devices_estimated`` and
``device_count_exact_rate``. Frames, offsets, channel uses (time samples,
preamble included), the estimated K and scoring by the best permutation are
as for text (:mod:`.todma_eval`).
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from ..data.image_data import HELDOUT_IMAGES, load_images
from ..metrics.image_quality import psnr
from ..channel.multi_device import DeviceOffsets
from ..todma import (ToDMAReceiver, align_sequences, aligned, collision_positions,
                     gaussian_codebook, rayleigh_gains, transmit_ofdm_frame)
from ..tokens.frame import Modality, TokenFrame
from ..tokens.registry import tokenizer_id

__all__ = ["IMAGE_SCHEMES", "held_out_crops", "run_todma_image_eval"]

IMAGE_SCHEMES = ("todma", "todma-no-context", "tdma")


def held_out_crops(count: int, crop: int) -> List[np.ndarray]:
    """``count`` crops of ``crop x crop`` pixels, row by row over the held-out images in turn.

    Returns
    -------
    list of np.ndarray, each shape ``(crop, crop, 3)``, dtype ``uint8``
    """
    tiles = []
    for image in load_images(HELDOUT_IMAGES).values():
        rows, cols = image.shape[0] // crop, image.shape[1] // crop
        tiles.append([image[r * crop:(r + 1) * crop, c * crop:(c + 1) * crop]
                      for r in range(rows) for c in range(cols)])
    # Alternate between the images so that a frame's devices send different scenes.
    crops = [tile for group in zip(*tiles) for tile in group]
    if len(crops) < count:
        raise ValueError(f"the held-out images give {len(crops)} crops of {crop} pixels, "
                         f"not {count}")
    return crops[:count]


def run_todma_image_eval(devices: List[int], snrs: List[float], codeword_len: int = 64,
                         frames: int = 2, crop: int = 64, schemes=IMAGE_SCHEMES,
                         seed: int = 0, tokenizer=None, max_delay: float = 0.0,
                         max_cfo: float = 0.0, known_devices: bool = False,
                         common_delay: float = 8.0, common_cfo: float = 1e-3) -> List[Dict]:
    """Measure every scheme at every (K, SNR); one row each (module docstring)."""
    from ..app.loopback import LinkConfig, run_image_loopback
    from ..context.image_recovery import ImageRecovery
    from ..tokens.image_vq import ImageTokenizer

    bad = [s for s in schemes if s not in IMAGE_SCHEMES]
    if bad:
        raise ValueError(f"unknown image scheme(s) {bad}; choose from {', '.join(IMAGE_SCHEMES)}")
    tokenizer = tokenizer or ImageTokenizer.default("standard")
    wire_id = tokenizer_id(Modality.IMAGE, tokenizer.name)
    fills = {"todma": ImageRecovery("context", tokenizer),
             "todma-no-context": ImageRecovery("none", tokenizer)}
    codebook = gaussian_codebook(codeword_len, tokenizer.codebook_size, seed)
    rows: List[Dict] = []
    for count in devices:
        crops = held_out_crops(count * frames, crop)
        grids = [tokenizer.encode(image) for image in crops]
        shape = grids[0].shape
        ids = np.stack([grid.reshape(-1) for grid in grids])
        tokens_only = [psnr(image, tokenizer.decode(grid)) for image, grid in zip(crops, grids)]
        receiver = ToDMAReceiver(codebook, count if known_devices else None, seed=seed)
        for snr in snrs:
            rng = np.random.default_rng([seed, count, int(round(snr * 1000))])
            stats = {s: {"psnr": [], "right": 0, "tokens": 0, "coll": 0, "coll_right": 0,
                         "uses": 0} for s in schemes}
            assigned, non_colliding, found = 0, 0, []
            for frame in range(frames):
                members = slice(frame * count, (frame + 1) * count)
                sent = ids[members]
                colliding = collision_positions(sent)
                offsets = DeviceOffsets.draw(count, max_delay, max_cfo, rng, common_delay,
                                             common_cfo)
                uplink = transmit_ofdm_frame(codebook, sent, rayleigh_gains(count, rng), snr, rng,
                                             offsets)
                result = receiver.receive_samples(uplink.samples, uplink.noise_var, uplink.layout)
                found.append(result.devices)
                order = align_sequences(result.sequences.tokens, ~result.sequences.erased, sent)
                got = aligned(result.sequences.tokens, order, 0)
                masked = aligned(result.sequences.erased, order, True)
                assigned += int(((got == sent) & ~masked)[~colliding].sum())
                non_colliding += int((~colliding).sum())
                for scheme in schemes:
                    tally = stats[scheme]
                    if scheme == "tdma":
                        for device, image in enumerate(crops[members]):
                            report = run_image_loopback(
                                image, LinkConfig(snr_db=snr, seed=seed + device),
                                tokenizer=tokenizer, recovery="context")
                            tally["psnr"].append(float(report["psnr_db"]))
                            tally["uses"] += int(report["channel_uses"])
                            wrong = float(report["token_error_rate"]) * sent.shape[1]
                            tally["right"] += sent.shape[1] - int(round(wrong))
                            tally["tokens"] += sent.shape[1]
                        continue
                    tally["uses"] += uplink.channel_uses
                    for device in range(count):
                        frame_in = TokenFrame(
                            ids=got[device], modality=Modality.IMAGE,
                            shape=shape, bits_per_token=tokenizer.bits_per_token,
                            erased=masked[device], tokenizer=wire_id)
                        recovered = fills[scheme].recover(frame_in)
                        right = recovered.frame.ids == sent[device]
                        if scheme == "todma-no-context":
                            right &= ~masked[device]
                        tally["right"] += int(right.sum())
                        tally["tokens"] += right.size
                        tally["coll"] += int(colliding[device].sum())
                        tally["coll_right"] += int(right[colliding[device]].sum())
                        drawn = fills[scheme].draw(recovered, crops[frame * count + device].shape[:2])
                        tally["psnr"].append(psnr(crops[frame * count + device], drawn))
            tdma_uses: Optional[float] = stats["tdma"]["uses"] / frames if "tdma" in stats else None
            for scheme, tally in stats.items():
                row = {"devices": count, "snr_db": float(snr), "scheme": scheme,
                       "modality": "image", "codeword_len": codeword_len,
                       "slots": int(ids.shape[1]), "frames": frames,
                       "collisions": tally["coll"],
                       "collisions_resolved_rate": (tally["coll_right"] / tally["coll"]
                                                    if scheme != "tdma" and tally["coll"] else None),
                       "token_error_rate": 1.0 - tally["right"] / max(tally["tokens"], 1),
                       "psnr_db": float(np.mean(tally["psnr"])),
                       "psnr_tokens_only_db": float(np.mean(tokens_only)),
                       "channel_uses": tally["uses"] / frames}
                if scheme != "tdma":
                    row["channel_uses_symbols"] = int(ids.shape[1]) * codeword_len
                    row["assignment_rate_non_colliding"] = assigned / max(non_colliding, 1)
                    row["devices_estimated"] = float(np.mean(found))
                    row["device_count_exact_rate"] = float(np.mean(np.array(found) == count))
                    row["known_devices"] = known_devices
                    row["max_delay_samples"] = max_delay
                    row["max_cfo"] = max_cfo
                    row["common_delay_samples"] = common_delay
                    row["common_cfo"] = common_cfo
                    if tdma_uses:
                        row["channel_use_ratio_vs_tdma"] = {
                            "samples": row["channel_uses"] / tdma_uses,
                            "symbols": row["channel_uses_symbols"] / tdma_uses}
                rows.append(row)
    return rows
