"""Build the corpus memory (:mod:`tokencom_sdr.context.text_memory`) from the train split.

``tokencom train text-memory`` tokenizes the corpus train split with the
default tokenizer and writes the token stream with the look-up settings.
Held-out text never enters it, so evaluations on held-out messages stay fair.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from ..context.text_memory import CorpusMemory, default_text_memory_path, save_corpus_memory

__all__ = ["run_from_args"]


def run_from_args(args) -> int:
    from ..data.training_text import training_blocks
    from ..tokens.text_bpe import TextTokenizer
    from .text_context import build_token_stream

    out = args.out
    if out is None:
        out = Path("out/text_memory_tiny.safetensors") if args.tiny else \
            Path(str(default_text_memory_path()))
    tokenizer = TextTokenizer.default()
    texts = training_blocks(args.data, args.data_dir, args.max_bytes_per_source)
    if args.tiny:
        texts = texts[:20]
    print(f"tokenizing {len(texts)} train blocks ...", file=sys.stderr)
    stream = build_token_stream(texts, tokenizer)
    memory = CorpusMemory(stream, tokenizer.vocab_size, max_side=args.max_side,
                          min_context=args.min_context, kappa=args.kappa)
    digest = hashlib.sha256(stream.astype("<i2").tobytes()).hexdigest()[:16]
    save_corpus_memory(memory, out, {"source": f"train split of {args.data}"
                                     + (f", at most {args.max_bytes_per_source} bytes per modern "
                                        "source" if args.max_bytes_per_source else ""),
                                     "tokenizer_vocab": tokenizer.vocab_size,
                                     "stream_sha256_16": digest})
    print(f"{len(memory)} tokens, contexts of {memory.min_context}..{2 * memory.max_side} "
          f"tokens, kappa {memory.kappa} -> {out}")
    return 0
