"""Text <-> token ids: a byte-level BPE tokenizer with a 4096-entry vocabulary.

The tokenizer is a Hugging Face ``tokenizers`` BPE model in a lossless
configuration:

* no normalizer (text is never changed before tokenizing);
* a ``ByteLevel`` pre-tokenizer with ``add_prefix_space=False``: text is
  seen as UTF-8 bytes, each byte mapped to one visible character;
* the 256 byte characters (``ByteLevel.alphabet()``) are all in the vocabulary,
  so every byte string has an encoding and nothing is ever "unknown";
* a ``ByteLevel`` decoder that maps the characters back to bytes.

Hence ``decode(encode(text)) == text`` for every ``str`` that is valid UTF-8:
the empty string, control characters, runs of spaces, emoji, any script.
Strings holding lone surrogates (``"\\ud800"``) have no UTF-8 form and are
rejected with :class:`ValueError`.

The default vocabulary has 4096 = 2**12 entries, so an id fills exactly 12
bits on the air and every 12-bit pattern a receiver can see is a valid id.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from typing import Iterable, Union

import numpy as np
from tokenizers import Tokenizer
from tokenizers.pre_tokenizers import ByteLevel

from ..model_manifest import ModelManifestError, verify_model_bytes
from .frame import Modality, TokenFrame
from .registry import tokenizer_id

__all__ = ["TextTokenizer", "TokenizerFileError", "DEFAULT_TOKENIZER_FILE", "ERASED_MARKER"]

#: Name of the committed default tokenizer inside ``tokencom_sdr/tokens/data``.
DEFAULT_TOKENIZER_FILE = "text_bpe_4096.json"
#: Name (and wire id, see :mod:`.registry`) of :meth:`TextTokenizer.default`.
DEFAULT_TOKENIZER_NAME = "bpe-4096"

#: Shown in decoded text for each token the receiver could not trust
#: (U+2047 DOUBLE QUESTION MARK, which the corpus never contains).
ERASED_MARKER = "\u2047"


class TokenizerFileError(ValueError):
    """A tokenizer file is missing, unreadable, or not a lossless byte-level BPE."""


def _bits_for(vocab_size: int) -> int:
    """Fewest bits that index ``vocab_size`` ids (at least 1)."""
    return max(1, (vocab_size - 1).bit_length())


class TextTokenizer:
    """Byte-level BPE text tokenizer producing :class:`TokenFrame` objects.

    Build one with :meth:`default`, :meth:`from_file` or :meth:`from_str`;
    train a new one with
    :func:`tokencom_sdr.training.text_tokenizer.train_text_tokenizer`.

    Parameters
    ----------
    tokenizer : tokenizers.Tokenizer
        A byte-level BPE in the lossless configuration described in the module
        docstring. It is validated; see :meth:`from_str` for the checks.

    Attributes
    ----------
    vocab_size : int
        Number of ids; valid ids are ``0 .. vocab_size - 1``.
    bits_per_token : int
        ``ceil(log2(vocab_size))``: 12 for the default 4096-entry vocabulary.
    name : str
        ``bpe-4096`` for :meth:`default`, ``custom`` otherwise; its wire id
        (:mod:`.registry`) goes into every packet header.
    """

    def __init__(self, tokenizer: Tokenizer, name: str = "custom"):
        _check_lossless_config(json.loads(tokenizer.to_str()), source="tokenizer")
        self._tokenizer = tokenizer
        self._word_counts = {}  # pre-tokenizer word -> its token count (see count)
        self.vocab_size = int(tokenizer.get_vocab_size(with_added_tokens=True))
        self.bits_per_token = _bits_for(self.vocab_size)
        self.name = name

    # -- construction ---------------------------------------------------------

    @classmethod
    def default(cls) -> "TextTokenizer":
        """The committed 4096-entry tokenizer, trained on the train split of
        :mod:`tokencom_sdr.data.corpus`."""
        resource = resources.files("tokencom_sdr.tokens") / "data" / DEFAULT_TOKENIZER_FILE
        try:
            blob = resource.read_bytes()
        except (FileNotFoundError, OSError) as error:
            raise TokenizerFileError(
                f"default text tokenizer {DEFAULT_TOKENIZER_FILE} is missing from the "
                "installed package; reinstall it, or regenerate it with "
                "`python -m tokencom_sdr.training.text_tokenizer --out "
                f"tokencom_sdr/tokens/data/{DEFAULT_TOKENIZER_FILE}`") from error
        # The committed file must be the one its model-manifest entry describes.
        try:
            verify_model_bytes(blob, f"tokens/data/{DEFAULT_TOKENIZER_FILE}",
                               f"package data {DEFAULT_TOKENIZER_FILE}")
        except ModelManifestError as error:
            raise TokenizerFileError(str(error)) from None
        tokenizer = cls.from_str(blob.decode("utf-8"),
                                 source=f"package data {DEFAULT_TOKENIZER_FILE}")
        tokenizer.name = DEFAULT_TOKENIZER_NAME
        return tokenizer

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike]) -> "TextTokenizer":
        """Load a tokenizer JSON written by ``tokenizers.Tokenizer.save``.

        Raises
        ------
        TokenizerFileError
            The file is missing or unreadable, is not valid JSON, or does not
            describe a lossless byte-level BPE.
        """
        try:
            with open(path, "r", encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError as error:
            raise TokenizerFileError(f"tokenizer file not found: {path}") from error
        except (OSError, UnicodeDecodeError) as error:
            raise TokenizerFileError(f"cannot read tokenizer file {path}: {error}") from error
        return cls.from_str(text, source=str(path))

    @classmethod
    def from_str(cls, text: str, source: str = "<string>") -> "TextTokenizer":
        """Load a tokenizer from its JSON text.

        Checks, each failing with :class:`TokenizerFileError`: the text is
        JSON; the model is BPE without dropout; there is no normalizer and no
        added token; pre-tokenizer and decoder are ``ByteLevel`` (without
        prefix space); ids are exactly ``0 .. vocab_size-1``; all 256 byte
        characters are in the vocabulary.
        """
        try:
            config = json.loads(text)
        except json.JSONDecodeError as error:
            raise TokenizerFileError(f"{source} is not valid JSON: {error}") from error
        _check_lossless_config(config, source)
        try:
            tokenizer = Tokenizer.from_str(text)
        except Exception as error:  # tokenizers raises a bare Exception
            raise TokenizerFileError(f"{source} is not a valid tokenizer: {error}") from error
        return cls(tokenizer)

    # -- text <-> ids ---------------------------------------------------------

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``.

        Parameters
        ----------
        text : str
            Any string that is valid UTF-8 (no lone surrogates).

        Returns
        -------
        np.ndarray, shape ``(n,)``, dtype ``int64``
            Ids in ``[0, vocab_size)``; ``n == 0`` for the empty string.

        Raises
        ------
        TypeError
            ``text`` is not a ``str``.
        ValueError
            ``text`` contains a lone surrogate, which has no UTF-8 encoding.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"text is not valid UTF-8 (lone surrogate at index {error.start}); "
                "only UTF-8-encodable strings can be tokenized") from error
        ids = self._tokenizer.encode(text, add_special_tokens=False).ids
        return np.asarray(ids, dtype=np.int64)

    def count(self, text: str) -> int:
        """Number of tokens :meth:`encode` gives ``text``.

        A byte-level BPE without a normalizer (the only configuration this
        class accepts) merges only within the pre-tokenizer's words, so the
        count is the sum of each word's count, and each distinct word goes
        through the BPE once per tokenizer.

        Parameters
        ----------
        text : str
            As for :meth:`encode` (not checked here: any ``str`` is counted).
        """
        return sum(self._word_count(word) for word, _ in self._words(text))

    def _words(self, text: str):
        """The pre-tokenizer's words of ``text``: ``[(word, (start, stop)), ...]``
        (character offsets into ``text``)."""
        return self._tokenizer.pre_tokenizer.pre_tokenize_str(text)

    def _word_count(self, word: str) -> int:
        n = self._word_counts.get(word)
        if n is None:
            n = self._word_counts[word] = len(self._tokenizer.model.tokenize(word))
        return n

    def prefix_counter(self) -> "PrefixTokenCounter":
        """A :class:`PrefixTokenCounter` of this tokenizer, empty."""
        return PrefixTokenCounter(self)

    def decode(self, ids: Union[np.ndarray, Iterable[int]]) -> str:
        """Text of a sequence of token ids.

        A sequence that :meth:`encode` produced decodes to the original text
        exactly. Any other sequence still decodes: bytes that do not form
        valid UTF-8 (a token sequence cut inside a multi-byte character)
        become U+FFFD.

        Parameters
        ----------
        ids : array-like of int, shape ``(n,)``
            Ids in ``[0, vocab_size)``.

        Returns
        -------
        str

        Raises
        ------
        ValueError
            An id lies outside ``[0, vocab_size)``.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = ids[(ids < 0) | (ids >= self.vocab_size)][0]
            raise ValueError(f"token id {bad} outside [0, {self.vocab_size})")
        return self._tokenizer.decode(ids.tolist(), skip_special_tokens=False)

    # -- text <-> frames ------------------------------------------------------

    def encode_frame(self, text: str) -> TokenFrame:
        """Tokenize ``text`` into a text :class:`TokenFrame`.

        Returns
        -------
        TokenFrame
            ``ids`` of shape ``(n,)`` and dtype ``int64``, ``modality`` TEXT,
            ``shape == (n,)``, ``bits_per_token == self.bits_per_token``,
            nothing erased.
        """
        ids = self.encode(text)
        return TokenFrame(ids=ids, modality=Modality.TEXT, shape=(ids.size,),
                          bits_per_token=self.bits_per_token,
                          tokenizer=tokenizer_id(Modality.TEXT, self.name))

    def decode_frame(self, frame: TokenFrame, erased_marker: str = ERASED_MARKER) -> str:
        """Text of a received frame, with a visible marker for each erased token.

        Each maximal run of trusted tokens is decoded on its own, and every
        erased token becomes one ``erased_marker``, so a reader sees where and
        how many tokens were lost. An id outside ``[0, vocab_size)`` (possible
        only when the vocabulary is not a power of two) cannot be a sent
        token, so it is shown as erased too.

        Parameters
        ----------
        frame : TokenFrame
            A TEXT frame whose ``bits_per_token`` matches this tokenizer.
        erased_marker : str
            Text shown for one erased token.

        Returns
        -------
        str
            Equals ``decode(frame.ids)`` when nothing is erased.
        """
        if frame.modality != Modality.TEXT:
            raise ValueError(f"expected a TEXT frame, got {frame.modality.name}")
        if frame.bits_per_token != self.bits_per_token:
            raise ValueError(
                f"frame uses {frame.bits_per_token} bits per token but this tokenizer "
                f"uses {self.bits_per_token}; was it encoded with another vocabulary?")
        ids = frame.ids
        unusable = frame.erased | (ids < 0) | (ids >= self.vocab_size)
        if not unusable.any():
            return self.decode(ids)
        pieces = []
        run_start = 0
        for position in np.flatnonzero(unusable):
            if position > run_start:
                pieces.append(self.decode(ids[run_start:position]))
            pieces.append(erased_marker)
            run_start = position + 1
        if run_start < ids.size:
            pieces.append(self.decode(ids[run_start:]))
        return "".join(pieces)

    # -- helpers --------------------------------------------------------------

    def token_bytes(self, token_id: int) -> bytes:
        """The UTF-8 bytes that one id stands for (a fragment of a character
        for some ids)."""
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"token id {token_id} outside [0, {self.vocab_size})")
        piece = self._tokenizer.id_to_token(int(token_id))
        return bytes(_BYTE_OF_CHAR[char] for char in piece)

    def to_str(self) -> str:
        """The tokenizer as JSON text (what :meth:`from_str` reads)."""
        return self._tokenizer.to_str()

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the tokenizer JSON to ``path`` (compact, one line)."""
        self._tokenizer.save(str(path), pretty=False)

    def __repr__(self) -> str:
        return f"TextTokenizer(vocab_size={self.vocab_size}, bits_per_token={self.bits_per_token})"


# ByteLevel maps byte b to a printable character; alphabet() lists the 256
# characters but not which byte each encodes, so rebuild the mapping the
# pre-tokenizer uses: printable Latin-1 bytes map to themselves, the others to
# U+0100 upwards in byte order.
def _byte_level_table() -> dict:
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
                 + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    table = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + extra)] = b
            extra += 1
    return table


_BYTE_OF_CHAR = _byte_level_table()
assert set(_BYTE_OF_CHAR) == set(ByteLevel.alphabet()), "ByteLevel alphabet changed"


def _check_lossless_config(config: dict, source: str) -> None:
    """Raise :class:`TokenizerFileError` unless ``config`` (a tokenizer JSON
    as a dict) is a byte-level BPE whose decode inverts its encode."""

    def fail(reason: str) -> None:
        raise TokenizerFileError(f"{source} is not a lossless byte-level BPE tokenizer: {reason}")

    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        fail("no 'model' section")
    model = config["model"]
    if model.get("type") != "BPE":
        fail(f"model type is {model.get('type')!r}, expected 'BPE'")
    if model.get("dropout") not in (None, 0, 0.0):
        fail("BPE dropout is set, which makes encoding random")
    if config.get("normalizer") is not None:
        fail("it has a normalizer, which would change the text")
    if config.get("added_tokens"):
        fail("it has added/special tokens; the vocabulary must be pure BPE")
    pre = config.get("pre_tokenizer") or {}
    if pre.get("type") != "ByteLevel" or pre.get("add_prefix_space"):
        fail(f"pre-tokenizer must be ByteLevel(add_prefix_space=False), got {pre or None}")
    decoder = config.get("decoder") or {}
    if decoder.get("type") != "ByteLevel":
        fail(f"decoder must be ByteLevel, got {decoder or None}")
    post = config.get("post_processor")
    if post is not None and post.get("type") != "ByteLevel":
        fail(f"post-processor {post.get('type')!r} would add tokens")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab:
        fail("empty or missing vocabulary")
    if sorted(vocab.values()) != list(range(len(vocab))):
        fail("token ids are not exactly 0 .. vocab_size-1")
    missing = [c for c in ByteLevel.alphabet() if c not in vocab]
    if missing:
        fail(f"{len(missing)} of the 256 byte characters are missing from the vocabulary")


class PrefixTokenCounter:
    """Token counts of a text that grows at its end, each step at the cost
    of the appended piece, not of the whole text.

    Cutting text into messages of a token budget asks for the count of every
    longer prefix; encoding each prefix anew costs time quadratic in the
    message length. The pre-tokenizer (GPT-2's word regex, no look-behind)
    splits a string from left to right, so appending text can change only
    the words that reach the string's end: the last one (a trailing
    whitespace run gives its last character to the next word). The counter
    keeps the count of all words but the last two (a margin of one) and
    re-splits only those two plus what is appended.

    Parameters
    ----------
    tokenizer : TextTokenizer
    """

    #: Words at the end that are split again with every appended piece.
    TAIL_WORDS = 2

    def __init__(self, tokenizer: TextTokenizer):
        self._tokenizer = tokenizer
        self.clear()

    def clear(self) -> None:
        """Back to the empty text."""
        self._settled = 0  # tokens of the words before the tail
        self._tail = ""

    def count_with(self, piece: str = "") -> int:
        """Tokens of the text with ``piece`` appended (the text is unchanged)."""
        return self._settled + self._tokenizer.count(self._tail + piece)

    def append(self, piece: str) -> None:
        """Append ``piece`` to the text."""
        text = self._tail + piece
        words = self._tokenizer._words(text)
        if len(words) <= self.TAIL_WORDS:
            self._tail = text
            return
        cut = words[-self.TAIL_WORDS][1][0]
        self._settled += sum(self._tokenizer._word_count(word) for word, _ in words[:-self.TAIL_WORDS])
        self._tail = text[cut:]
