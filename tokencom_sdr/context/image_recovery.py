"""Recovery of erased image tokens: the receiver's last step before drawing.

Methods (:data:`IMAGE_RECOVERY_METHODS`):

``none``
    No recovery: every erased token takes one fixed code, the tokenizer's
    *neutral* code (the code of a flat mid-grey patch).
``copy``
    Nearest-neighbour copy: an erased token takes the id of the nearest
    received token on the grid (Euclidean distance on ``(row, col)``; the
    four direct neighbours come first).
``context``
    The masked-token transformer (:mod:`.image_maskgit`) fills the erasures
    from the received tokens around them by iterative MaskGIT decoding. The
    result also carries the model's top candidates and their probabilities
    at each filled position, so the decoder can draw their expected codeword
    (:meth:`ImageTokenizer.decode_soft`), the minimum mean-square-error
    latent under the model's belief, instead of one hard guess.

Every method returns a frame with no erasure in which every token received
as good keeps its id.

Per-token reliabilities (from the coded PHY, once it reports them) enter as
``reliability``: a token whose reliability is below ``min_reliability`` is
treated as erased, whatever packet it came in.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..tokens.frame import Modality, TokenFrame
from ..tokens.image_vq import ImageTokenizer
from .modes import IMAGE_RECOVERY_MODES
from .image_maskgit import FillResult, ImageContextModel, caption_ids, maskgit_fill

__all__ = ["IMAGE_RECOVERY_METHODS", "ImageRecoveryResult", "ImageRecovery",
           "nearest_copy", "default_context_model"]

IMAGE_RECOVERY_METHODS = IMAGE_RECOVERY_MODES


@functools.lru_cache(maxsize=4)
def default_context_model(name: str = "standard") -> ImageContextModel:
    """The embedded context model for tokenizer ``name``, loaded once per process."""
    return ImageContextModel.default(name)


@dataclass
class ImageRecoveryResult:
    """Output of :meth:`ImageRecovery.recover`.

    Attributes
    ----------
    frame : TokenFrame
        Filled frame: no erasure, received tokens unchanged.
    filled : np.ndarray, shape ``(n,)``, dtype ``bool``
        Positions that were filled (the input's erasures, plus unreliable
        tokens).
    beliefs : dict or None
        ``context`` only: ``{"positions": (m,) int64, "ids": (m, k) int64,
        "p": (m, k) float32, "latent": (m, D) float32}``, the model's
        top-``k`` codes and its codeword-space prediction at the filled
        positions; what :meth:`ImageTokenizer.decode_soft` takes.
    seconds : float
        Time spent.
    """

    frame: TokenFrame
    filled: np.ndarray
    beliefs: Optional[dict] = None
    seconds: float = 0.0


def nearest_copy(grid: np.ndarray, erased: np.ndarray) -> np.ndarray:
    """Fill each erased cell with the id of its nearest received cell.

    Parameters
    ----------
    grid : np.ndarray, shape ``(R, C)``, integer
    erased : np.ndarray, shape ``(R, C)``, bool

    Returns
    -------
    np.ndarray, shape ``(R, C)``, dtype ``int64``
        Unchanged where ``erased`` is False. If nothing was received the grid
        is returned unchanged.
    """
    from scipy.ndimage import distance_transform_edt

    grid = np.asarray(grid, dtype=np.int64)
    erased = np.asarray(erased, dtype=bool)
    if not erased.any() or erased.all():
        return grid.copy()
    # distance_transform_edt measures, for each nonzero cell, the distance to
    # the nearest zero cell and (return_indices) where that zero cell is.
    _, (rows, cols) = distance_transform_edt(erased, return_indices=True)
    out = grid[rows, cols]
    out[~erased] = grid[~erased]
    return out


class ImageRecovery:
    """Fill the erased tokens of received image frames.

    Parameters
    ----------
    method : str
        ``none``, ``copy`` or ``context``.
    tokenizer : ImageTokenizer
        Supplies the neutral code (``none``) and checks the frame's bit width.
    model : ImageContextModel, optional
        ``context`` only; default: the embedded model for the tokenizer.
    steps : int
        MaskGIT rounds (``context``).
    min_reliability : float
        Tokens with a lower ``reliability`` are refilled too.
    soft_mode : str
        What :meth:`draw` gives the decoder at filled positions when
        ``soft``: ``expected``, the probability-weighted mean of the model's
        top codewords (the default: it measured best), or ``latent``, the
        model's own codeword-space regression output.
    """

    def __init__(self, method: str, tokenizer: ImageTokenizer,
                 model: Optional[ImageContextModel] = None, steps: int = 2,
                 min_reliability: float = 0.5, temperature: float = 0.0,
                 soft_mode: str = "expected"):
        if method not in IMAGE_RECOVERY_METHODS:
            raise ValueError(f"unknown recovery {method!r}; choose from {IMAGE_RECOVERY_METHODS}")
        self.method = method
        self.tokenizer = tokenizer
        if method == "context" and model is None:
            model = default_context_model(tokenizer.name)
        if model is not None and model.cfg.codebook_size != tokenizer.codebook_size:
            raise ValueError(f"context model codebook ({model.cfg.codebook_size}) does not "
                             f"match the tokenizer's ({tokenizer.codebook_size})")
        if model is not None and not torch.allclose(
                model.codebook.cpu(), tokenizer.model.quantizer.codebook.detach().cpu(), atol=1e-2):
            raise ValueError("the context model was trained for another tokenizer "
                             "(its codebook differs)")
        if soft_mode not in ("latent", "expected"):
            raise ValueError(f"soft_mode must be 'latent' or 'expected', got {soft_mode!r}")
        self.soft_mode = soft_mode
        self.model = model
        self.steps = steps
        self.min_reliability = min_reliability
        self.temperature = temperature

    def caption_ids(self, caption: str) -> np.ndarray:
        """A caption as the padded text-token ids the context model reads.

        Returns
        -------
        np.ndarray, shape ``(caption_len,)``, dtype ``int64``

        Raises
        ------
        ValueError
            Not ``context`` recovery, a model trained without captions, or
            a caption it cannot take (empty, too long).
        """
        if self.method != "context":
            raise ValueError(f"a caption conditions only context recovery, not {self.method!r}")
        from ..tokens.text_bpe import TextTokenizer
        return caption_ids(self.model, TextTokenizer.default().encode(caption))

    def recover(self, frame: TokenFrame, reliability: Optional[np.ndarray] = None,
                caption: Optional[str] = None) -> ImageRecoveryResult:
        """Fill a received frame.

        Parameters
        ----------
        frame : TokenFrame
            ``Modality.IMAGE``, shape ``(rows, cols)``, ``frame.erased`` set.
        reliability : np.ndarray, shape ``(n,)``, dtype ``float``, optional
            Probability that each token is right.
        caption : str, optional
            Text that conditions ``context`` recovery (cross-modal context);
            the model must have been trained with captions.

        Returns
        -------
        ImageRecoveryResult
        """
        start = time.perf_counter()
        if frame.modality != Modality.IMAGE or len(frame.shape) != 2:
            raise ValueError(f"image recovery needs an image frame, got "
                             f"{frame.modality.name} of shape {frame.shape}")
        if frame.bits_per_token != self.tokenizer.bits_per_token:
            raise ValueError(f"frame has {frame.bits_per_token}-bit tokens, the tokenizer "
                             f"{self.tokenizer.bits_per_token}-bit ones")
        conditioning = None if caption is None else self.caption_ids(caption)
        fill = frame.erased.copy()
        if reliability is not None:
            reliability = np.asarray(reliability, dtype=np.float64).reshape(-1)
            if reliability.shape != fill.shape:
                raise ValueError("reliability must have one entry per token")
            fill |= reliability < self.min_reliability
        grid = frame.ids.reshape(frame.shape).copy()
        mask = fill.reshape(frame.shape)
        beliefs = None
        if fill.any():
            if self.method == "none":
                grid[mask] = self.tokenizer.neutral_id
            elif self.method == "copy":
                grid = nearest_copy(grid, mask)
                if mask.all():
                    grid[:] = self.tokenizer.neutral_id
            else:
                result: FillResult = maskgit_fill(self.model, grid, mask, steps=self.steps,
                                                  temperature=self.temperature,
                                                  caption=conditioning)
                grid = result.ids
                beliefs = {"positions": result.positions, "ids": result.top_ids,
                           "p": result.top_p, "latent": result.latent}
        out = TokenFrame(ids=grid.reshape(-1), modality=frame.modality, shape=frame.shape,
                         bits_per_token=frame.bits_per_token)
        return ImageRecoveryResult(out, fill, beliefs, time.perf_counter() - start)

    def draw(self, result: ImageRecoveryResult, image_size=None, soft: bool = True) -> np.ndarray:
        """Decode a recovery result to pixels; ``soft`` uses the beliefs when present.

        Returns
        -------
        np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
        """
        ids = result.frame.ids.reshape(result.frame.shape)
        if soft and result.beliefs is not None:
            beliefs = dict(result.beliefs)
            if self.soft_mode == "expected":
                beliefs.pop("latent", None)
            return self.tokenizer.decode_soft(ids, beliefs, image_size)
        return self.tokenizer.decode(ids, image_size)
