"""Corpus memory: what the training text put between the same neighbours.

The transformer is small and compute-bound: it fills training-split text no
better than held-out text, so it has not memorised the corpus. Yet public-
domain text repeats itself verbatim (the Bible's parallel passages and
formulae, refrains, stage directions). The memory keeps the training token
stream and, for a token to predict, finds the places where the same known
neighbours surround one token, and counts which token that was.

Those counts refine the model's distribution as a Dirichlet posterior with
the model as its base measure, from the shortest context to the longest::

    p_0 = p_model
    p_k(v) = (c_k(v) + kappa * p_{k-1}(v)) / (N_k + kappa)

where ``c_k(v)`` counts token ``v`` between the context of level ``k``
(``min(L, k)`` known tokens on the left, ``min(R, k)`` on the right, ``L``
and ``R`` being how many consecutive neighbours are visible) and ``N_k`` is
their sum. A context seen often dominates; one never seen leaves the model
alone. Contexts of fewer than ``min_context`` tokens are skipped: there the
model predicts better than raw counts (measured on held-out text).

Look-up: the stream's positions are sorted by their next ``max_side`` tokens
(packed into one int64), so the occurrences of a short token string are one
``searchsorted`` range. A context's two sides are looked up separately, the
smaller range is taken as candidates and the other side is checked on them.
"""

from __future__ import annotations

import functools
import hashlib
import os
from importlib import resources
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .checkpoint_file import ContextModelFileError, only_tensor, read_checkpoint, write_checkpoint

__all__ = ["CorpusMemory", "DEFAULT_TEXT_MEMORY_FILE", "default_corpus_memory",
           "load_corpus_memory", "memory_from_option", "save_corpus_memory"]

#: Committed default memory inside ``tokencom_sdr/context/data``.
DEFAULT_TEXT_MEMORY_FILE = "text_memory.safetensors"

_FORMAT_TAG = "tokencom-text-memory"
_FORMAT_VERSION = "1"


class CorpusMemory:
    """Bidirectional context counts over a training token stream.

    Parameters
    ----------
    stream : np.ndarray, shape ``(n,)``, integer
        Training token ids, in text order, each in ``[0, vocab_size)``.
    vocab_size : int
    max_side : int
        Longest context used on either side (at most ``62 // bits`` tokens,
        so that one side packs into an int64 key).
    min_context : int
        Contexts with fewer known tokens (both sides together) are skipped.
    kappa : float
        Weight of the model's distribution against the counts (> 0).
    """

    def __init__(self, stream: np.ndarray, vocab_size: int, *, max_side: int = 5,
                 min_context: int = 3, kappa: float = 4.0):
        stream = np.asarray(stream)
        if stream.ndim != 1 or not np.issubdtype(stream.dtype, np.integer):
            raise ValueError(f"stream must be a 1-D integer array, got {stream.dtype} "
                             f"{stream.shape}")
        if stream.size and (stream.min() < 0 or stream.max() >= vocab_size):
            raise ValueError(f"stream holds ids outside [0, {vocab_size})")
        if kappa <= 0:
            raise ValueError(f"kappa must be positive, got {kappa}")
        self.bits = max(1, int(vocab_size - 1).bit_length())
        # One side's tokens are packed into an int64 key, which caps max_side.
        self.max_side = min(max_side, 62 // self.bits)
        if self.max_side < 1:
            raise ValueError(f"vocabulary of {vocab_size} leaves no room for a context")
        self.vocab_size = int(vocab_size)
        self.min_context = int(min_context)
        self.kappa = float(kappa)
        # int32 ids and positions: half the memory of int64 (3.25 M tokens: 52 MB in all).
        self.stream = stream.astype(np.int32)
        # Every position, sorted by its next `max_side` tokens; near the end
        # the missing ones pack as 0 and :meth:`_starts` drops the false hits.
        # (The order among equal keys is free, because a look-up only counts
        # what the positions hold: an unstable sort, 30 % faster.)
        padded = np.concatenate([self.stream, np.zeros(self.max_side, np.int32)]).astype(np.int64)
        n = self.stream.size
        keys = self._pack([padded[j:j + n] for j in range(self.max_side)])
        order = np.argsort(keys)
        self._keys = keys[order]
        self._order = order.astype(np.int32)

    def __len__(self) -> int:
        return int(self.stream.size)

    def prefix_digest(self, n_tokens: int) -> str:
        """First 16 hex digits of the SHA-256 of the first ``n_tokens`` ids
        (little-endian int16, as the file stores them): names a prefix."""
        self._check_prefix(n_tokens)
        return hashlib.sha256(self.stream[:n_tokens].astype("<i2").tobytes()).hexdigest()[:16]

    def _check_prefix(self, n_tokens: int) -> None:
        if not 0 <= n_tokens <= self.stream.size:
            raise ValueError(f"a prefix of {n_tokens} tokens does not fit a memory of "
                             f"{self.stream.size}")

    def prefix(self, n_tokens: int, *, min_context: Optional[int] = None,
               kappa: Optional[float] = None) -> "CorpusMemory":
        """The memory of the stream's first ``n_tokens`` ids only.

        The committed memory is the corpus followed by the modern sources, so
        its prefix is the corpus memory a corpus expert wants. Built from this
        memory's sorted index (its positions below ``n_tokens``, order kept),
        without sorting again: a look-up's false hits past the end are
        dropped by :meth:`_starts` as at the end of any stream.
        """
        self._check_prefix(n_tokens)
        view = object.__new__(CorpusMemory)
        view.bits, view.max_side, view.vocab_size = self.bits, self.max_side, self.vocab_size
        view.min_context = self.min_context if min_context is None else int(min_context)
        view.kappa = self.kappa if kappa is None else float(kappa)
        if view.kappa <= 0:
            raise ValueError(f"kappa must be positive, got {view.kappa}")
        view.stream = self.stream[:n_tokens]
        keep = self._order < n_tokens
        view._keys, view._order = self._keys[keep], self._order[keep]
        return view

    # -- look-up --------------------------------------------------------------

    def _pack(self, columns: Sequence[np.ndarray]) -> np.ndarray:
        """Big-endian packing of ``m`` token strings of length ``a`` into
        ``(m,)`` int64: ``columns`` holds the ``a`` positions, each ``(m,)``
        (views of the stream when building, no ``(m, a)`` copy)."""
        key = np.zeros(len(columns[0]), dtype=np.int64)
        for column in columns:
            key <<= self.bits
            key |= column
        return key

    def _starts(self, tokens: np.ndarray) -> np.ndarray:
        """Positions at which the string ``tokens`` starts, ``(k,)`` int64."""
        shift = self.bits * (self.max_side - tokens.size)
        low = int(self._pack(tokens[:, None])[0]) << shift
        lo = int(np.searchsorted(self._keys, low, "left"))
        hi = int(np.searchsorted(self._keys, low + (1 << shift), "left"))
        starts = self._order[lo:hi].astype(np.int64)
        return starts[starts + tokens.size <= self.stream.size]

    def counts(self, left: np.ndarray, right: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Tokens found between ``left`` and ``right`` in the stream.

        Parameters
        ----------
        left, right : np.ndarray, shape ``(a,)`` and ``(b,)``, int64
            The context, in text order (``left[-1]`` is the token just before).

        Returns
        -------
        (ids, counts) : two ``(k,)`` int64 arrays, ids ascending.
        """
        a, b = left.size, right.size
        if a > self.max_side or b > self.max_side or a + b == 0:
            raise ValueError(f"a context has 0..{self.max_side} tokens on each side, at least "
                             f"one in all; got {a} and {b}")
        candidates: Optional[np.ndarray] = None
        if a:
            candidates, check, offset = self._starts(left) + a, right, 1
        if b:
            after = self._starts(right) - 1
            if candidates is None or after.size < candidates.size:
                candidates, check, offset = after, left, -a
        candidates = candidates[(candidates >= 0) & (candidates < self.stream.size)]
        if check.size and candidates.size:
            where = candidates[:, None] + offset + np.arange(check.size)[None, :]
            inside = np.all((where >= 0) & (where < self.stream.size), axis=1)
            candidates, where = candidates[inside], where[inside]
            candidates = candidates[np.all(self.stream[where] == check[None, :], axis=1)]
        ids, counts = np.unique(self.stream[candidates], return_counts=True)
        return ids.astype(np.int64), counts.astype(np.int64)

    def contexts(self, ids: np.ndarray, visible: np.ndarray,
                 position: int) -> List[Tuple[np.ndarray, np.ndarray]]:
        """The context levels of ``position``, shortest first (see the module)."""
        n = ids.size
        left = 0
        while left < self.max_side and position - left - 1 >= 0 and visible[position - left - 1]:
            left += 1
        right = 0
        while right < self.max_side and position + right + 1 < n and visible[position + right + 1]:
            right += 1
        levels, seen = [], set()
        for k in range(1, self.max_side + 1):
            a, b = min(left, k), min(right, k)
            if a + b < self.min_context or (a, b) in seen:
                continue
            seen.add((a, b))
            levels.append((ids[position - a:position], ids[position + 1:position + 1 + b]))
        return levels

    # -- refinement -----------------------------------------------------------

    def refine(self, probs: torch.Tensor, inputs: np.ndarray, rows: np.ndarray,
               cols: np.ndarray) -> torch.Tensor:
        """Refine a model's predictive distributions with the counts.

        Parameters
        ----------
        probs : torch.Tensor, shape ``(m, vocab_size)``, float
            The model's distribution of each target given its context.
        inputs : np.ndarray, shape ``(B, n)``, int64
            The sequences the model saw; ids outside ``[0, vocab_size)``
            (``[MASK]``) are not visible.
        rows, cols : np.ndarray, shape ``(m,)``, int64
            Target ``j`` is ``inputs[rows[j], cols[j]]``.

        Returns
        -------
        torch.Tensor, same shape and dtype; rows without a known context
        are returned unchanged.
        """
        if probs.shape != (len(rows), self.vocab_size):
            raise ValueError(f"probs {tuple(probs.shape)} must be ({len(rows)}, {self.vocab_size})")
        out = probs.clone()
        visible = (inputs < self.vocab_size) & (inputs >= 0)
        for j, (row, col) in enumerate(zip(rows, cols)):
            p = None
            for left, right in self.contexts(inputs[row], visible[row], int(col)):
                ids, counts = self.counts(left, right)
                if ids.size == 0:
                    continue
                if p is None:
                    p = out[j].double()
                total = float(counts.sum())
                p = p * (self.kappa / (total + self.kappa))
                p[torch.from_numpy(ids)] += torch.from_numpy(counts / (total + self.kappa))
            if p is not None:
                out[j] = p.to(out.dtype)
        return out


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

def default_text_memory_path():
    """The committed default memory (an ``importlib.resources`` traversable)."""
    return resources.files("tokencom_sdr.context") / "data" / DEFAULT_TEXT_MEMORY_FILE


def save_corpus_memory(memory: CorpusMemory, path: Union[str, os.PathLike],
                       extra_metadata: Optional[Dict[str, str]] = None) -> None:
    """Write the memory's stream and settings as a safetensors file (int16 ids)."""
    if memory.vocab_size > 1 << 15:
        raise ValueError("ids above 32767 do not fit the int16 file format")
    settings = {"vocab_size": memory.vocab_size, "max_side": memory.max_side,
                "min_context": memory.min_context, "kappa": memory.kappa}
    write_checkpoint({"stream": torch.from_numpy(memory.stream.astype(np.int16))}, path,
                     format_tag=_FORMAT_TAG, format_version=_FORMAT_VERSION,
                     metadata={**(extra_metadata or {}), **settings})


def load_corpus_memory(path: Union[str, os.PathLike, None] = None) -> CorpusMemory:
    """Load a file written by :func:`save_corpus_memory` (None: the committed default).

    Raises
    ------
    ContextModelFileError
        Missing, corrupt or foreign file, or one whose contents do not fit
        its metadata.
    """
    source, metadata, tensors = read_checkpoint(
        path, default_text_memory_path(), what="text corpus memory", format_tag=_FORMAT_TAG,
        format_version=_FORMAT_VERSION, retrain="tokencom train text-memory")
    stream = only_tensor(source, tensors, "stream", 1, torch.int16)
    try:
        return CorpusMemory(stream.numpy(), int(metadata["vocab_size"]),
                            max_side=int(metadata["max_side"]),
                            min_context=int(metadata["min_context"]),
                            kappa=float(metadata["kappa"]))
    except (KeyError, ValueError) as error:
        raise ContextModelFileError(f"{source} is unusable: {error}") from error


@functools.lru_cache(maxsize=1)
def default_corpus_memory() -> CorpusMemory:
    """The committed default memory, loaded once per process."""
    return load_corpus_memory(None)


def memory_from_option(value: str) -> Union[CorpusMemory, str, None]:
    """A ``--memory PATH|default|none`` option as :class:`TextRecovery` takes it."""
    if value == "default":
        return "default"
    if value == "none":
        return None
    return load_corpus_memory(value)
