"""Write tests/metrics/minilm_reference.npz: all-MiniLM-L6-v2 embeddings of a few
texts computed by sentence-transformers, the reference our own torch encoder
(tokencom_sdr/metrics/semantic.py) is tested against.

Run once, with sentence-transformers importable but kept out of .venv (its
dependency tree would move pinned packages), e.g.::

    pip install --no-deps --target /tmp/st_pkgs "sentence-transformers<6" "transformers<5" \
        regex requests urllib3 idna charset_normalizer certifi "tokenizers==0.22.2" \
        "huggingface-hub>=0.34,<1.0"
    PYTHONPATH=/tmp/st_pkgs HF_HUB_OFFLINE=1 .venv/bin/python scripts/make_minilm_reference.py

The stored file was made with sentence-transformers 5.7.0 and transformers
4.57.6 on torch 2.13.0 (CPU).
"""

import os
import sys
import warnings
from pathlib import Path

import numpy as np

from tokencom_sdr.metrics.semantic import model_dir

OUT = Path(__file__).resolve().parent.parent / "tests" / "metrics" / "minilm_reference.npz"
TEXTS = [
    "Shall I compare thee to a summer's day?",
    "The maintenance crew replaced the cooling fan on the second server rack this morning.",
    "the cat sat on the mat",
    "A dog is sleeping on the carpet.",
    "Quantum error correction protects logical qubits from decoherence.",
    "Meet me at the north gate at noon; bring the spare radio.",
    "",
    "Ünïcödé, emoji 🙂 and numbers 12345 — still one sentence.",
    # Longer than the encoder's 256-token window: checks the truncation.
    " ".join(f"word{i} of a very long paragraph about radios and tokens" for i in range(60)),
]


def reference_embeddings(texts):
    """``(len(texts), 384)`` float32 embeddings by sentence-transformers,
    from the same packaged files our encoder reads, never from the hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir()), device="cpu")
    return np.asarray(model.encode(list(texts), normalize_embeddings=True), dtype=np.float32)


def main() -> int:
    warnings.simplefilter("ignore")
    import sentence_transformers
    import transformers

    embeddings = reference_embeddings(TEXTS)
    np.savez_compressed(OUT, texts=np.array(TEXTS), embeddings=embeddings.astype(np.float32),
             versions=np.array([f"sentence-transformers {sentence_transformers.__version__}",
                                f"transformers {transformers.__version__}"]))
    print(f"wrote {OUT}: {embeddings.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
