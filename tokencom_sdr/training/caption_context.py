"""Train an image context model that also reads a caption (cross-modal context).

Python::

    from tokencom_sdr.training.caption_context import train_caption_context
    model = train_caption_context("out/digits_caption.safetensors", steps=1500)

Command line (what ``tokencom train caption-context`` wraps)::

    tokencom train caption-context [--out PATH] [--steps N] [--batch B] [--lr LR]
        [--caption-len L] [--variants N] [--init FILE] [--caption-lr-scale X] [--film]
        [--tokenizer standard|FILE] [--device cpu|cuda]
        [--max-minutes M] [--seed S] [--threads N] [--quiet]

Data: the labelled training digits (:mod:`tokencom_sdr.data.labelled_images`),
each shifted by up to two pixels and rescaled in contrast into several
variants, tokenized once by the standard tokenizer. Captions are the class
words through the text BPE tokenizer.

The model starts from the embedded standard context model, so it keeps what
it knows of the codebook, and gains a caption table (``caption_vocab`` = the
text vocabulary plus a padding id), and with ``film`` a FiLM layer through
which the caption also scales and shifts the grid tokens in every block. Every other step drops the caption
entirely (no prefix), so the one model serves recovery with and without a
caption, and the comparison between the two is paired.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List, Optional, Union

import numpy as np
import torch

from ..context.image_maskgit import ContextConfig, ImageContextModel, caption_ids
from ..data.labelled_images import LabelledImage, digit_images
from ..tokens.image_vq import ImageTokenizer
from ..tokens.text_bpe import TextTokenizer
from .image_context import context_loss, corrupt, load_tokenizer, lr_factor, run_fraction
from .progress import progress_bar

__all__ = ["train_caption_context", "augmented_digits", "run_from_args"]


def augmented_digits(images: List[LabelledImage], variants: int, seed: int) -> List[LabelledImage]:
    """``variants`` versions of each image: the first as it is, the others
    shifted by up to 2 pixels each way and rescaled in contrast (0.7..1.0)."""
    rng = np.random.default_rng(seed)
    out = []
    for item in images:
        out.append(item)
        for _ in range(variants - 1):
            dy, dx = rng.integers(-2, 3, size=2)
            shifted = np.roll(item.image, (int(dy), int(dx)), axis=(0, 1))
            scaled = np.rint(shifted * rng.uniform(0.7, 1.0)).astype(np.uint8)
            out.append(LabelledImage(scaled, item.label, item.caption, item.index))
    return out


def train_caption_context(out_path: Union[str, Path, None], steps: int = 1500, batch: int = 64,
                          lr: float = 5e-4, caption_len: int = 8, variants: int = 6,
                          seed: int = 0, progress: bool = True,
                          init: Union[str, Path, None] = "standard",
                          max_minutes: Optional[float] = None,
                          checkpoint_every: int = 100,
                          caption_lr_scale: float = 10.0,
                          film: bool = False,
                          tokenizer: Union[str, Path, ImageTokenizer] = "standard",
                          device: str = "cpu",
                          describe: Optional[Callable[[LabelledImage], str]] = None
                          ) -> ImageContextModel:
    """Fine-tune a caption-conditioned context model on the labelled digits.

    Parameters
    ----------
    out_path : path or None
        Weight file to write (safetensors).
    steps, batch : int
        Optimiser steps and grids per step.
    caption_len : int
        Longest caption, in text tokens.
    variants : int
        Augmented versions of each training image.
    init : ``standard``, a weight file, or None
        Weights to start from; a caption model's caption table comes along,
        the standard model's gets a fresh one.
    max_minutes : float, optional
        Wall-clock budget; the learning-rate schedule follows whichever of
        steps and time runs out first.
    checkpoint_every : int
        Also write ``out_path`` every this many steps (0: only at the end).
    caption_lr_scale : float
        Learning rate of the caption table relative to the rest: the table
        starts from nothing while the rest is already trained, and at one
        rate the model learned to lean on the image tokens and barely on
        the caption (+0.35 dB from the caption alone after 389 steps).
    film : bool
        Give the model FiLM conditioning (``ContextConfig.caption_film``):
        the caption also scales and shifts the grid tokens in every block.
        It starts as no modulation, so ``init`` may be a model without it.
    tokenizer : ``standard``, a tokenizer weight file, or an ImageTokenizer
        What turns the digits into token grids (its codebook must match
        ``init``'s); a fine-tuned standard tokenizer needs its own caption
        model.
    device : str
        ``cpu`` or ``cuda``.
    describe : callable, optional
        The sender's captioner, ``LabelledImage -> caption``, applied to
        every augmented image (so a caption that measures the picture sees
        it shifted and rescaled); default: the image's class word.

    Returns
    -------
    ImageContextModel
    """
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    torch.manual_seed(seed)
    tokenizer = load_tokenizer(tokenizer)
    text = TextTokenizer.default()
    base = ImageContextModel.default("standard") if init == "standard" else \
        ImageContextModel.from_file(init) if init else None
    cfg_fields = base.cfg.to_dict() if base is not None else \
        ContextConfig(codebook_size=tokenizer.codebook_size, code_dim=tokenizer.cfg.latent_dim).to_dict()
    cfg_fields.update(caption_vocab=text.vocab_size + 1, caption_len=caption_len,
                      caption_film=film or cfg_fields.get("caption_film", False))
    model = ImageContextModel(ContextConfig(**cfg_fields), tokenizer.model.quantizer.codebook)
    if base is not None:
        state = base.state_dict()
        if "caption_pos" in state and state["caption_pos"].shape[0] != caption_len:
            # Longer captions: the positions the init knows keep their
            # embedding, new ones start at zero (as a fresh table's nearly do).
            known = state["caption_pos"][:caption_len]
            state["caption_pos"] = torch.cat(
                [known, known.new_zeros(caption_len - known.shape[0], known.shape[1])])
        # The model embeds its tokenizer's codebook: a fine-tuned tokenizer
        # brings its own, and the rest of the weights carry over.
        state["codebook"] = model.codebook.detach().clone()
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not name.startswith("caption_") for name in missing):
            raise ValueError(f"init weights do not fit: missing {missing}, unexpected {unexpected}")
    model = model.to(device)

    items = augmented_digits(digit_images("train"), variants, seed)
    # Kept on the CPU, where corrupt()'s generator draws; each batch moves over.
    grids = torch.from_numpy(tokenizer.encode_batch(np.stack([item.image for item in items])))
    caption_of = describe or (lambda item: item.caption)
    captions = torch.from_numpy(np.stack([caption_ids(model, text.encode(caption_of(item)))
                                          for item in items]))
    gen = torch.Generator().manual_seed(seed)
    caption_params = [p for n, p in model.named_parameters() if n.startswith("caption_")]
    other_params = [p for n, p in model.named_parameters() if not n.startswith("caption_")]
    opt = torch.optim.AdamW([{"params": other_params, "scale": 1.0},
                             {"params": caption_params, "scale": caption_lr_scale}],
                            lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    bar = progress_bar(steps, progress, "caption context")
    budget = None if max_minutes is None else max_minutes * 60.0
    start, ema, step = time.time(), None, 0
    model.train()
    for step in range(steps):
        frac = run_fraction(step, steps, start, budget)
        if frac >= 1.0:
            break
        for group in opt.param_groups:
            group["lr"] = group["scale"] * lr * lr_factor(step, frac, warmup=50)
        pick = torch.randint(len(grids), (batch,), generator=gen)
        target = grids[pick]
        inputs, loss_mask = corrupt(target, model.cfg.codebook_size, gen)
        target, inputs, loss_mask = target.to(device), inputs.to(device), loss_mask.to(device)
        prefix = model.caption_prefix(captions[pick].to(device)) if step % 2 == 0 else None
        loss = context_loss(model, inputs, target, loss_mask, prefix=prefix)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if out_path and checkpoint_every and step and step % checkpoint_every == 0:
            model.save(out_path, {"steps": step, "tokenizer": tokenizer.name})
        if bar is not None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{ema:.3f}")
    if bar is not None:
        bar.close()
    model.eval()
    if out_path:
        model.save(out_path, {"steps": step + 1, "tokenizer": tokenizer.name,
                              "data": "sklearn digits, train split", "final_loss": ema,
                              "train_minutes": round((time.time() - start) / 60, 2)})
    return model


def run_from_args(args) -> int:
    from ..context.image_maskgit import default_caption_context_path
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or default_caption_context_path()
    model = train_caption_context(out, args.steps, args.batch, args.lr, args.caption_len,
                                  variants=args.variants, seed=args.seed,
                                  progress=not args.quiet, init=args.init or "standard",
                                  max_minutes=args.max_minutes,
                                  caption_lr_scale=args.caption_lr_scale, film=args.film,
                                  tokenizer=args.tokenizer, device=args.device)
    print(f"wrote {out}: captions of up to {model.cfg.caption_len} text tokens, "
          f"K={model.cfg.codebook_size}")
    return 0
