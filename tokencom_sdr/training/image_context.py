"""Train the image context model on token grids of augmented images.

Python::

    from tokencom_sdr.training.image_context import train_image_context
    model = train_image_context("out/ctx.safetensors", tokenizer="standard", steps=3000)

Command line (what ``tokencom train image-context`` wraps)::

    python -m tokencom_sdr.training.image_context --out PATH
        [--tokenizer standard|low-rate|FILE.safetensors] [--preset default|tiny]
        [--steps N] [--batch B] [--lr LR] [--images PATH ...] [--device cpu|cuda]
        [--threads N] [--max-minutes M] [--seed S] [--photos SIDE] [--quiet]

Data: every training image (never the held-out ones) is augmented (rescaled
to several sizes, flipped, colour-jittered), tokenized once with the chosen
tokenizer, and random windows of the resulting grids form the batches.
``photo_side`` (``--photos SIDE``) adds the train split of the photo data
set (``tokencom data fetch --only photos``): real photographs, first shrunk
so that the longer side is ``SIDE`` pixels: the wallpapers are 1,300 to
4,400 pixels wide, while the photographs users send, and the receiver's
token grids, are a few hundred pixels across, and token statistics change
with scale.

Corruption, per window:

* masking at a variable rate: half the windows draw the rate from MaskGIT's
  cosine schedule (``cos(pi/2 * u)``, which trains the high rates iterative
  decoding starts from), half uniformly in ``[0.05, 0.6]`` (the packet-loss
  rates recovery meets);
* random-token substitution: a further 5% of the unmasked positions get a
  random code, so the model learns not to trust every visible token (the
  coded PHY will let some wrong tokens through).

The loss is cross-entropy at masked and substituted positions.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..data.image_data import TRAIN_IMAGES, load_image_files, load_images, read_image_file, \
    shrink_to_side
from ..tokens.image_vq import ImageTokenizer
from .progress import progress_bar
from ..context.image_maskgit import ContextConfig, ImageContextModel

__all__ = ["PRESETS", "build_token_grids", "corrupt", "context_loss", "train_image_context",
           "run_from_args", "load_tokenizer", "run_fraction", "lr_factor", "train_photos"]

#: Architecture presets (the codebook size comes from the tokenizer).
PRESETS = {
    "default": dict(window=16, d_model=128, layers=4, heads=4, mlp_ratio=3.0),
    "tiny": dict(window=8, d_model=32, layers=1, heads=2, mlp_ratio=2.0),
}


def load_tokenizer(spec: Union[str, Path, ImageTokenizer], device: str = "cpu") -> ImageTokenizer:
    """``standard``, ``low-rate``, a weight file path, or a tokenizer."""
    if isinstance(spec, ImageTokenizer):
        return spec
    if str(spec).replace("_", "-").lower() in ("standard", "low-rate", "lowrate"):
        return ImageTokenizer.default(str(spec), device)
    return ImageTokenizer.from_file(spec, device)


def train_photos(side: int, data_dir=None) -> List[np.ndarray]:
    """The photo data set's train split, each shrunk to a longer side of ``side``.

    Returns
    -------
    list of np.ndarray, each ``(H, W, 3)`` ``uint8``

    Raises
    ------
    DatasetUnavailableError
        The data set has not been fetched (the message says how).
    ValueError
        It holds no training photo.
    """
    from ..data.datasets import photo_paths

    paths = [p for files in photo_paths("train", data_dir).values() for p in files]
    if not paths:
        raise ValueError("the photo data set has no training photo")
    return [shrink_to_side(read_image_file(p), side) for p in paths]


def build_token_grids(tokenizer: ImageTokenizer, images: Sequence[np.ndarray], min_side: int,
                      scales: Sequence[float] = (1.0, 0.75, 0.5, 0.35),
                      variants: int = 2, seed: int = 0) -> List[np.ndarray]:
    """Tokenize augmented versions of ``images``.

    Parameters
    ----------
    images : sequence of np.ndarray, ``(H, W, 3)`` ``uint8``
    min_side : int
        Grids smaller than this (in tokens) on either side are dropped.
    scales : floats
        Rescale factors.
    variants : int
        Versions per scale: the first plain, the others flipped and
        colour-jittered.

    Returns
    -------
    list of np.ndarray, each ``(rows, cols)`` ``int64``
    """
    rng = np.random.default_rng(seed)
    grids = []
    for image in images:
        base = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255.0)
        for scale in scales:
            h, w = (int(round(s * scale)) for s in base.shape[1:])
            if min(h, w) < min_side * tokenizer.downsample:
                continue
            x = base if scale == 1.0 else F.interpolate(
                base[None], size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0]
            for v in range(variants):
                y = x
                if v:
                    if rng.random() < 0.5:
                        y = y.flip(2)
                    grey = y.mean(0, keepdim=True)
                    y = grey + (y - grey) * float(rng.uniform(0.6, 1.4))
                    y = (y - y.mean()) * float(rng.uniform(0.75, 1.25)) + y.mean() \
                        + float(rng.uniform(-0.08, 0.08))
                arr = np.rint(y.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
                grids.append(tokenizer.encode(arr))
    if not grids:
        raise ValueError(f"no image gives a token grid of at least {min_side}x{min_side}")
    return grids


def corrupt(ids: torch.Tensor, codebook_size: int, gen: torch.Generator,
            substitute: float = 0.05):
    """Mask and substitute a batch of windows.

    Parameters
    ----------
    ids : torch.Tensor, shape ``(B, h, w)``, dtype ``int64``

    Returns
    -------
    inputs : torch.Tensor, shape ``(B, h, w)``, ``int64`` (``K`` = masked)
    target_mask : torch.Tensor, shape ``(B, h, w)``, ``bool``
        Positions that carry loss (masked or substituted).
    """
    b = ids.shape[0]
    u = torch.rand(b, generator=gen)
    cosine = torch.cos(math.pi / 2 * u)
    uniform = 0.05 + 0.55 * torch.rand(b, generator=gen)
    rate = torch.where(torch.rand(b, generator=gen) < 0.5, cosine, uniform).clamp(0.02, 1.0)
    noise = torch.rand(ids.shape, generator=gen)
    masked = noise < rate[:, None, None]
    swap = (~masked) & (torch.rand(ids.shape, generator=gen) < substitute)
    inputs = ids.clone()
    inputs[swap] = torch.randint(codebook_size, (int(swap.sum()),), generator=gen)
    inputs[masked] = codebook_size
    return inputs, masked | swap


def run_fraction(step: int, steps: int, start: float, budget: Optional[float]) -> float:
    """How far a run is, 0 to 1: by steps, or by wall-clock time when a
    ``budget`` in seconds runs out first. 1 or more means stop."""
    frac = step / steps
    if budget is not None:
        frac = max(frac, (time.time() - start) / budget)
    return frac


def lr_factor(step: int, frac: float, warmup: int) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup`` steps, then a
    cosine from 1 down to 0.05 as the run's fraction ``frac`` goes to 1."""
    warm = min(1.0, (step + 1) / warmup)
    return warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def context_loss(model: ImageContextModel, inputs: torch.Tensor, target: torch.Tensor,
                 loss_mask: torch.Tensor, latent_weight: float = 1.0,
                 prefix: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Training loss at the corrupted positions of a batch of windows.

    Cross-entropy trains the token distribution; the mean-square error on
    the predicted codeword (in standardised units) trains the latent that
    soft decoding draws, and speeds up learning of the first.

    Parameters
    ----------
    inputs, target : torch.Tensor, shape ``(B, h, w)``, dtype ``int64``
        Corrupted windows (``K`` = masked) and the true ones.
    loss_mask : torch.Tensor, shape ``(B, h, w)``, dtype ``bool``
    prefix : torch.Tensor, shape ``(B, L, d_model)``, optional
        Conditioning (e.g. :meth:`ImageContextModel.caption_prefix`).

    Returns
    -------
    torch.Tensor, scalar
    """
    logits, latent = model(inputs, prefix=prefix, return_latent=True)
    truth = target[loss_mask]
    z = (latent[loss_mask] - model.code_mean) / model.code_std
    return F.cross_entropy(logits[loss_mask], truth) + latent_weight * F.mse_loss(
        z, model._standard_codes()[truth])


class _WindowSampler:
    def __init__(self, grids: Sequence[np.ndarray], window: int, seed: int):
        self.grids = [torch.from_numpy(g) for g in grids]
        sizes = np.array([g.size for g in grids], dtype=np.float64)
        self.p = np.sqrt(sizes) / np.sqrt(sizes).sum()
        self.window = window
        self.rng = np.random.default_rng(seed)

    def sample(self, batch: int) -> torch.Tensor:
        # One in five batches uses a smaller window, so that grids smaller than
        # the window (small images) look familiar at inference.
        h = w = self.window
        if self.rng.random() < 0.2:
            h = int(self.rng.integers(max(2, self.window // 2), self.window + 1))
            w = int(self.rng.integers(max(2, self.window // 2), self.window + 1))
        out = torch.empty(batch, h, w, dtype=torch.int64)
        for i, g in enumerate(self.rng.choice(len(self.grids), size=batch, p=self.p)):
            grid = self.grids[g]
            r = int(self.rng.integers(0, grid.shape[0] - h + 1))
            c = int(self.rng.integers(0, grid.shape[1] - w + 1))
            win = grid[r:r + h, c:c + w]
            if h == w and self.rng.random() < 0.5:
                win = win.t()
            out[i] = win
        return out


def train_image_context(out_path: Union[str, Path, None],
                        tokenizer: Union[str, Path, ImageTokenizer] = "standard",
                        preset: str = "default", steps: int = 3000, batch: int = 32,
                        lr: float = 1e-3, images: Optional[Sequence[Union[str, Path]]] = None,
                        device: str = "cpu", seed: int = 0, max_minutes: Optional[float] = None,
                        progress: bool = True, config: Optional[ContextConfig] = None,
                        checkpoint_every: int = 500, latent_weight: float = 1.0,
                        init: Union[str, Path, None] = None,
                        photo_side: Optional[int] = None) -> ImageContextModel:
    """Train a context model for ``tokenizer``'s codebook and save it.

    Parameters
    ----------
    out_path : path or None
        Weight file (also written every ``checkpoint_every`` steps).
    tokenizer : ``standard``, ``low-rate``, weight file, or ImageTokenizer
    preset : ``default`` or ``tiny``
    steps, batch : int
        Optimiser steps and windows per step.
    images : paths or arrays, optional
        Own image files, folders or ``(H, W, 3)`` uint8 arrays instead of the
        bundled training set.
    device : ``cpu`` or ``cuda``
    max_minutes : float, optional
        Wall-clock budget (the LR schedule follows whichever of steps and
        time runs out first).
    latent_weight : float
        Weight of the codeword regression loss next to cross-entropy.
    init : path, optional
        Start from these weights (same architecture) instead of scratch.
    photo_side : int, optional
        Also train on the photo data set's train split, shrunk to this
        longer side (:func:`train_photos`).

    Returns
    -------
    ImageContextModel
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    torch.manual_seed(seed)
    # Tokenizing the augmented images is most of a short run's time: on the
    # training device.
    tok = load_tokenizer(tokenizer, device)
    cfg = config or ContextConfig(codebook_size=tok.codebook_size,
                                  code_dim=tok.cfg.latent_dim, **PRESETS[preset])
    if cfg.codebook_size != tok.codebook_size:
        raise ValueError(f"context codebook {cfg.codebook_size} != tokenizer's {tok.codebook_size}")
    data = load_image_files(images) if images else list(load_images(TRAIN_IMAGES, skip_missing=True).values())
    if photo_side:
        data += train_photos(photo_side)
    grids = build_token_grids(tok, data, cfg.window, seed=seed)
    sampler = _WindowSampler(grids, cfg.window, seed)
    gen = torch.Generator().manual_seed(seed)

    model = ImageContextModel(cfg, tok.model.quantizer.codebook).to(device)
    if init is not None:
        start_from = ImageContextModel.from_file(init)
        if start_from.cfg != cfg:
            raise ValueError(f"--init {init} has config {start_from.cfg}, expected {cfg}")
        model.load_state_dict(start_from.state_dict())
        model.codebook.copy_(tok.model.quantizer.codebook)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    budget = None if max_minutes is None else max_minutes * 60.0
    start = time.time()
    bar = progress_bar(steps, progress, "context")
    ema = None
    step = 0
    model.train()
    for step in range(steps):
        frac = run_fraction(step, steps, start, budget)
        if frac >= 1.0:
            break
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(step, frac, warmup=100)
        target = sampler.sample(batch)
        inputs, loss_mask = corrupt(target, cfg.codebook_size, gen)
        loss = context_loss(model, inputs.to(device), target.to(device), loss_mask.to(device),
                            latent_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        value = loss.item()
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        if bar is not None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{ema:.3f}")
        if out_path and checkpoint_every and step and step % checkpoint_every == 0:
            model.save(out_path, {"steps": step, "tokenizer": tok.name})
    if bar is not None:
        bar.close()
    model.eval()
    if out_path:
        model.save(out_path, {"steps": step + 1, "tokenizer": tok.name, "preset": preset,
                              "batch": batch, "final_loss": ema,
                              "train_minutes": round((time.time() - start) / 60, 2)})
    return model


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def run_from_args(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    model = train_image_context(args.out, args.tokenizer, args.preset, args.steps, args.batch,
                                args.lr, args.images, args.device, args.seed,
                                max_minutes=args.max_minutes, progress=not args.quiet,
                                init=args.init, photo_side=args.photos)
    print(f"wrote {args.out}: window {model.cfg.window}, d={model.cfg.d_model}, "
          f"{model.cfg.layers} layers, K={model.cfg.codebook_size}")
    return 0

