"""Corpus memory: exact counts, the Dirichlet refinement, its file, and its use in fill."""

import numpy as np
import pytest
import torch

from tokencom_sdr.context.checkpoint_file import ContextModelFileError, write_checkpoint
from tokencom_sdr.context.text_memory import (CorpusMemory, default_corpus_memory,
                                              load_corpus_memory, save_corpus_memory)
from tokencom_sdr.context.text_recovery import TextRecovery
from tokencom_sdr.tokens.frame import Modality, TokenFrame
from tokencom_sdr.tokens.text_bpe import TextTokenizer

from conftest import train_cli_or_skip

# One torch thread for this module, through the fixture so that the rest
# of the session keeps its own setting.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _brute_counts(stream, left, right):
    found = {}
    a, b = len(left), len(right)
    for p in range(a, len(stream) - b):
        if list(stream[p - a:p]) == list(left) and list(stream[p + 1:p + 1 + b]) == list(right):
            found[int(stream[p])] = found.get(int(stream[p]), 0) + 1
    return found


@pytest.mark.timeout(30)
def test_counts_match_a_brute_force_search():
    rng = np.random.default_rng(0)
    # A small vocabulary makes every context recur, with several middles.
    stream = rng.integers(0, 6, 3000)
    memory = CorpusMemory(stream, 6, max_side=4, min_context=1)
    for _ in range(200):
        a, b = int(rng.integers(0, 4)), int(rng.integers(0, 4))
        if a + b == 0:
            continue
        p = int(rng.integers(a, len(stream) - b))
        left, right = stream[p - a:p], stream[p + 1:p + 1 + b]
        ids, counts = memory.counts(left, right)
        assert dict(zip(ids.tolist(), counts.tolist())) == _brute_counts(stream, left, right)
    # A context absent from the stream finds nothing.
    ids, counts = memory.counts(np.array([6 - 1] * 4), np.array([], np.int64))
    assert _brute_counts(stream, [5] * 4, []) == dict(zip(ids.tolist(), counts.tolist()))


@pytest.mark.timeout(30)
def test_prefix_is_the_memory_of_the_first_tokens():
    """A prefix view counts exactly what a memory built on the prefix counts,
    also for contexts that run up to (and would run past) its end."""
    rng = np.random.default_rng(3)
    stream = rng.integers(0, 5, 4000)
    whole = CorpusMemory(stream, 5, max_side=4, min_context=1)
    view = whole.prefix(2500, min_context=2, kappa=7.0)
    built = CorpusMemory(stream[:2500], 5, max_side=4, min_context=2, kappa=7.0)
    assert (len(view), view.min_context, view.kappa) == (2500, 2, 7.0)
    assert view.prefix_digest(2500) == built.prefix_digest(2500) == whole.prefix_digest(2500)
    assert whole.prefix_digest(2501) != built.prefix_digest(2500)
    positions = list(rng.integers(5, 2495, 150)) + list(range(2490, 2500))
    for p in positions:
        for a, b in ((2, 2), (4, 0), (0, 4), (3, 1)):
            left = stream[max(p - a, 0):p]
            right = stream[p + 1:p + 1 + b]
            if left.size + right.size == 0:
                continue
            got, want = view.counts(left, right), built.counts(left, right)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    # The occurrence at position 2499 needs tokens past the prefix: only the whole sees it.
    straddling = (stream[2497:2499], stream[2500:2502])
    ids, counts = view.counts(*straddling)
    assert dict(zip(ids.tolist(), counts.tolist())) == _brute_counts(stream[:2500], *straddling)
    assert sum(_brute_counts(stream[:2502], *straddling).values()) == counts.sum() + 1
    with pytest.raises(ValueError, match="does not fit"):
        whole.prefix(4001)
    with pytest.raises(ValueError, match="kappa"):
        whole.prefix(10, kappa=0.0)


@pytest.mark.timeout(30)
def test_refine_follows_the_counts_and_leaves_short_contexts_alone():
    vocab = 50
    phrase = np.array([10, 11, 12, 40, 13, 14, 15])      # token 40 sits between 10 11 12 | 13 14 15
    rng = np.random.default_rng(1)
    stream = np.concatenate([np.concatenate([phrase, rng.integers(0, 9, 20)]) for _ in range(5)])
    memory = CorpusMemory(stream, vocab, max_side=3, min_context=3, kappa=2.0)
    model_probs = torch.full((2, vocab), 0.5 / (vocab - 1))
    model_probs[:, 7] = 0.5                               # the "model" prefers token 7
    mask = vocab
    inputs = np.array([[10, 11, 12, mask, 13, 14, 15],   # full context: five occurrences
                       [mask, mask, 12, mask, 13, mask, 15]])  # 1 + 1 known: too short
    out = memory.refine(model_probs, inputs, np.array([0, 1]), np.array([3, 3]))
    # Level (1,1) ... (3,3): five sightings each time outweigh kappa = 2.
    assert int(out[0].argmax()) == 40
    assert abs(float(out[0].sum()) - 1.0) < 1e-5
    torch.testing.assert_close(out[1], model_probs[1])
    # The input is never modified in place.
    assert float(model_probs[0, 40]) == pytest.approx(0.5 / (vocab - 1))


@pytest.mark.timeout(30)
def test_file_round_trip_and_bad_files(tmp_path):
    stream = np.random.default_rng(2).integers(0, 4096, 5000)
    memory = CorpusMemory(stream, 4096, max_side=4, min_context=3, kappa=1.5)
    path = tmp_path / "memory.safetensors"
    save_corpus_memory(memory, path)
    back = load_corpus_memory(path)
    np.testing.assert_array_equal(back.stream, stream)
    assert (back.vocab_size, back.max_side, back.min_context, back.kappa) == (4096, 4, 3, 1.5)

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ContextModelFileError, match="corrupt or truncated"):
        load_corpus_memory(truncated)
    with pytest.raises(ContextModelFileError, match="not found"):
        load_corpus_memory(tmp_path / "absent.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    write_checkpoint({"stream": torch.zeros(4, dtype=torch.int16)}, foreign,
                     format_tag="something-else", format_version="1")
    with pytest.raises(ContextModelFileError, match="not a TokenCom text corpus memory"):
        load_corpus_memory(foreign)
    memory_tags = {"format_tag": "tokencom-text-memory", "format_version": "1"}
    settings = {"vocab_size": 4096, "max_side": 4, "min_context": 3, "kappa": 2}
    wrong_dtype = tmp_path / "float.safetensors"
    write_checkpoint({"stream": torch.zeros(4)}, wrong_dtype, **memory_tags, metadata=settings)
    with pytest.raises(ContextModelFileError, match="int16"):
        load_corpus_memory(wrong_dtype)
    out_of_range = tmp_path / "range.safetensors"
    write_checkpoint({"stream": torch.full((4,), 5000, dtype=torch.int16)}, out_of_range,
                     **memory_tags, metadata=settings)
    with pytest.raises(ContextModelFileError, match="outside"):
        load_corpus_memory(out_of_range)


@pytest.mark.timeout(60)
def test_default_memory_restores_a_token_its_training_text_pins_down():
    """The committed memory and model: a token erased from a training-text
    passage whose surroundings occur once in the corpus comes back, and the
    received tokens stay as they were."""
    memory = default_corpus_memory()
    tokenizer = TextTokenizer.default()
    assert memory.vocab_size == tokenizer.vocab_size and len(memory) > 1_000_000
    stream = memory.stream
    rng = np.random.default_rng(3)
    recovery = TextRecovery()
    checked = 0
    for start in rng.integers(0, len(stream) - 64, 40):
        ids = stream[start:start + 64].copy()
        target = 32
        ctx_ids, counts = memory.counts(ids[target - 3:target], ids[target + 1:target + 4])
        if counts.sum() != 1:
            continue
        erased = np.zeros(64, dtype=bool)
        erased[target] = True
        frame = TokenFrame(np.where(erased, 0, ids), Modality.TEXT, (64,), 12, erased)
        result = recovery.recover(frame, mode="fill")
        assert result.frame.ids[target] == ids[target]
        np.testing.assert_array_equal(result.frame.ids[~erased], ids[~erased])
        checked += 1
    assert checked >= 10


@pytest.mark.timeout(30)
def test_memory_must_share_the_model_vocabulary():
    from tokencom_sdr.context.text_model import TextContextConfig, TextContextModel

    model = TextContextModel(TextContextConfig.tiny(4096))
    with pytest.raises(ValueError, match="vocabulary"):
        TextRecovery(model, memory=CorpusMemory(np.arange(100), 100))
    with pytest.raises(ValueError, match="CorpusMemory"):
        TextRecovery(model, memory="mine")


@pytest.mark.timeout(90)
def test_cli_builds_a_tiny_memory_and_text_eval_uses_it(tmp_path):
    from tokencom_sdr.cli.main import main

    path = tmp_path / "memory.safetensors"
    code = train_cli_or_skip(["train", "text-memory", "--tiny", "--min-context", "3",
                              "--out", str(path)])
    assert code == 0
    memory = load_corpus_memory(path)
    assert memory.min_context == 3 and memory.vocab_size == TextTokenizer.default().vocab_size
    assert 10_000 < len(memory) < len(default_corpus_memory())
    for option in (str(path), "none"):
        assert main(["text-eval", "--snr", "6", "--mcs", "bpsk", "--channel", "soft-bits",
                     "--messages", "1", "--recovery", "fill", "--memory", option,
                     "--no-semantic"]) == 0
    # A corrupt memory file is a clear one-line CLI error, not a traceback.
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert main(["text-eval", "--snr", "6", "--mcs", "bpsk", "--channel", "soft-bits",
                 "--messages", "1", "--recovery", "fill", "--memory", str(bad)]) == 1
