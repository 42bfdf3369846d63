"""Train the text context model on the public-domain corpus.

Objective (one sequence at a time, so every batch mixes easy and hard cases):

* **variable-rate masking**: a rate ``r ~ U(mask_min, mask_max)`` per
  sequence, laid out as independent positions, as a stride pattern (what a
  lost packet of interleaved aggregation erases: every ``P``-th token) or as
  contiguous spans (what sequential aggregation loses);
* **random-token substitution** of a few unmasked positions, half uniformly
  random ids and half ids one or two bit flips away from the true one (what
  an uncoded channel does to a 12-bit id). Without it the model trusts every
  visible token, and wrong context tokens make its guesses worse;
* cross-entropy on the masked and substituted positions plus a sample of the
  untouched ones (so it also learns to keep correct tokens).

Run ``tokencom train text-context --help`` (the options are defined in
:mod:`tokencom_sdr.cli.train_text`, without importing torch).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..context.text_model import (DEFAULT_TEXT_CONTEXT_FILE, TextContextConfig, TextContextModel,
                         save_text_context_model)

__all__ = ["CorruptionConfig", "TrainResult", "corrupt_batch", "build_token_stream",
           "train_text_context", "evaluate_fill_accuracy", "grow_depth", "run_from_args"]


@dataclass(frozen=True)
class CorruptionConfig:
    """How training inputs are corrupted.

    Attributes
    ----------
    mask_min, mask_max : float
        Per-sequence masking rate is uniform in this range.
    substitute_max : float
        Per-sequence substitution rate is uniform in ``[0, substitute_max]``
        (of the unmasked positions).
    clean_loss_fraction : float
        Share of untouched positions that also contribute to the loss.
    stride_share, span_share : float
        Probability that a sequence's mask is a stride pattern, or spans;
        the rest are independent positions.
    """

    mask_min: float = 0.05
    mask_max: float = 0.6
    substitute_max: float = 0.1
    clean_loss_fraction: float = 0.1
    stride_share: float = 0.25
    span_share: float = 0.15


def corrupt_batch(ids: np.ndarray, mask_id: int, vocab_size: int, bits_per_token: int,
                  rng: np.random.Generator, cfg: CorruptionConfig = CorruptionConfig()):
    """Mask and substitute tokens of a batch for training.

    Parameters
    ----------
    ids : np.ndarray, shape ``(batch, length)``, dtype ``int64``
        Clean token ids.
    mask_id : int
        Input id of ``[MASK]``.
    vocab_size, bits_per_token : int
        Substitutes are drawn below ``vocab_size``; bit flips act on the
        low ``bits_per_token`` bits.
    rng : np.random.Generator
    cfg : CorruptionConfig

    Returns
    -------
    inputs : np.ndarray, shape ``(batch, length)``, dtype ``int64``
    loss_mask : np.ndarray, shape ``(batch, length)``, dtype ``bool``
        Positions whose prediction enters the loss; never empty per batch.
    """
    batch, length = ids.shape
    masked = np.zeros((batch, length), dtype=bool)
    for b in range(batch):
        rate = rng.uniform(cfg.mask_min, cfg.mask_max)
        kind = rng.random()
        if kind < cfg.stride_share:
            stride = int(rng.integers(2, 9))
            classes = rng.random(stride) < rate
            if not classes.any():
                classes[rng.integers(stride)] = True
            masked[b] = classes[(np.arange(length) + rng.integers(stride)) % stride]
        elif kind < cfg.stride_share + cfg.span_share:
            target = int(round(rate * length))
            while masked[b].sum() < target:
                span = int(rng.integers(1, 9))
                start = int(rng.integers(0, length))
                masked[b, start:start + span] = True
        else:
            masked[b] = rng.random(length) < rate
    sub_rate = rng.uniform(0.0, cfg.substitute_max, size=(batch, 1))
    substituted = (~masked) & (rng.random((batch, length)) < sub_rate)
    inputs = ids.copy()
    n_sub = int(substituted.sum())
    if n_sub:
        originals = ids[substituted]
        uniform = rng.integers(0, vocab_size, size=n_sub)
        # One flip (70%) or two; a second flip may undo the first: harmless.
        flips = (1 << rng.integers(0, bits_per_token, size=n_sub))
        flips ^= np.where(rng.random(n_sub) < 0.3, 1 << rng.integers(0, bits_per_token, size=n_sub), 0)
        flipped = originals ^ flips
        flipped = np.where(flipped < vocab_size, flipped, uniform)
        inputs[substituted] = np.where(rng.random(n_sub) < 0.5, uniform, flipped)
    inputs[masked] = mask_id
    loss_mask = masked | substituted | (rng.random((batch, length)) < cfg.clean_loss_fraction)
    if not loss_mask.any():
        loss_mask[0, 0] = True
    return inputs, loss_mask


def build_token_stream(texts: Sequence[str], tokenizer) -> np.ndarray:
    """All texts tokenized and concatenated.

    Returns
    -------
    np.ndarray, shape ``(n_tokens,)``, dtype ``int32``
    """
    pieces = [tokenizer.encode(t) for t in texts if t]
    if not pieces:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(pieces).astype(np.int32)


def _sample_windows(stream: np.ndarray, batch: int, length: int,
                    rng: np.random.Generator) -> np.ndarray:
    starts = rng.integers(0, len(stream) - length + 1, size=batch)
    return np.stack([stream[s:s + length] for s in starts]).astype(np.int64)


@torch.no_grad()
def evaluate_fill_accuracy(model: TextContextModel, stream: np.ndarray, mask_rate: float = 0.3,
                           length: int = 128, windows: int = 64, seed: int = 1234,
                           device: str = "cpu") -> dict:
    """One-shot masked-token accuracy and loss on fixed windows of ``stream``.

    Positions are masked independently with ``mask_rate``; the same windows
    and masks are used every call (fixed ``seed``), so values are comparable
    across checkpoints.

    Returns
    -------
    dict with ``accuracy`` (top-1 on masked positions) and ``loss`` (nats).
    """
    length = min(length, model.config.max_len, len(stream))
    rng = np.random.default_rng(seed)
    ids = _sample_windows(stream, windows, length, rng)
    masked = rng.random(ids.shape) < mask_rate
    inputs = np.where(masked, model.config.mask_id, ids)
    was_training = model.training
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    for start in range(0, windows, 16):
        x = torch.from_numpy(inputs[start:start + 16]).to(device)
        y = torch.from_numpy(ids[start:start + 16]).to(device)
        m = torch.from_numpy(masked[start:start + 16]).to(device)
        logits = model.logits_from_hidden(model.hidden(x)[m])
        loss_sum += float(F.cross_entropy(logits, y[m], reduction="sum"))
        correct += int((logits.argmax(-1) == y[m]).sum())
        total += int(m.sum())
    model.train(was_training)
    return {"accuracy": correct / max(total, 1), "loss": loss_sum / max(total, 1)}


@dataclass
class TrainResult:
    """What :func:`train_text_context` did.

    Attributes
    ----------
    model : TextContextModel
    losses : list of float
        Training loss of every step.
    steps : int
    elapsed_s : float
    heldout : dict
        Last :func:`evaluate_fill_accuracy` on held-out text (empty if none).
    """

    model: TextContextModel
    losses: List[float] = field(default_factory=list)
    steps: int = 0
    elapsed_s: float = 0.0
    heldout: dict = field(default_factory=dict)


def train_text_context(train_stream: np.ndarray, config: TextContextConfig, *,
                       heldout_stream: Optional[np.ndarray] = None,
                       steps: Optional[int] = 1000, minutes: Optional[float] = None,
                       tokens_per_step: int = 3072, min_len: int = 48,
                       lr: float = 1e-3, warmup: int = 200, weight_decay: float = 0.01,
                       bits_per_token: int = 12,
                       corruption: CorruptionConfig = CorruptionConfig(),
                       device: str = "cpu", seed: int = 0,
                       out: Optional[Path] = None, save_every: int = 500, half: bool = False,
                       eval_every: int = 250, progress: bool = True,
                       init: Optional[TextContextModel] = None) -> TrainResult:
    """Train a :class:`TextContextModel` on a token stream.

    Each step draws one length ``L`` in ``[min_len, max_len]`` and
    ``tokens_per_step // L`` random windows of that length, so the model sees
    every position of its table and messages of all sizes.

    Parameters
    ----------
    train_stream : np.ndarray, shape ``(n,)``, integer
        Concatenated training token ids.
    config : TextContextConfig
    heldout_stream : np.ndarray, optional
        For the periodic fill-accuracy report.
    steps, minutes : int or float, optional
        Stop at whichever comes first; the learning-rate schedule (linear
        warm-up, cosine decay to 5%) follows the same progress measure, so a
        time-limited run still ends at a low learning rate.
    out : Path, optional
        Checkpoint path, written every ``save_every`` steps and at the end.
    half : bool
        Store checkpoints as float16.
    init : TextContextModel, optional
        Continue from this model instead of a fresh one.

    Returns
    -------
    TrainResult
    """
    if steps is None and minutes is None:
        raise ValueError("give steps, minutes or both")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but torch sees no CUDA device; use --device cpu")
    stream = np.asarray(train_stream, dtype=np.int64)
    min_len = min(min_len, config.max_len)
    if len(stream) < config.max_len + 1:
        raise ValueError(f"training stream has {len(stream)} tokens; need more than "
                         f"max_len={config.max_len}")
    if stream.min() < 0 or stream.max() >= config.vocab_size:
        raise ValueError("training ids fall outside the model's vocabulary")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = (init or TextContextModel(config)).to(device).train()
    # Steps are counted across continued runs, so a checkpoint says how much
    # training it has had in total.
    init_steps = int(getattr(init, "metadata", {}).get("step", 0)) if init is not None else 0
    decay = [p for n, p in model.named_parameters() if p.dim() > 1 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() > 1 and "embedding" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=lr, betas=(0.9, 0.98))
    budget_s = None if minutes is None else 60.0 * minutes
    result = TrainResult(model=model)
    start = time.perf_counter()

    def progress_fraction(step: int) -> float:
        parts = []
        if steps is not None:
            parts.append(step / max(steps, 1))
        if budget_s is not None:
            parts.append((time.perf_counter() - start) / budget_s)
        return max(parts)

    def save(step: int, final: bool = False) -> None:
        if out is None:
            return
        meta = {"step": step + init_steps, "train_loss": f"{np.mean(result.losses[-100:]):.4f}",
                "elapsed_s": f"{time.perf_counter() - start:.0f}", "final": str(final)}
        meta.update({f"heldout_{k}": f"{v:.4f}" for k, v in result.heldout.items()})
        save_text_context_model(model, out, meta, half=half)

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps if minutes is None else None, unit="step", dynamic_ncols=True,
                   desc="text-context", file=sys.stderr)
    step = 0
    try:
        while progress_fraction(step) < 1.0:
            fraction = progress_fraction(step)
            if step < warmup:
                scale = (step + 1) / warmup
            else:
                scale = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))
            for group in optimizer.param_groups:
                group["lr"] = lr * scale
            length = int(rng.integers(min_len, config.max_len + 1))
            batch = max(1, tokens_per_step // length)
            clean = _sample_windows(stream, batch, length, rng)
            inputs, loss_mask = corrupt_batch(clean, config.mask_id, config.vocab_size,
                                              bits_per_token, rng, corruption)
            x = torch.from_numpy(inputs).to(device)
            y = torch.from_numpy(clean).to(device)
            m = torch.from_numpy(loss_mask).to(device)
            # Logits only where the loss looks: the 4096-way head is the
            # costliest matmul, and most positions are not scored.
            logits = model.logits_from_hidden(model.hidden(x)[m])
            loss = F.cross_entropy(logits, y[m])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            value = loss.item()
            if not math.isfinite(value):
                raise RuntimeError(f"training diverged at step {step} (loss {value})")
            result.losses.append(value)
            if heldout_stream is not None and len(heldout_stream) > min_len and eval_every and (
                    step % eval_every == 0):
                result.heldout = evaluate_fill_accuracy(model, heldout_stream, device=device)
            if bar is not None:
                bar.update(1)
                post = {"loss": f"{np.mean(result.losses[-50:]):.3f}", "lr": f"{lr * scale:.1e}"}
                if result.heldout:
                    post["fill@30%"] = f"{result.heldout['accuracy']:.3f}"
                bar.set_postfix(post, refresh=False)
            if save_every and step % save_every == 0:
                save(step)
    finally:
        if bar is not None:
            bar.close()
    if heldout_stream is not None and len(heldout_stream) > min_len:
        result.heldout = evaluate_fill_accuracy(model, heldout_stream, device=device)
    result.steps = step
    result.elapsed_s = time.perf_counter() - start
    save(step, final=True)
    model.eval()
    return result


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def _default_out() -> Path:
    return Path(__file__).resolve().parent / "data" / DEFAULT_TEXT_CONTEXT_FILE


def grow_depth(model: TextContextModel, n_layers: int) -> TextContextModel:
    """A deeper copy of ``model`` that computes exactly the same function.

    The trained blocks keep their order and are spread evenly over the new
    depth; each inserted block starts with zero output projections
    (``proj`` and ``fc2``), so it adds nothing to the residual stream until
    training gives it something to add. This lets a longer run start from a
    trained model instead of from scratch when more compute arrives.

    Parameters
    ----------
    model : TextContextModel
    n_layers : int
        New depth, at least the current one.

    Returns
    -------
    TextContextModel
        With ``config.n_layers == n_layers`` and the metadata of ``model``.
    """
    old = model.config
    if n_layers < old.n_layers:
        raise ValueError(f"cannot grow a {old.n_layers}-layer model to {n_layers} layers")
    config = dataclasses.replace(old, n_layers=n_layers)
    grown = TextContextModel(config)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("blocks.")}
    grown.load_state_dict(state, strict=False)
    # Old block j goes to new slot round(j * n_layers / old.n_layers).
    slots = {round(j * n_layers / old.n_layers): j for j in range(old.n_layers)}
    with torch.no_grad():
        for slot, block in enumerate(grown.blocks):
            if slot in slots:
                block.load_state_dict(model.blocks[slots[slot]].state_dict())
            else:
                for linear in (block.proj, block.fc2):
                    linear.weight.zero_()
                    linear.bias.zero_()
    grown.metadata = dict(getattr(model, "metadata", {}))
    return grown


def run_from_args(args) -> int:
    from ..data.corpus import load_corpus_split
    from ..data.training_text import training_blocks
    from ..tokens.text_bpe import TextTokenizer
    from ..context.text_model import load_text_context_model

    torch.set_num_threads(max(1, args.threads))
    if args.out is None:
        # --tiny never overwrites the committed default.
        args.out = Path("out/text_context_tiny.safetensors") if args.tiny else _default_out()
    tokenizer = TextTokenizer.default()
    split = load_corpus_split()
    train_texts, heldout_texts = training_blocks(args.data, args.data_dir), split.heldout_text
    if args.tiny:
        config = TextContextConfig.tiny(tokenizer.vocab_size)
        train_texts, heldout_texts = train_texts[:20], heldout_texts[:2]
        steps = args.steps or 100
    else:
        # Options left unset take the config's defaults.
        sizes = {"d_model": args.d_model, "n_layers": args.layers, "n_heads": args.heads,
                 "d_ff": args.d_ff, "max_len": args.max_len}
        config = TextContextConfig(vocab_size=tokenizer.vocab_size,
                                   **{k: v for k, v in sizes.items() if v is not None})
        steps = args.steps if (args.steps or args.minutes) else 4000
    init = None
    if args.init is not None:
        init = load_text_context_model(args.init).train()
        if args.grow_layers is not None:
            init = grow_depth(init, args.grow_layers).train()
        config = init.config
    elif args.grow_layers is not None:
        raise SystemExit("--grow-layers needs --init (a trained model to grow)")
    print(f"tokenizing {len(train_texts)} train blocks ...", file=sys.stderr)
    train_stream = build_token_stream(train_texts, tokenizer)
    heldout_stream = build_token_stream(heldout_texts, tokenizer)
    model_params = (init or TextContextModel(config)).num_parameters
    print(f"{len(train_stream)} train tokens, {len(heldout_stream)} held-out tokens; "
          f"model {model_params / 1e6:.2f}M parameters -> {args.out}", file=sys.stderr)
    result = train_text_context(
        train_stream, config, heldout_stream=heldout_stream, steps=steps, minutes=args.minutes,
        tokens_per_step=args.tokens_per_step, lr=args.lr, device=args.device, seed=args.seed,
        out=args.out, save_every=args.save_every, half=args.half, init=init,
        bits_per_token=tokenizer.bits_per_token)
    print(f"done: {result.steps} steps in {result.elapsed_s / 60:.1f} min, final loss "
          f"{np.mean(result.losses[-100:]):.3f}, held-out fill accuracy at 30% masking "
          f"{result.heldout.get('accuracy', float('nan')):.3f} -> {args.out}")
    return 0
