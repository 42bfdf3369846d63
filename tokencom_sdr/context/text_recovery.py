"""Context recovery of a received text frame: erasure filling and soft MAP detection.

Modes (:data:`RECOVERY_MODES`):

``none``
    The radio alone: the frame as received, erasures left in place.
``hard``
    The channel alone: tokens of CRC-failed packets take their bitwise hard
    decision from the LLRs; tokens with no information stay erased. No model.
``fill``
    Erasure filling with the masked-token model, ignoring any LLRs: every
    token not delivered by a CRC-passed packet is predicted from context.
    This is also the *language-model-only* baseline.
``soft``
    Context-aware MAP detection. For an unreliable token ``i`` and candidate
    id ``v``::

        log P(v | everything) = log P_model(v | context) + log P(y_i | v) + const
        log P(y_i | v)        = -sum_j bit_j(v) * L_ij + const_i

    (the second line is the bitwise likelihood under the LLR convention of
    :mod:`tokencom_sdr.tokens.soft`, positive = bit 0). Without LLRs a token's
    likelihood is flat and ``soft`` reduces to ``fill``.

Algorithm (``fill`` and ``soft``):

1. **Pinning.** Tokens delivered by a CRC-passed packet, and tokens whose
   channel-only posterior of the hard decision is at least ``certain``
   (default 0.999), are *pinned*: used as context, never changed.
2. **Iterative fill, most confident first** (``fill_iterations`` passes).
   Each pass masks every undecided token, computes its posterior (model
   prior times channel likelihood) and commits the most confident share of
   them, plus every token already near-certain; the last pass commits the rest.
3. **Context rescoring** (``rescore_rounds``), for tokens with channel
   LLRs. They are split into ``rescore_groups`` interleaved groups; each
   group is masked in turn (one batched forward pass for all groups) and its
   tokens are re-decided given the current estimates of all the others.
   Tokens whose posterior has become near-certain are frozen. Pure erasures
   are not rescored: their first guesses are too often wrong to serve as
   context, and rescoring them lowered the exact fill rate on held-out text.

``P_model`` is the transformer's distribution, refined by the corpus memory
(:mod:`tokencom_sdr.context.text_memory`: counts of what the training text
put between the same known neighbours) unless ``memory=None``.

**Domain expert.** With the committed default model, a message whose
received tokens read as 17th-century English (by their unigram likelihood,
or in a close call by which model predicts them better;
:mod:`tokencom_sdr.context.domain_expert`) is recovered by the corpus
expert instead: a model trained on longer on the corpus alone, with the
corpus part of the memory. Everything else stays with the general model.

The posterior is exact for each token given its context; it is not a joint
MAP over all tokens (that would need a search), which is why the rescoring
rounds exist: a token first decided with poor context is re-decided once its
neighbours are known.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch

from ..tokens.frame import TokenFrame
from ..tokens.soft import ReceivedFrame, SoftTokenInfo, ids_to_bits
from .domain_expert import DomainExpert, default_domain_expert
from .modes import TEXT_RECOVERY_MODES
from .text_memory import CorpusMemory, default_corpus_memory
from .text_model import TextContextModel, load_text_context_model

__all__ = ["RECOVERY_MODES", "RecoveryResult", "TextRecovery", "default_text_model",
           "model_free_recover"]

#: Recovery modes, from least to most informed.
RECOVERY_MODES = TEXT_RECOVERY_MODES


@functools.lru_cache(maxsize=1)
def default_text_model() -> TextContextModel:
    """The committed default model, loaded once per process."""
    return load_text_context_model(None)


@dataclass
class RecoveryResult:
    """Output of :meth:`TextRecovery.recover`.

    Attributes
    ----------
    frame : TokenFrame
        Recovered frame. ``fill`` and ``soft`` leave no erasure; ``none``
        returns the input erasures; ``hard`` keeps erasures only where no
        LLR was available.
    mode : str
    pinned : np.ndarray, shape ``(n,)``, dtype ``bool``
        Positions taken as received and never changed.
    confidence : np.ndarray, shape ``(n,)``, dtype ``float32``
        Posterior probability of the chosen id (1 at pinned positions, 0 at
        positions still erased).
    forward_passes : int
        Model evaluations (a batched pass counts once).
    elapsed_s : float
        Wall-clock time of the recovery.
    domain : str
        Which model recovered the frame: ``"general"``, or the domain of
        the expert the message was routed to (``"corpus"``).
    """

    frame: TokenFrame
    mode: str
    pinned: np.ndarray
    confidence: np.ndarray
    forward_passes: int = 0
    elapsed_s: float = 0.0
    domain: str = "general"

    @property
    def recovered(self) -> np.ndarray:
        """Positions whose id was decided by recovery (``(n,)`` bool)."""
        return ~self.pinned & ~self.frame.erased


def _result(frame, mode, pinned, confidence, passes, start) -> RecoveryResult:
    return RecoveryResult(frame=frame, mode=mode, pinned=np.asarray(pinned, dtype=bool),
                          confidence=np.asarray(confidence, dtype=np.float32),
                          forward_passes=passes, elapsed_s=time.perf_counter() - start)


def model_free_recover(frame: Union[TokenFrame, ReceivedFrame],
                       soft: Optional[SoftTokenInfo] = None, mode: str = "none",
                       vocab_size: Optional[int] = None,
                       start: Optional[float] = None) -> RecoveryResult:
    """The modes that need no model: ``none`` and ``hard``.

    Parameters
    ----------
    frame, soft
        As for :meth:`TextRecovery.recover`.
    mode : str
        ``"none"``: the frame as received. ``"hard"``: erased tokens with
        LLRs take their bitwise hard decision.
    vocab_size : int, optional
        Ids at or above it are no tokens (stay erased); default ``2**bits``.
    """
    start = time.perf_counter() if start is None else start
    if isinstance(frame, ReceivedFrame):
        soft = frame.soft if soft is None else soft
        frame = frame.frame
    if mode not in ("none", "hard"):
        raise ValueError(f"model_free_recover handles 'none' and 'hard', not {mode!r}")
    vocab_size = vocab_size or (1 << frame.bits_per_token)
    ids = frame.ids.copy()
    erased = frame.erased | (ids >= vocab_size)
    ids[erased] = 0
    if mode == "none" or soft is None:
        return _result(TokenFrame(ids, frame.modality, frame.shape, frame.bits_per_token, erased),
                       mode, ~erased, (~erased).astype(np.float32), 0, start)
    has_info = np.any(soft.llrs != 0, axis=1) & erased
    hard = soft.hard_ids()
    take = has_info & (hard < vocab_size)
    ids[take] = hard[take]
    still = erased & ~take
    confidence = np.where(take, soft.hard_confidence(), 0.0)
    confidence[~erased] = 1.0
    return _result(TokenFrame(ids, frame.modality, frame.shape, frame.bits_per_token, still),
                   mode, ~erased, confidence, 0, start)


class TextRecovery:
    """Restores erased or unreliable tokens of a text frame with a context model.

    Parameters
    ----------
    model : TextContextModel, optional
        Defaults to the committed model (:func:`default_text_model`).
    fill_iterations : int
        Passes of the most-confident-first fill (>= 1).
    rescore_rounds : int
        Context rescoring rounds after the fill (>= 0).
    rescore_groups : int
        Interleaved groups per rescoring round; each round is one batched
        forward pass of this many sequences.
    certain : float
        A token whose posterior reaches this is near-certain: pinned when the
        channel alone gives it, frozen when the posterior does.
    memory : CorpusMemory, "default" or None
        Corpus memory that refines the model's prior with what the training
        text put between the same neighbours
        (:mod:`tokencom_sdr.context.text_memory`); ``"default"`` is the
        committed one, None uses the model alone.
    expert : DomainExpert, "auto", "default" or None
        A domain expert that recovers the messages routed to its domain
        (:mod:`tokencom_sdr.context.domain_expert`), with its part of
        ``memory``. ``"auto"``: the committed corpus expert when ``model`` is
        None (the committed general model) and ``memory`` is the committed
        one or None, none with a model or memory of your own;
        ``"default"``: the committed expert with any model; None: the general
        model recovers everything.
    device : str or torch.device
    """

    def __init__(self, model: Optional[TextContextModel] = None, *, fill_iterations: int = 2,
                 rescore_rounds: int = 1, rescore_groups: int = 2, certain: float = 0.999,
                 memory: Union[CorpusMemory, str, None] = "default",
                 expert: Union[DomainExpert, str, None] = "auto",
                 device: Union[str, torch.device] = "cpu"):
        if fill_iterations < 1:
            raise ValueError(f"fill_iterations must be >= 1, got {fill_iterations}")
        if rescore_rounds < 0 or rescore_groups < 1:
            raise ValueError("rescore_rounds must be >= 0 and rescore_groups >= 1")
        if not 0.5 < certain < 1.0:
            raise ValueError(f"certain must lie in (0.5, 1), got {certain}")
        self.model = (model if model is not None else default_text_model()).to(device).eval()
        self.device = torch.device(device)
        self.fill_iterations = fill_iterations
        self.rescore_rounds = rescore_rounds
        self.rescore_groups = rescore_groups
        self.certain = certain
        if isinstance(memory, str):
            if memory != "default":
                raise ValueError(f"memory must be a CorpusMemory, 'default' or None, not {memory!r}")
            memory = default_corpus_memory()
        if memory is not None and memory.vocab_size != self.vocab_size:
            raise ValueError(f"corpus memory of a {memory.vocab_size}-token vocabulary cannot "
                             f"serve a model of {self.vocab_size} tokens")
        self.memory = memory
        self._bit_table = {}
        if isinstance(expert, str):
            if expert not in ("auto", "default"):
                raise ValueError(f"expert must be a DomainExpert, 'auto', 'default' or None, "
                                 f"not {expert!r}")
            if expert == "default":
                expert = default_domain_expert()
            elif model is None and default_domain_expert().fits(memory):
                expert = default_domain_expert()
            else:
                expert = None
        self.expert = expert
        # With an expert, recover() routes and hands the frame to one of two
        # route-free recoveries: the expert's (same settings, its model and
        # memory part) or this one's own model without the routing, so that
        # a frame is routed once however it is recovered.
        self._expert_recovery = self._general_recovery = None
        if expert is not None:
            if expert.model.config.vocab_size != self.vocab_size:
                raise ValueError(f"a {expert.model.config.vocab_size}-token expert cannot "
                                 f"serve a model of {self.vocab_size} tokens")
            self._expert_recovery = TextRecovery(
                expert.model, fill_iterations=fill_iterations, rescore_rounds=rescore_rounds,
                rescore_groups=rescore_groups, certain=certain,
                memory=expert.memory_from(memory), expert=None, device=device)
            self._general_recovery = copy.copy(self)
            self._general_recovery.expert = None
            self._general_recovery._expert_recovery = None

    @property
    def vocab_size(self) -> int:
        return self.model.config.vocab_size

    # -- public API -----------------------------------------------------------

    def recover(self, frame: Union[TokenFrame, ReceivedFrame],
                soft: Optional[SoftTokenInfo] = None, mode: str = "soft") -> RecoveryResult:
        """Recover a received text frame.

        Parameters
        ----------
        frame : TokenFrame or ReceivedFrame
            ``erased`` marks tokens not delivered by a CRC-passed packet; a
            ``ReceivedFrame`` brings its own soft info.
        soft : SoftTokenInfo, optional
            Bit LLRs ``(n, bits_per_token)`` float32, positive = bit 0 (see
            :mod:`tokencom_sdr.tokens.soft`). Only read at erased positions:
            a token that passed its CRC is right whatever its LLRs say.
        mode : str
            One of :data:`RECOVERY_MODES`.

        Returns
        -------
        RecoveryResult
        """
        start = time.perf_counter()
        if isinstance(frame, ReceivedFrame):
            soft = frame.soft if soft is None else soft
            frame = frame.frame
        if mode not in RECOVERY_MODES:
            raise ValueError(f"unknown recovery mode {mode!r}; choose one of "
                             f"{', '.join(RECOVERY_MODES)}")
        if soft is not None:
            ReceivedFrame(frame, soft)  # validates the shapes
        if (1 << frame.bits_per_token) < self.vocab_size:
            raise ValueError(f"frame of {frame.bits_per_token}-bit tokens cannot address the "
                             f"model's {self.vocab_size}-token vocabulary")
        if mode in ("none", "hard"):
            return model_free_recover(frame, soft, mode, self.vocab_size, start)
        if self.expert is not None:
            serving = self.routed(frame)
            result = serving.recover(frame, soft, mode)
            if serving is self._expert_recovery:
                result.domain = self.expert.domain
            result.elapsed_s = time.perf_counter() - start
            return result
        n = len(frame)
        ids = frame.ids.copy()
        # An id the vocabulary lacks (possible when vocab < 2**bits) is no token.
        erased = frame.erased | (ids >= self.vocab_size)
        use_soft = soft is not None and mode == "soft"
        llrs = soft.clipped() if use_soft else np.zeros((n, frame.bits_per_token), np.float32)
        has_info = np.any(llrs != 0, axis=1) & erased
        if n == 0:
            return _result(frame, mode, ~erased, np.ones(0), 0, start)

        pinned = ~erased
        if use_soft:
            # Channel-certain tokens of CRC-failed packets are as good as
            # received: never let the prior overrule them.
            hard = soft.hard_ids()
            sure = erased & has_info & (soft.hard_error_log_prob() <= math.log1p(-self.certain))
            sure &= hard < self.vocab_size
            ids[sure] = hard[sure]
            pinned |= sure
        ids[~pinned] = 0
        confidence = np.where(pinned, 1.0, 0.0).astype(np.float32)
        todo = np.flatnonzero(~pinned)
        pinned_ids = ids[pinned].copy()
        passes = 0
        if todo.size:
            loglik = self._log_likelihood(llrs[todo], frame.bits_per_token)
            passes = self._decode(ids, pinned, todo, loglik, confidence, has_info[todo])
        # The guarantee the rest of the system relies on: reliable tokens are untouched.
        if not np.array_equal(ids[pinned], pinned_ids):
            raise RuntimeError("internal error: recovery changed a pinned token")
        out = TokenFrame(ids, frame.modality, frame.shape, frame.bits_per_token,
                         np.zeros(n, dtype=bool))
        return _result(out, mode, pinned, confidence, passes, start)

    def routed(self, frame: Union[TokenFrame, ReceivedFrame]) -> "TextRecovery":
        """The recovery that serves a received frame, without routing of its
        own: the expert's when the message is routed to it
        (:mod:`tokencom_sdr.context.domain_expert`), else this one's model
        (this object itself when it has no expert). A receiver that uses the
        model's prior for anything else (re-decoding failed codewords) asks
        this first; a transmitter never does, since it cannot know what the
        receiver will get."""
        if self.expert is None:
            return self
        if isinstance(frame, ReceivedFrame):
            frame = frame.frame
        general = self._general_recovery
        if self.expert.serves(frame.ids[~frame.erased],
                              lambda: self._expert_recovery._received_log_likelihood(frame)
                              - general._received_log_likelihood(frame)):
            return self._expert_recovery
        return general

    @torch.inference_mode()
    def token_prior(self, ids: np.ndarray, visible: np.ndarray, targets: np.ndarray,
                    groups: int = 4) -> np.ndarray:
        """The model's predictive distribution of some tokens given the others.

        Extrinsic: a target's own id is never shown to the model. The
        targets are split into ``groups`` interleaved groups (one batched
        forward pass, one sequence per group); in a group's sequence its
        targets are masked, every other ``visible`` position shows its id,
        the rest are masked. With ``groups = len(targets)`` every target is
        predicted with all the others visible.

        Parameters
        ----------
        ids : np.ndarray, shape ``(n,)``, integer
            Current ids (true ones where known, estimates elsewhere).
        visible : np.ndarray, shape ``(n,)``, bool
            Positions the model may see (targets are masked whatever it says).
        targets : np.ndarray, shape ``(m,)``, integer
            Distinct positions to predict.
        groups : int
            ``>= 1``.

        Returns
        -------
        np.ndarray, shape ``(m, vocab_size)``, dtype ``float32``
            Each row sums to 1.
        """
        ids = np.asarray(ids, dtype=np.int64)
        visible = np.asarray(visible, dtype=bool)
        targets = np.asarray(targets, dtype=np.int64)
        if ids.shape != visible.shape or ids.ndim != 1:
            raise ValueError(f"ids {ids.shape} and visible {visible.shape} must be the same (n,)")
        if groups < 1:
            raise ValueError(f"groups must be >= 1, got {groups}")
        if targets.size == 0:
            return np.zeros((0, self.vocab_size), dtype=np.float32)
        shown = visible & (ids < self.vocab_size) & (ids >= 0)
        x, which = self._masked_groups(ids, shown, targets, groups)
        probs = self._prior(x, which, targets)
        return probs.cpu().numpy().astype(np.float32)

    def bit_prior_llrs(self, ids: np.ndarray, visible: np.ndarray, targets: np.ndarray,
                       bits_per_token: int, groups: int = 4,
                       clip: Optional[float] = None) -> np.ndarray:
        """:meth:`token_prior` marginalised to bit LLRs, for a channel decoder.

        ``llr[i, j] = log P(bit j of target i = 0) - log P(bit j = 1)`` under
        the model alone (MSB first, positive = bit 0, the convention of
        :mod:`tokencom_sdr.tokens.soft`): the a-priori information the model
        adds to a decoder's channel evidence. ``clip`` limits the magnitude
        so that a confident wrong prediction cannot overrule the channel.

        Returns
        -------
        np.ndarray, shape ``(m, bits_per_token)``, dtype ``float32``
        """
        if (1 << bits_per_token) < self.vocab_size:
            raise ValueError(f"{bits_per_token}-bit tokens cannot address the model's "
                             f"{self.vocab_size}-token vocabulary")
        probs = self.token_prior(ids, visible, targets, groups).astype(np.float64)
        table = ids_to_bits(np.arange(self.vocab_size), bits_per_token).astype(np.float64)
        p_one = np.clip(probs @ table, 1e-12, 1.0 - 1e-12)
        llr = np.log1p(-p_one) - np.log(p_one)
        if clip is not None:
            llr = np.clip(llr, -clip, clip)
        return llr.astype(np.float32)

    # -- internals --------------------------------------------------------------

    def _masked_groups(self, ids: np.ndarray, shown: np.ndarray, targets: np.ndarray,
                       groups: int):
        """One input row per interleaved group of targets, ``(B, n)`` int64.

        Target ``j`` belongs to group ``j % B`` (``B = min(groups, m)``) and is
        masked in its group's row; every row shows ``ids`` where ``shown``
        and ``[MASK]`` elsewhere. Returns the rows and each target's group
        (``(m,)`` int64).
        """
        mask_id = self.model.config.mask_id
        groups = min(groups, targets.size)
        which = np.arange(targets.size) % groups
        x = np.repeat(np.where(shown, ids, mask_id)[None], groups, axis=0).astype(np.int64)
        x[which, targets] = mask_id
        return x, which

    @torch.inference_mode()
    def _received_log_likelihood(self, frame: TokenFrame, groups: int = 3) -> float:
        """How well the model alone predicts a frame's received tokens.

        The received tokens are split into ``groups`` interleaved groups;
        each group is masked in turn, together with the erased tokens (one
        batched forward pass), so every received token is predicted once.
        Returns their mean log-probability, ``-inf`` when nothing was received.
        """
        known = ~frame.erased & (frame.ids < self.vocab_size) & (frame.ids >= 0)
        targets = np.flatnonzero(known)
        if targets.size == 0:
            return float("-inf")
        x, which = self._masked_groups(frame.ids.astype(np.int64), known, targets, groups)
        h = self._hidden(torch.from_numpy(x).to(self.device))
        h = h[torch.from_numpy(which), torch.from_numpy(targets)]
        log_probs = torch.log_softmax(self.model.logits_from_hidden(h).float(), dim=-1)
        picked = log_probs[torch.arange(targets.size), torch.from_numpy(frame.ids[targets])]
        return float(picked.mean())

    def _log_likelihood(self, llrs: np.ndarray, bits_per_token: int) -> torch.Tensor:
        """Channel log-likelihood of every vocabulary id.

        Parameters
        ----------
        llrs : np.ndarray, shape ``(m, bits_per_token)``, float32

        Returns
        -------
        torch.Tensor, shape ``(m, vocab_size)``, float32; rows of a token
        with no information are all zero.
        """
        table = self._bit_table.get(bits_per_token)
        if table is None:
            table = torch.from_numpy(
                ids_to_bits(np.arange(self.vocab_size), bits_per_token).astype(np.float32))
            self._bit_table[bits_per_token] = table.to(self.device)
            table = self._bit_table[bits_per_token]
        return -(torch.from_numpy(llrs).to(self.device) @ table.t())

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Model features for ``(B, n)`` inputs of any length, ``(B, n, d)``.

        Messages longer than the model's ``max_len`` are cut into windows
        overlapping by half; each position takes its features from the window
        in which it sits most centrally, so it always sees context on both sides.
        """
        max_len = self.model.config.max_len
        n = x.shape[1]
        if n <= max_len:
            return self.model.hidden(x)
        step = max_len // 2
        starts = list(range(0, n - max_len, step)) + [n - max_len]
        centres = np.array([s + max_len / 2 for s in starts])
        owner = np.abs(np.arange(n)[:, None] - centres[None, :]).argmin(axis=1)
        out = torch.empty(x.shape[0], n, self.model.config.d_model, device=x.device)
        for w, s in enumerate(starts):
            cols = np.flatnonzero(owner == w)
            if cols.size:
                h = self.model.hidden(x[:, s:s + max_len])
                out[:, cols] = h[:, cols - s]
        return out

    def _prior(self, inputs: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> torch.Tensor:
        """Prior of the targets ``inputs[rows, cols]`` given what ``inputs`` shows.

        ``inputs`` is ``(B, n)`` int64 with ``[MASK]`` where nothing is shown;
        returns ``(m, vocab_size)`` float32 probabilities: the model's,
        refined by the corpus memory when there is one.
        """
        x = torch.from_numpy(inputs).to(self.device)
        h = self._hidden(x)[torch.from_numpy(rows), torch.from_numpy(cols)]
        probs = torch.softmax(self.model.logits_from_hidden(h).float(), dim=-1)
        if self.memory is not None:
            probs = self.memory.refine(probs.cpu(), inputs, rows, cols).to(probs.device)
        return probs

    def _posterior(self, inputs: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                   loglik: torch.Tensor):
        """Posterior argmax and its probability at ``(rows, cols)`` of a batch.

        Parameters
        ----------
        inputs : np.ndarray, shape ``(B, n)``, int64 (``[MASK]`` = vocab_size)
        rows, cols : np.ndarray, shape ``(m,)``, int64
        loglik : torch.Tensor, shape ``(m, vocab_size)``

        Returns
        -------
        (np.ndarray ``(m,)`` int64 ids, np.ndarray ``(m,)`` float32 probabilities)
        """
        log_prior = torch.log(self._prior(inputs, rows, cols).clamp_min(1e-30))
        log_post = torch.log_softmax(log_prior + loglik, dim=-1)
        best, arg = log_post.max(dim=-1)
        return arg.cpu().numpy().astype(np.int64), best.exp().cpu().numpy().astype(np.float32)

    @torch.inference_mode()
    def _decode(self, ids: np.ndarray, pinned: np.ndarray, todo: np.ndarray,
                loglik: torch.Tensor, confidence: np.ndarray, informed: np.ndarray) -> int:
        """Decide ``ids[todo]`` in place; return the number of forward passes.

        ``informed`` (``(len(todo),)`` bool) marks the tokens with channel
        LLRs; only those are rescored.
        """
        mask_id = self.model.config.mask_id
        committed = pinned.copy()
        slot = np.full(len(ids), -1, dtype=np.int64)
        slot[todo] = np.arange(todo.size)
        passes = 0
        for it in range(self.fill_iterations):
            remaining = np.flatnonzero(~committed)
            if remaining.size == 0:
                break
            x = np.where(committed, ids, mask_id)[None]
            arg, prob = self._posterior(x, np.zeros_like(remaining), remaining,
                                        loglik[torch.from_numpy(slot[remaining])])
            passes += 1
            ids[remaining] = arg
            confidence[remaining] = prob
            left = self.fill_iterations - it
            count = remaining.size if left == 1 else math.ceil(remaining.size / left)
            order = np.argsort(-prob, kind="stable")
            take = np.zeros(remaining.size, dtype=bool)
            take[order[:count]] = True
            take |= prob >= self.certain
            committed[remaining[take]] = True
        # Rescoring shows the model the current guesses of the other
        # uncertain tokens as context. That helps where the channel makes
        # those guesses mostly right (soft tokens) and hurts for pure
        # erasures, whose guesses are mostly wrong (measured on held-out
        # text), so only tokens with channel information are rescored.
        rescorable = todo[informed]
        for _ in range(self.rescore_rounds):
            targets = rescorable[confidence[rescorable] < self.certain]
            if targets.size == 0:
                break
            # Interleaved groups: neighbouring uncertain tokens land in
            # different groups, so each is rescored with the others visible.
            x, which = self._masked_groups(ids, np.ones(len(ids), dtype=bool), targets,
                                           self.rescore_groups)
            arg, prob = self._posterior(x, which, targets, loglik[torch.from_numpy(slot[targets])])
            passes += 1
            ids[targets] = arg
            confidence[targets] = prob
        return passes
