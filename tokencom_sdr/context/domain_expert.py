"""A domain expert for text recovery, chosen per message by the tokens that arrived.

The general text model learned the 17th-century corpus and modern English
together. A copy of it trained on longer on the corpus alone fills corpus
text better and modern text worse (``docs/text_context.md``). Which of the
two a message needs can be read off the message itself: the tokens that did
arrive are a sample of its vocabulary, and a unigram model of each domain's
training text tells them apart.

The unigram router decides only when it is sure: when one side leads by at
least ``margin`` nats per received token (0.3). Its modern side learned
documentation and fortunes, not everyday prose, and everyday prose ("I went
to the store yesterday and bought some milk") scores slightly on the corpus
side, where the expert would do much worse than the general model (on
held-out fortunes it restores 21 % of erased tokens against 35 %). Within
the margin the two models decide: each predicts every received token with
it masked (three interleaved groups, one batched pass per model), and the
expert takes the message if it predicts them better. On the text benchmark's
messages (``bench/text_sources.py``, 30 % token loss) 98 % of held-out
corpus messages go to the expert, 0.7 % of held-out fortunes and none of the
other modern sources, nor any of the five modern sentences in the tests.

A :class:`DomainExpert` bundles:

* ``router`` (:class:`DomainRouter`): one unigram log-probability row per
  domain, and the ``margin`` beyond which it decides alone;
* ``model``: the expert's context model;
* its slice of the corpus memory: the committed memory is the corpus train
  split followed by the modern train sides, so the corpus expert uses its
  first ``memory_tokens`` ids (:meth:`CorpusMemory.prefix`), checked by their
  digest, with its own ``min_context`` and ``kappa``.

:class:`~tokencom_sdr.context.text_recovery.TextRecovery` consults the
expert in :meth:`~tokencom_sdr.context.text_recovery.TextRecovery.recover`
only. The model prior that entropy coding and the channel decoder use
(``token_prior``, ``bit_prior_llrs``) stays the general model's: the
transmitter must compute it without knowing what the receiver will get.

The file (``tokencom train domain-expert``) holds the router table and the
settings; the expert's model is a separate context-model file in the same
folder.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch

from .checkpoint_file import ContextModelFileError, only_tensor, read_checkpoint, write_checkpoint
from .text_memory import CorpusMemory
from .text_model import TextContextModel, load_text_context_model

__all__ = ["DEFAULT_DOMAIN_EXPERT_FILE", "DomainExpert", "DomainRouter",
           "build_domain_router", "expert_from_option",
           "default_domain_expert", "load_domain_expert", "save_domain_expert"]

#: Committed corpus expert inside ``tokencom_sdr/context/data``.
DEFAULT_DOMAIN_EXPERT_FILE = "text_corpus_expert.safetensors"

_FORMAT_TAG = "tokencom-domain-expert"
_FORMAT_VERSION = "1"


@dataclass(frozen=True)
class DomainRouter:
    """Picks a message's domain by the unigram likelihood of its received ids.

    Attributes
    ----------
    domains : tuple of str
        Domain names, one per row of ``log_probs``.
    log_probs : np.ndarray, shape ``(len(domains), vocab_size)``, dtype ``float32``
        Each domain's unigram log-probability of every token id.
    """

    domains: tuple
    log_probs: np.ndarray

    def __post_init__(self):
        if self.log_probs.ndim != 2 or self.log_probs.shape[0] != len(self.domains) \
                or len(self.domains) < 2:
            raise ValueError(f"log_probs {self.log_probs.shape} needs one row for each of "
                             f"two or more domains {self.domains}")

    @property
    def vocab_size(self) -> int:
        return int(self.log_probs.shape[1])

    def _usable(self, ids: np.ndarray) -> np.ndarray:
        """The ids of ``ids`` inside the vocabulary (a frame's unused codes are no evidence)."""
        ids = np.asarray(ids, dtype=np.int64)
        return ids[(ids >= 0) & (ids < self.vocab_size)]

    def scores(self, ids: np.ndarray) -> np.ndarray:
        """Log-likelihood of ``ids`` (``(k,)`` integer; ids outside the
        vocabulary are ignored) under each domain, ``(len(domains),)`` float64."""
        return self.log_probs[:, self._usable(ids)].astype(np.float64).sum(axis=1)

    def mean_scores(self, ids: np.ndarray) -> Optional[np.ndarray]:
        """Mean log-likelihood per usable id of ``ids`` under each domain,
        ``(len(domains),)`` float64; None when no id is usable."""
        usable = self._usable(ids)
        if usable.size == 0:
            return None
        return self.scores(usable) / usable.size

    def route(self, ids: np.ndarray) -> Optional[str]:
        """The most likely domain of a message whose received ids are ``ids``
        (equal priors); None when nothing was received (no evidence)."""
        means = self.mean_scores(ids)
        return None if means is None else self.domains[int(np.argmax(means))]

    def lead(self, ids: np.ndarray, domain: str) -> float:
        """How far ``domain`` leads the best other domain, in nats per
        received token (negative when it trails; ``-inf`` with no evidence)."""
        means = self.mean_scores(ids)
        if means is None:
            return float("-inf")
        index = self.domains.index(domain)
        return float(means[index] - np.delete(means, index).max())


def build_domain_router(streams: Sequence[np.ndarray], domains: Sequence[str],
                        vocab_size: int, smoothing: float = 0.5) -> DomainRouter:
    """Unigram log-probabilities of each domain's training token stream.

    Parameters
    ----------
    streams : sequence of np.ndarray, each ``(n_d,)`` integer
        One token stream per domain.
    smoothing : float
        Added to every count, so that a token a domain never used costs a
        finite amount.
    """
    if len(streams) != len(domains):
        raise ValueError(f"{len(streams)} streams for {len(domains)} domains")
    rows = []
    for name, stream in zip(domains, streams):
        counts = np.bincount(np.asarray(stream, dtype=np.int64), minlength=vocab_size)
        if counts.size != vocab_size or counts.sum() == 0:
            raise ValueError(f"domain {name!r}: its stream is empty or holds ids outside "
                             f"[0, {vocab_size})")
        rows.append(np.log((counts + smoothing) / (counts.sum() + smoothing * vocab_size)))
    return DomainRouter(tuple(domains), np.stack(rows).astype(np.float32))


@dataclass
class DomainExpert:
    """A context model for one domain, its router, and its slice of the memory.

    Attributes
    ----------
    router : DomainRouter
    domain : str
        The domain this expert serves (one of ``router.domains``); messages
        routed elsewhere stay with the general model.
    model : TextContextModel
    memory_tokens : int
        The expert's memory is the first ``memory_tokens`` ids of the
        general corpus memory.
    memory_digest : str
        :meth:`CorpusMemory.prefix_digest` of that prefix.
    min_context, kappa
        The expert memory's look-up settings (:class:`CorpusMemory`).
    margin : float
        The router decides alone when the expert's domain leads, or trails,
        the others by at least this many nats per received token
        (:meth:`DomainRouter.lead`); closer calls go to the models.
    """

    router: DomainRouter
    domain: str
    model: TextContextModel
    memory_tokens: int
    memory_digest: str
    min_context: int
    kappa: float
    margin: float = 0.0

    def __post_init__(self):
        if self.domain not in self.router.domains:
            raise ValueError(f"expert domain {self.domain!r} is not one of the router's "
                             f"{self.router.domains}")
        if self.router.vocab_size != self.model.config.vocab_size:
            raise ValueError(f"router of {self.router.vocab_size} tokens for an expert model of "
                             f"{self.model.config.vocab_size}")

    def serves(self, received_ids: np.ndarray, model_lead: Callable[[], float]) -> bool:
        """Whether a message whose received ids are ``received_ids`` is the expert's.

        ``model_lead`` is called only for a close call: it returns how much
        better the expert's model than the general one predicts the received
        tokens (mean log-likelihood per token; positive: the expert's).
        """
        lead = self.router.lead(received_ids, self.domain)
        if abs(lead) >= self.margin:
            return lead > 0
        return model_lead() > 0

    def fits(self, memory: Optional[CorpusMemory]) -> bool:
        """Whether ``memory`` is None or starts with the expert's memory part."""
        return memory is None or (len(memory) >= self.memory_tokens and
                                  memory.prefix_digest(self.memory_tokens) == self.memory_digest)

    def memory_from(self, memory: Optional[CorpusMemory]) -> Optional[CorpusMemory]:
        """The expert's memory, cut from the general one (None stays None).

        Raises
        ------
        ValueError
            ``memory`` does not start with the stream the expert was built on.
        """
        if memory is None:
            return None
        if not self.fits(memory):
            raise ValueError(
                f"the {self.domain} expert needs a corpus memory that starts with its "
                f"{self.memory_tokens} training tokens (digest {self.memory_digest}); this "
                f"memory does not: use the committed memory, or no expert")
        return memory.prefix(self.memory_tokens, min_context=self.min_context, kappa=self.kappa)


def default_domain_expert_path():
    """The committed expert file (an ``importlib.resources`` traversable)."""
    return resources.files("tokencom_sdr.context") / "data" / DEFAULT_DOMAIN_EXPERT_FILE


def save_domain_expert(router: DomainRouter, domain: str, model_file: str, memory_tokens: int,
                       memory_digest: str, min_context: int, kappa: float, margin: float,
                       path: Union[str, os.PathLike]) -> None:
    """Write an expert file; ``model_file`` is the expert model's file name,
    in the same folder as ``path``."""
    if Path(model_file).name != model_file:
        raise ValueError(f"model_file must be a bare file name next to the expert file, "
                         f"not {model_file!r}")
    write_checkpoint({"unigram_log_prob": torch.from_numpy(router.log_probs)}, path,
                     format_tag=_FORMAT_TAG, format_version=_FORMAT_VERSION,
                     metadata={"domains": ",".join(router.domains), "expert_domain": domain,
                               "model_file": model_file, "memory_tokens": memory_tokens,
                               "memory_sha256_16": memory_digest,
                               "min_context": min_context, "kappa": kappa,
                               "margin_nats_per_token": margin,
                               "vocab_size": router.vocab_size})


def load_domain_expert(path: Union[str, os.PathLike, None] = None,
                       device: Union[str, torch.device] = "cpu") -> DomainExpert:
    """Load an expert file and its model (None: the committed corpus expert).

    Raises
    ------
    ContextModelFileError
        Missing, corrupt or foreign file, inconsistent contents, or a
        missing or unusable expert model.
    """
    source, metadata, tensors = read_checkpoint(
        path, default_domain_expert_path(), what="text domain expert", format_tag=_FORMAT_TAG,
        format_version=_FORMAT_VERSION, retrain="tokencom train domain-expert")
    table = only_tensor(source, tensors, "unigram_log_prob", 2, torch.float32)
    try:
        router = DomainRouter(tuple(metadata["domains"].split(",")), table.numpy())
        model_file = metadata["model_file"]
        if Path(model_file).name != model_file:
            raise ValueError(f"model_file {model_file!r} is not a bare file name")
        if path is None:
            model = load_text_context_model(None, device, packaged=model_file)
        else:
            model = load_text_context_model(Path(path).parent / model_file, device)
        return DomainExpert(router, metadata["expert_domain"], model,
                            int(metadata["memory_tokens"]), metadata["memory_sha256_16"],
                            int(metadata["min_context"]), float(metadata["kappa"]),
                            float(metadata["margin_nats_per_token"]))
    except (KeyError, ValueError) as error:
        raise ContextModelFileError(f"{source} is unusable: {error}") from error


@functools.lru_cache(maxsize=1)
def default_domain_expert() -> DomainExpert:
    """The committed corpus expert, loaded once per process."""
    return load_domain_expert(None)


def expert_from_option(value: str) -> Union[DomainExpert, str, None]:
    """An ``--expert auto|default|none|PATH`` option as :class:`TextRecovery` takes it."""
    if value in ("auto", "default"):
        return value
    if value == "none":
        return None
    return load_domain_expert(value)
