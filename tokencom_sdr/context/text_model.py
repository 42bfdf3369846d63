"""The text context model: a bidirectional masked-token transformer over BPE ids.

It reads a message of BPE ids in which some positions are replaced by the
``[MASK]`` id (``vocab_size``) and returns, at every position, logits over the
``vocab_size`` real tokens: the model's prior for that token given the rest of
the message. :mod:`tokencom_sdr.context.text_recovery` turns those priors into
erasure filling and soft MAP detection.

Checkpoints are safetensors files. Their metadata holds the format tag, the
format version and the :class:`TextContextConfig` as JSON, so a file is
self-describing; :func:`load_text_context_model` checks all of it and raises
:class:`ContextModelFileError` with the reason when anything is off.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from importlib import resources
from typing import Dict, Optional, Union

import torch
from torch import nn

from .checkpoint_file import ContextModelFileError, read_checkpoint, write_checkpoint

__all__ = [
    "TextContextConfig",
    "TextContextModel",
    "ContextModelFileError",
    "DEFAULT_TEXT_CONTEXT_FILE",
    "save_text_context_model",
    "load_text_context_model",
    "default_text_context_path",
]

#: Committed default checkpoint inside ``tokencom_sdr/context/data``.
DEFAULT_TEXT_CONTEXT_FILE = "text_context.safetensors"

_FORMAT_TAG = "tokencom-text-context"
_FORMAT_VERSION = "2"


@dataclass(frozen=True)
class TextContextConfig:
    """Size of a :class:`TextContextModel`.

    Attributes
    ----------
    vocab_size : int
        Real token ids ``0 .. vocab_size-1``; ``vocab_size`` itself is ``[MASK]``.
    d_model, n_layers, n_heads, d_ff : int
        Transformer width, depth, attention heads and feed-forward width.
    max_len : int
        Longest sequence the learned position table covers. Longer messages
        are processed in overlapping windows by the recovery code.
    dropout : float
        Dropout in attention and feed-forward during training.
    """

    vocab_size: int = 4096
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 768
    max_len: int = 256
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def mask_id(self) -> int:
        """Input id of a masked (unknown) position."""
        return self.vocab_size

    @classmethod
    def tiny(cls, vocab_size: int = 4096) -> "TextContextConfig":
        """A model small enough for CI: trains in seconds on one core."""
        return cls(vocab_size=vocab_size, d_model=32, n_layers=1, n_heads=2, d_ff=64, max_len=64)

    @classmethod
    def from_json(cls, text: str) -> "TextContextConfig":
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("config is not a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def distance_slopes(n_heads: int) -> torch.Tensor:
    """Per-head slopes of the attention distance penalty, ``(n_heads,)``.

    Geometric from ``2**(-8/H)`` down to ``2**-8``: the first heads look at
    immediate neighbours, the last ones across the whole message.
    """
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


class _Block(nn.Module):
    """Pre-LayerNorm transformer block: attention with a distance bias, then GELU MLP."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, L, d)``; ``bias``: ``(n_heads, L, L)`` added to the attention scores."""
        b, length, d = x.shape
        qkv = self.qkv(self.norm1(x)).view(b, length, 3, self.n_heads, d // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attended = nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.unsqueeze(0),
            dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(attended.transpose(1, 2).reshape(b, length, d)))
        return x + self.drop(self.fc2(nn.functional.gelu(self.fc1(self.norm2(x)))))


class TextContextModel(nn.Module):
    """Bidirectional transformer encoder with a tied output head.

    * Pre-LayerNorm blocks (stable without warm-up tricks).
    * Attention scores carry a fixed penalty ``-slope_h * |i - j|`` per head
      (ALiBi-style, symmetric since the model reads both ways). With only
      learned absolute positions the model first has to discover that
      neighbours matter, and sat for hundreds of steps on the unigram
      plateau in our CPU runs; the penalty gives every head a locality
      prior from step 0. Learned absolute positions are kept on top, so
      left and right can still be told apart.
    * The output projection shares the token embedding matrix (the rows of
      the real tokens), which halves the parameters spent on the vocabulary.

    Parameters
    ----------
    config : TextContextConfig
    """

    def __init__(self, config: TextContextConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size + 1, config.d_model)
        self.position_embedding = nn.Embedding(config.max_len, config.d_model)
        self.blocks = nn.ModuleList(_Block(config.d_model, config.n_heads, config.d_ff,
                                           config.dropout) for _ in range(config.n_layers))
        self.final_norm = nn.LayerNorm(config.d_model)
        self.output_bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.register_buffer("slopes", distance_slopes(config.n_heads), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Embeddings at std 0.02: with PyTorch's default N(0, 1) the tied
        # output logits start huge and the model learns next to nothing.
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.02)
        # Residual projections scaled by depth so the residual stream's
        # variance does not grow with the number of layers.
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        for block in self.blocks:
            for linear in (block.qkv, block.fc1):
                nn.init.normal_(linear.weight, std=0.02)
                nn.init.zeros_(linear.bias)
            for linear in (block.proj, block.fc2):
                nn.init.normal_(linear.weight, std=residual_std)
                nn.init.zeros_(linear.bias)
        nn.init.zeros_(self.output_bias)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def attention_bias(self, length: int, device=None) -> torch.Tensor:
        """Distance penalty ``(n_heads, length, length)`` float32."""
        pos = torch.arange(length, device=device)
        distance = (pos[None, :] - pos[:, None]).abs().float()
        return -self.slopes.to(device)[:, None, None] * distance[None]

    def hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """Contextual features.

        Parameters
        ----------
        ids : torch.Tensor, shape ``(batch, length)``, dtype ``int64``
            Input ids in ``[0, vocab_size]`` (``vocab_size`` = ``[MASK]``);
            ``length <= max_len``.

        Returns
        -------
        torch.Tensor, shape ``(batch, length, d_model)``, dtype ``float32``
        """
        if ids.dim() != 2:
            raise ValueError(f"ids must be (batch, length), got shape {tuple(ids.shape)}")
        length = ids.shape[1]
        if length > self.config.max_len:
            raise ValueError(f"sequence of {length} tokens exceeds max_len {self.config.max_len}")
        positions = torch.arange(length, device=ids.device)
        x = self.token_embedding(ids) + self.position_embedding(positions)[None]
        bias = self.attention_bias(length, ids.device)
        for block in self.blocks:
            x = block(x, bias)
        return self.final_norm(x)

    def logits_from_hidden(self, h: torch.Tensor) -> torch.Tensor:
        """Token logits from features: ``(..., d_model)`` -> ``(..., vocab_size)``."""
        weight = self.token_embedding.weight[: self.config.vocab_size]
        return h @ weight.t() + self.output_bias

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits over the real vocabulary at every position.

        Parameters
        ----------
        ids : torch.Tensor, shape ``(batch, length)``, dtype ``int64``

        Returns
        -------
        torch.Tensor, shape ``(batch, length, vocab_size)``, dtype ``float32``
            Unnormalised log-probabilities; never puts mass on ``[MASK]``.
        """
        return self.logits_from_hidden(self.hidden(ids))


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------

def default_text_context_path():
    """The committed default checkpoint (an ``importlib.resources`` traversable)."""
    return resources.files("tokencom_sdr.context") / "data" / DEFAULT_TEXT_CONTEXT_FILE


def save_text_context_model(model: TextContextModel, path: Union[str, os.PathLike],
                            extra_metadata: Optional[Dict[str, str]] = None,
                            half: bool = False) -> None:
    """Write ``model`` as a self-describing safetensors file.

    Parameters
    ----------
    model : TextContextModel
    path : str or path-like
        Written atomically (temporary file, then rename), so an interrupted
        save never leaves a truncated checkpoint behind.
    extra_metadata : dict of str to str, optional
        Stored alongside (training step, loss, tokenizer name, ...).
    half : bool
        Store the weights as float16 (half the size; loading converts back
        to float32). Used for the committed default.
    """
    dtype = torch.float16 if half else torch.float32
    tensors = {name: t.detach().to("cpu", dtype) for name, t in model.state_dict().items()}
    write_checkpoint(tensors, path, format_tag=_FORMAT_TAG, format_version=_FORMAT_VERSION,
                     metadata={**(extra_metadata or {}), "config": model.config.to_json()})


def load_text_context_model(path: Union[str, os.PathLike, None] = None,
                            device: Union[str, torch.device] = "cpu", *,
                            packaged: str = DEFAULT_TEXT_CONTEXT_FILE) -> TextContextModel:
    """Load a checkpoint written by :func:`save_text_context_model`.

    Parameters
    ----------
    path : str or path-like or None
        None loads the committed file ``packaged``.
    device : str or torch.device
    packaged : str
        Name of a committed model in ``tokencom_sdr/context/data`` (checked
        against the model manifest); default the general model, and for
        example ``text_context_corpus.safetensors`` for the corpus expert
        (:mod:`tokencom_sdr.context.domain_expert`).

    Returns
    -------
    TextContextModel
        In eval mode, float32, on ``device``.

    Raises
    ------
    ContextModelFileError
        The file is missing, is not a safetensors file (truncated, corrupt),
        lacks the TokenCom metadata, or its tensors do not fit its config.
    """
    source, metadata, tensors = read_checkpoint(
        path, default_text_context_path() if packaged == DEFAULT_TEXT_CONTEXT_FILE
        else resources.files("tokencom_sdr.context") / "data" / packaged,
        what="text context model", format_tag=_FORMAT_TAG,
        format_version=_FORMAT_VERSION, retrain="tokencom train text-context")
    try:
        config = TextContextConfig.from_json(metadata.get("config", ""))
    except (ValueError, TypeError) as error:
        raise ContextModelFileError(f"{source} has an unusable config: {error}") from error

    model = TextContextModel(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ContextModelFileError(
            f"{source} does not match its config: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ContextModelFileError(
                f"{source}: tensor {name} has shape {tuple(tensor.shape)}, config needs "
                f"{tuple(expected[name].shape)}")
        if not torch.isfinite(tensor.float()).all():
            raise ContextModelFileError(f"{source}: tensor {name} holds NaN or inf values")
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    model.metadata = metadata
    return model.to(device).eval()
