"""Build a text domain expert file (:mod:`tokencom_sdr.context.domain_expert`).

``tokencom train domain-expert`` takes an expert context model (the corpus
run of ``scripts/gpu_train.sh`` pass 3) and the corpus memory built from
``--data corpus+modern``, whose stream is the corpus train split followed by
the modern train sides. It writes the router (a unigram table of each part
of that stream), the length and digest of the corpus part, and the expert
memory's settings. No held-out text enters it.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["run_from_args"]


def run_from_args(args) -> int:
    from ..context.domain_expert import (build_domain_router, default_domain_expert_path,
                                         save_domain_expert)
    from ..context.text_memory import load_corpus_memory
    from ..context.text_model import load_text_context_model
    from ..data.corpus import load_corpus_split
    from ..tokens.text_bpe import TextTokenizer
    from .text_context import build_token_stream

    out = Path(str(default_domain_expert_path())) if args.out is None else args.out
    if args.model.resolve().parent != out.resolve().parent:
        print(f"error: the expert model {args.model} must sit in the folder of the expert "
              f"file {out} (the file names it)", file=sys.stderr)
        return 2
    model = load_text_context_model(args.model)
    memory = load_corpus_memory(None if args.memory == "default" else args.memory)
    tokenizer = TextTokenizer.default()
    if model.config.vocab_size != tokenizer.vocab_size or memory.vocab_size != tokenizer.vocab_size:
        print("error: the expert model, the memory and the tokenizer disagree on the "
              "vocabulary size", file=sys.stderr)
        return 2
    print("tokenizing the corpus train split ...", file=sys.stderr)
    corpus = build_token_stream(load_corpus_split().train_text, tokenizer)
    n = corpus.size
    if len(memory) <= n or not (memory.stream[:n] == corpus).all():
        print(f"error: the memory must be the corpus train split ({n} tokens) followed by "
              f"the modern train sides; build it with `tokencom train text-memory --data "
              f"corpus+modern`", file=sys.stderr)
        return 2
    router = build_domain_router([memory.stream[:n], memory.stream[n:]], ("corpus", "modern"),
                                 tokenizer.vocab_size)
    save_domain_expert(router, "corpus", args.model.name, n, memory.prefix_digest(n),
                       args.min_context, args.kappa, args.margin, out)
    print(f"corpus expert {args.model.name}: router of {n} corpus and {len(memory) - n} modern "
          f"tokens, memory part of {n} tokens (contexts from {args.min_context}, kappa "
          f"{args.kappa}), margin {args.margin} nats per token -> {out}")
    return 0
