#!/usr/bin/env python3
"""UTF-8 bytes per token of the committed BPE and of another BPE file, per held-out source.

Sources: the held-out blocks of the 17th-century corpus, and the held-out
side of every modern-English source of ``tokencom data fetch``
(``debian-reference`` held out completely).

Usage: .venv/bin/python bench/text_bpe_compare.py OTHER.json [--json PATH]
"""

import argparse
import shlex
import sys
from pathlib import Path

from json_report import emit_json  # bench/, first on sys.path when a bench runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="tokenizer JSON to compare with the committed one")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)

    from tokencom_sdr.data.corpus import load_corpus_split
    from tokencom_sdr.data.training_text import modern_heldout_texts
    from tokencom_sdr.tokens.text_bpe import TextTokenizer
    from tokencom_sdr.training.text_tokenizer import mean_bytes_per_token

    sources = {"corpus-heldout": load_corpus_split().heldout_text}
    sources.update({name: [text] for name, text in modern_heldout_texts().items()})
    out = {"command": "python bench/text_bpe_compare.py " + shlex.join(argv or sys.argv[1:]),
           "bytes_per_token": {}}
    for label, tokenizer in (("committed", TextTokenizer.default()),
                             (str(args.other), TextTokenizer.from_file(args.other))):
        out["bytes_per_token"][label] = {name: round(mean_bytes_per_token(tokenizer, texts), 3)
                                         for name, texts in sources.items()}
    emit_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
