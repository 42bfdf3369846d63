"""Train the byte-level BPE text tokenizer.

Python::

    from tokencom_sdr.training.text_tokenizer import train_text_tokenizer
    tokenizer = train_text_tokenizer("out/text_bpe_4096.json")          # default corpus
    tokenizer = train_text_tokenizer("tiny.json", vocab_size=300,
                                     corpus_files=["notes.txt"])        # own text

Command line (what ``tokencom train text-tokenizer`` wraps)::

    python -m tokencom_sdr.training.text_tokenizer --out PATH [--vocab 4096]
        [--corpus FILE ...] [--max-bytes N] [--cache-dir DIR]
        [--heldout-fraction 0.02] [--quiet]

A CLI that hosts this as a subcommand calls :func:`add_cli_arguments` on its
subparser and :func:`run_from_args` with the parsed namespace (it returns the
exit status).

Without ``corpus_files`` the tokenizer learns from the *train* side of
:func:`tokencom_sdr.data.corpus.load_corpus_split`, so the held-out blocks
stay unseen and measure compression honestly. Training is deterministic: the
same corpus, vocabulary size and byte budget give a byte-identical file.
The committed default, ``tokencom_sdr/tokens/data/text_bpe_4096.json``, is
the output of ``--out`` with all other options at their defaults.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from ..data.corpus import (CorpusUnavailableError, TextBlock, blocks_within_budget, load_corpus_split,
                           split_into_blocks)
from ..data.training_text import training_blocks
from .text_data_options import add_training_text_arguments
from ..tokens.text_bpe import TextTokenizer

__all__ = ["train_text_tokenizer", "mean_bytes_per_token", "add_cli_arguments",
           "run_from_args", "main"]

# A pair must occur twice to be merged: a merge seen once compresses nothing
# it has not already memorised.
_MIN_PAIR_FREQUENCY = 2


def _training_blocks(corpus_files: Optional[Sequence[Union[str, os.PathLike]]],
                     cache_dir: Union[str, os.PathLike, None],
                     heldout_fraction: float, data: str = "corpus") -> List[TextBlock]:
    if corpus_files is None and data != "corpus":
        # Corpus and modern-English train blocks, named by position for the
        # byte-budget ranking.
        return [TextBlock(f"{data}/{i}", i, text) for i, text in enumerate(training_blocks(data))]
    if corpus_files is None:
        return load_corpus_split(cache_dir, heldout_fraction).train
    blocks: List[TextBlock] = []
    for path in corpus_files:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read corpus file {path} as UTF-8 text: {error}") from error
        blocks.extend(split_into_blocks(str(path), text))
    return blocks


def train_text_tokenizer(out_path: Union[str, os.PathLike],
                         vocab_size: int = 4096,
                         corpus_files: Optional[Sequence[Union[str, os.PathLike]]] = None,
                         max_bytes: Optional[int] = None,
                         progress: bool = True,
                         *,
                         cache_dir: Union[str, os.PathLike, None] = None,
                         heldout_fraction: float = 0.02, data: str = "corpus") -> TextTokenizer:
    """Train a lossless byte-level BPE and write its JSON to ``out_path``.

    Parameters
    ----------
    out_path : str or path-like
        Where the tokenizer JSON goes; parent folders are created.
    vocab_size : int
        Number of ids, the 256 byte tokens included; at least 256. A power of
        two makes every ``bits_per_token`` pattern a valid id.
    corpus_files : sequence of path-like or None
        UTF-8 text files to learn from, all of each. ``None`` uses the train
        side of the project corpus (fetched on first use).
    max_bytes : int or None
        Cap on the UTF-8 bytes of training text; blocks of about 4 KB are
        drawn evenly from the whole corpus up to the cap. ``None``: no cap.
    progress : bool
        Show the trainer's progress bars (on stderr).
    cache_dir : str or path-like or None
        Corpus cache folder (default corpus only); see
        :func:`tokencom_sdr.data.corpus.resolve_cache_dir`.
    heldout_fraction : float
        Held-out share kept away from training (default corpus only).
    data : str
        Without ``corpus_files``: ``"corpus"`` (the 17th-century train
        split) or ``"corpus+modern"`` (plus the modern-English train sides of
        ``tokencom data fetch``; see :mod:`tokencom_sdr.data.training_text`).

    Returns
    -------
    TextTokenizer
        The trained tokenizer, as loaded back from ``out_path``.

    Raises
    ------
    ValueError
        ``vocab_size`` below 256, unreadable corpus files, or a corpus too
        small to learn ``vocab_size - 256`` merges that each occur twice.
    tokencom_sdr.data.corpus.CorpusUnavailableError
        The default corpus could not be fetched.
    """
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256 (one id per byte), got {vocab_size}")
    blocks = blocks_within_budget(
        _training_blocks(corpus_files, cache_dir, heldout_fraction, data), max_bytes)
    if not blocks:
        raise ValueError("no training text: the corpus is empty or max_bytes is too small")

    tokenizer = Tokenizer(models.BPE())
    # No normalizer and no prefix space: the tokenizer must never alter text.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=_MIN_PAIR_FREQUENCY,
        show_progress=progress,
        special_tokens=[],
        # All 256 byte characters, seen in training or not, so any byte
        # string can be encoded.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator((block.text for block in blocks), trainer=trainer,
                                  length=len(blocks))
    learned = tokenizer.get_vocab_size()
    if learned != vocab_size:
        raise ValueError(
            f"the training text yields only {learned} tokens, fewer than vocab_size="
            f"{vocab_size}: give more text or ask for a smaller vocabulary")

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out_path), pretty=False)
    return TextTokenizer.from_file(out_path)


def mean_bytes_per_token(tokenizer: TextTokenizer, texts: Iterable[str]) -> float:
    """UTF-8 bytes per token over ``texts``: the tokenizer's compression.

    Returns ``nan`` when the texts hold no token.
    """
    total_bytes = total_tokens = 0
    for text in texts:
        total_bytes += len(text.encode("utf-8"))
        total_tokens += tokenizer.encode(text).size
    return total_bytes / total_tokens if total_tokens else float("nan")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def add_cli_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add this trainer's options to ``parser`` (a parser or a subparser)."""
    parser.add_argument("--out", required=True, type=Path,
                        help="where to write the tokenizer JSON")
    parser.add_argument("--vocab", type=int, default=4096,
                        help="vocabulary size, 256 byte tokens included (default 4096)")
    parser.add_argument("--corpus", nargs="+", type=Path, default=None, metavar="FILE",
                        help="UTF-8 text files to train on (default: the project corpus, "
                             "train split)")
    parser.add_argument("--max-bytes", type=int, default=None,
                        help="cap on training text in bytes (default: all of it)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="corpus cache folder (default $TOKENCOM_CACHE/corpus or "
                             "~/.cache/tokencom_sdr/corpus)")
    parser.add_argument("--heldout-fraction", type=float, default=0.02,
                        help="share of the project corpus kept out of training (default 0.02)")
    add_training_text_arguments(parser, "without --corpus, the text", data_dir=False)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    """Train as the parsed ``args`` say, print a summary; return the exit status."""
    try:
        tokenizer = train_text_tokenizer(
            args.out, vocab_size=args.vocab, corpus_files=args.corpus,
            max_bytes=args.max_bytes, progress=not args.quiet,
            cache_dir=args.cache_dir, heldout_fraction=args.heldout_fraction, data=args.data)
    except (ValueError, CorpusUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    size_kb = Path(args.out).stat().st_size / 1024
    print(f"wrote {args.out}: vocab {tokenizer.vocab_size}, "
          f"{tokenizer.bits_per_token} bits/token, {size_kb:.0f} KiB")
    if args.corpus is None:
        heldout = load_corpus_split(args.cache_dir, args.heldout_fraction).heldout_text
        if heldout:
            print(f"held-out text: {mean_bytes_per_token(tokenizer, heldout):.2f} bytes/token "
                  f"over {sum(len(t.encode('utf-8')) for t in heldout)} bytes")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tokencom_sdr.training.text_tokenizer",
        description="Train the byte-level BPE text tokenizer.")
    add_cli_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
