"""Train the VQ-VAE image tokenizer.

Python::

    from tokencom_sdr.training.image_tokenizer import train_image_tokenizer
    tok = train_image_tokenizer("out/vq.safetensors", preset="standard", steps=6000)

Command line (what ``tokencom train image-tokenizer`` wraps)::

    python -m tokencom_sdr.training.image_tokenizer --out PATH
        [--preset standard|low-rate|tiny] [--steps N] [--batch B] [--crop PX]
        [--lr LR] [--images DIR_OR_FILE ...] [--device cpu|cuda] [--threads N]
        [--max-minutes M] [--seed S] [--quiet] [--init FILE [--train all|decoder]]

The schedule: the first ``warmup`` fraction of steps trains encoder and
decoder as a plain autoencoder, so that the encoder's outputs mean something;
the codebook is then seeded by k-means on those outputs, and training goes on
with quantisation, an EMA codebook and restarts of dead codewords (codewords
nobody uses are moved onto encoder outputs). Without the seeding and the
restarts a VQ-VAE on this little data collapses onto a few codes.

Fine-tuning (``--init FILE``) starts from a trained tokenizer of the same
preset and skips the warm-up and the seeding: quantisation is on from the
first step. ``--train decoder`` then trains the decoder alone, with the
encoder and the codebook frozen, so that every image keeps exactly the token
ids it had: the context models trained on those ids stay valid. ``--train
all`` (the default) also moves the encoder and the codebook, which changes
ids, and the context models then have to be fine-tuned on the new ones.

Data: the training side of :mod:`tokencom_sdr.data.image_data` (the held-out
astronaut, flower and peppers are never seen), or the user's own images with
``--images``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..data.image_data import (HELDOUT_IMAGES, TRAIN_IMAGES, CropSampler, load_image_files,
                               load_images)
from .progress import progress_bar
from ..tokens.image_vq import LOWRATE_CONFIG, STANDARD_CONFIG, ImageTokenizer, VQConfig, VQVAE

__all__ = ["PRESETS", "train_image_tokenizer", "evaluate_tokenizer", "run_from_args"]

#: name -> (config, default crop in pixels)
PRESETS = {
    "standard": (STANDARD_CONFIG, 48),
    "low-rate": (LOWRATE_CONFIG, 64),
    # For CI: seconds on a CPU, meaningless quality.
    "tiny": (VQConfig(downsample=4, codebook_size=64, latent_dim=8, channels=(8, 16),
                      res_blocks=1), 32),
}

def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (peak 255)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def evaluate_tokenizer(tokenizer: ImageTokenizer, names: Sequence[str] = HELDOUT_IMAGES) -> dict:
    """PSNR and bits per pixel of the error-free reconstruction of bundled images."""
    out = {}
    for name, image in load_images(names, skip_missing=True).items():
        out[name] = {"psnr_db": psnr_uint8(image, tokenizer.reconstruct(image)),
                     "bits_per_pixel": tokenizer.bits_per_pixel(image.shape[:2])}
    return out


def train_image_tokenizer(out_path: Union[str, Path, None], preset: str = "standard",
                          steps: int = 6000, batch: int = 16, crop: Optional[int] = None,
                          lr: float = 1e-3, images: Optional[Sequence[Union[str, Path]]] = None,
                          device: str = "cpu", seed: int = 0, warmup: float = 0.08,
                          max_minutes: Optional[float] = None, progress: bool = True,
                          config: Optional[VQConfig] = None,
                          checkpoint_every: int = 1000,
                          init: Union[str, Path, None] = None,
                          train: str = "all") -> ImageTokenizer:
    """Train a tokenizer and write it as safetensors.

    Parameters
    ----------
    out_path : path or None
        Weight file to write (also written every ``checkpoint_every`` steps).
        None: keep it in memory only.
    preset : str
        ``standard`` (f=4, K=512), ``low-rate`` (f=8, K=1024) or ``tiny``.
    steps : int
        Optimiser steps (fewer if ``max_minutes`` runs out first).
    batch, crop : int
        Crops per step and their side in pixels (crop: multiple of ``f``).
    images : paths or arrays, optional
        Image files, folders, or ``(H, W, 3)`` uint8 arrays to train on
        instead of the bundled set.
    device : str
        ``cpu`` or ``cuda``.
    warmup : float
        Fraction of steps trained without quantisation before the codebook is
        seeded.
    max_minutes : float, optional
        Wall-clock budget; training stops early (with the LR schedule
        compressed accordingly) when it runs out.
    config : VQConfig, optional
        Overrides the preset's architecture.
    init : path, optional
        A tokenizer weight file to continue from (its architecture must be the
        preset's): no warm-up, no codebook seeding.
    train : str
        ``all`` (encoder, codebook and decoder) or ``decoder`` (the encoder and
        codebook frozen, so token ids do not change; needs ``init``).

    Returns
    -------
    ImageTokenizer
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
    cfg = config or PRESETS[preset][0]
    crop = crop or PRESETS[preset][1]
    if crop % cfg.downsample:
        raise ValueError(f"crop {crop} must be a multiple of f={cfg.downsample}")
    if steps < 2:
        raise ValueError("steps must be at least 2")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    if train not in ("all", "decoder"):
        raise ValueError(f"train must be 'all' or 'decoder', got {train!r}")
    if train == "decoder" and init is None:
        raise ValueError("--train decoder fine-tunes a trained tokenizer: give --init FILE")
    torch.manual_seed(seed)
    if init is not None:
        model = ImageTokenizer.from_file(init).model
        if model.cfg != cfg:
            raise ValueError(f"{init} is a {model.cfg} tokenizer, not the {preset!r} preset's "
                             f"{cfg}")
    else:
        model = VQVAE(cfg)
    model = model.to(device)
    data = load_image_files(images) if images else list(load_images(TRAIN_IMAGES, skip_missing=True).values())
    sampler = CropSampler(data, crop, seed=seed)

    decoder_only = train == "decoder"
    params = list(model.decoder.parameters())
    if decoder_only:
        model.encoder.requires_grad_(False)
    else:
        params = list(model.encoder.parameters()) + params
    opt = torch.optim.Adam(params, lr=lr)
    # A continued tokenizer is quantising already; there is nothing to seed.
    seeded = init is not None
    budget = None if max_minutes is None else max_minutes * 60.0
    start = time.time()
    bar = progress_bar(steps, progress, "tokenizer")
    ema_psnr = None
    step = 0
    for step in range(steps):
        # Progress through the schedule, by steps or by time, whichever is ahead.
        frac = step / steps
        if budget is not None:
            frac = max(frac, (time.time() - start) / budget)
            if frac >= 1.0:
                break
        for group in opt.param_groups:
            group["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        x = sampler.sample(batch).to(device)
        # The switch to quantisation follows the same clock as the schedule.
        quantize = seeded or (frac >= warmup and step > 0)
        if quantize and not seeded:
            _seed_codebook(model, sampler, batch, device, seed)
            seeded = True
        model.train()
        if decoder_only:
            # eval() stops the codebook's EMA update: the ids must not move.
            model.encoder.eval()
            model.quantizer.eval()
        recon, _, commit = model(x, quantize=quantize)
        mse = F.mse_loss(recon, x)
        loss = mse + 0.25 * commit
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if quantize and not decoder_only and step % 50 == 0:
            with torch.no_grad():
                z = model.encode_latent(x)
                model.quantizer.restart_dead(z.permute(0, 2, 3, 1).reshape(-1, cfg.latent_dim))
        psnr = -10 * math.log10(max(mse.item(), 1e-10))
        ema_psnr = psnr if ema_psnr is None else 0.98 * ema_psnr + 0.02 * psnr
        if bar is not None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(psnr=f"{ema_psnr:.2f}", vq=quantize)
        if out_path and checkpoint_every and step and step % checkpoint_every == 0 and quantize:
            ImageTokenizer(model, preset, device).save(out_path, {"steps": step})
    if bar is not None:
        bar.close()
    if not seeded:
        # Stopped before the codebook was seeded: seed it now so the file works.
        _seed_codebook(model, sampler, batch, device, seed)
    model.eval()
    tokenizer = ImageTokenizer(model, preset, device)
    if out_path:
        extra = {"steps": step + 1, "preset": preset, "crop": crop, "batch": batch,
                 "train": train, "init": str(init) if init else None,
                 "train_minutes": round((time.time() - start) / 60, 2)}
        tokenizer.save(out_path, extra)
    return tokenizer


@torch.no_grad()
def _seed_codebook(model: VQVAE, sampler: CropSampler, batch: int, device: str, seed: int) -> None:
    k = model.cfg.codebook_size
    samples = []
    while sum(s.shape[0] for s in samples) < 8 * k:
        z = model.encode_latent(sampler.sample(batch).to(device))
        samples.append(z.permute(0, 2, 3, 1).reshape(-1, model.cfg.latent_dim))
    model.quantizer.init_from(torch.cat(samples)[:16 * k], seed=seed)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def run_from_args(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = train_image_tokenizer(args.out, args.preset, args.steps, args.batch, args.crop,
                                      args.lr, args.images, args.device, args.seed,
                                      max_minutes=args.max_minutes, progress=not args.quiet,
                                      init=args.init, train=args.train)
    print(f"wrote {args.out}: f={tokenizer.downsample}, K={tokenizer.codebook_size}, "
          f"{tokenizer.cfg.bits_per_pixel:.4f} bpp")
    if not args.images:
        for name, row in evaluate_tokenizer(tokenizer).items():
            print(f"  held-out {name}: {row['psnr_db']:.2f} dB at {row['bits_per_pixel']:.4f} bpp")
    return 0

