"""Wire ids of the tokenizers, as packet headers name them.

A receiver detokenizes a message with the tokenizer its packets name: one
byte of every packet header (:mod:`tokencom_sdr.link.packet`), read together
with the modality. The embedded default tokenizers have fixed ids; any other
tokenizer is sent as :data:`CUSTOM_TOKENIZER`, and the receiver must be given
it.

==========  ==  =============================================
modality    id  tokenizer
==========  ==  =============================================
text        0   byte-level BPE, 4096 ids (``TextTokenizer.default()``)
image       0   VQ ``standard`` (f=4, 512 codes)
image       1   VQ ``low-rate`` (f=8, 1024 codes)
any         255 not one of these (``CUSTOM_TOKENIZER``)
==========  ==  =============================================
"""

from typing import Optional

from .frame import Modality

__all__ = ["CUSTOM_TOKENIZER", "TOKENIZER_IDS", "tokenizer_id", "tokenizer_name"]

#: Id of a tokenizer the table does not name.
CUSTOM_TOKENIZER = 255

#: ``{modality: {name: wire id}}`` of the embedded default tokenizers.
TOKENIZER_IDS = {
    Modality.TEXT: {"bpe-4096": 0},
    Modality.IMAGE: {"standard": 0, "low-rate": 1},
}


def tokenizer_id(modality: Modality, name: str) -> int:
    """Wire id of tokenizer ``name`` for ``modality`` (:data:`CUSTOM_TOKENIZER`
    if it is not an embedded default)."""
    return TOKENIZER_IDS[Modality(modality)].get(name, CUSTOM_TOKENIZER)


def tokenizer_name(modality: Modality, wire_id: int) -> Optional[str]:
    """Name of the embedded tokenizer with ``wire_id``, or None if there is none."""
    for name, known in TOKENIZER_IDS[Modality(modality)].items():
        if known == wire_id:
            return name
    return None
