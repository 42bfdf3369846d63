"""How much of a message's meaning a subset of its tokens keeps (SemPA's phi for text).

The kept tokens are decoded on their own, in message order, and embedded by
the MiniLM sentence encoder (:mod:`.semantic`); phi is the cosine with the
whole message's embedding. This is the ``similarity_for`` that
:class:`~tokencom_sdr.link.semantic_aggregation.SemanticAggregation` takes.

With a ``fill_model`` phi scores what a TokenCom receiver would show
instead: the missing tokens are first filled by one batched pass of the
text context model (its most likely id at every missing position), so a
search favours groupings whose losses the receiver can repair, not only
groupings whose survivors read well on their own.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from ..context.text_model import TextContextModel
from ..tokens.frame import TokenFrame
from ..tokens.text_bpe import TextTokenizer
from .semantic import MiniLMEncoder, default_encoder

__all__ = ["text_subset_similarity", "text_similarity_for"]


def text_subset_similarity(ids: np.ndarray, tokenizer: TextTokenizer,
                           encoder: Optional[MiniLMEncoder] = None,
                           fill_model: Optional[TextContextModel] = None
                           ) -> Callable[[np.ndarray], np.ndarray]:
    """phi for one text message.

    Parameters
    ----------
    ids : np.ndarray, shape ``(n,)``, int
        The message's BPE token ids.
    fill_model : TextContextModel, optional
        Fill the missing tokens with it before decoding (see the module notes).

    Returns
    -------
    callable
        Kept-token masks ``(S, n)`` bool -> cosine similarities ``(S,)``
        float64 of the kept tokens' text to the message. Masks are encoded
        in one batch, shortest texts together.
    """
    encoder = encoder or default_encoder()
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    full = encoder.encode([tokenizer.decode(ids)])[0].astype(np.float64)

    def phi(masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=bool)
        if fill_model is None:
            texts = [tokenizer.decode(ids[mask]) for mask in masks]
        else:
            texts = [tokenizer.decode(row) for row in _filled(ids, masks, fill_model)]
        # Padding is per batch: batching texts of similar length saves work.
        order = np.argsort([len(t) for t in texts], kind="stable")
        embeddings = np.empty((len(texts), full.size))
        embeddings[order] = encoder.encode([texts[i] for i in order], batch_size=64)
        return embeddings @ full

    return phi


def text_similarity_for(tokenizer: TextTokenizer, encoder: Optional[MiniLMEncoder] = None,
                        fill_model: Optional[TextContextModel] = None
                        ) -> Callable[[TokenFrame], Callable[[np.ndarray], np.ndarray]]:
    """``frame -> phi``, as :class:`SemanticAggregation` takes it."""
    encoder = encoder or default_encoder()
    return lambda frame: text_subset_similarity(frame.ids, tokenizer, encoder, fill_model)


@torch.inference_mode()
def _filled(ids: np.ndarray, masks: np.ndarray, model: TextContextModel) -> np.ndarray:
    # (S, n) ids: kept tokens as sent, the others the model's argmax given the kept ones.
    inputs = np.where(masks, ids[np.newaxis, :], model.config.mask_id)
    logits = model(torch.as_tensor(inputs, dtype=torch.long))
    guesses = logits.argmax(dim=-1).numpy()
    return np.where(masks, ids[np.newaxis, :], guesses)
