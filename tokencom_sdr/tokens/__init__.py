"""Tokens: sources to token ids and back, and the frame that carries them.

* :class:`TokenFrame`, :class:`Modality` (:mod:`.frame`); received soft
  values :class:`ReceivedFrame`, :class:`SoftTokenInfo` (:mod:`.soft`).
* :class:`TextTokenizer` (:mod:`.text_bpe`): byte-level BPE, 4096 ids.
* :class:`ImageTokenizer` (:mod:`.image_vq`): VQ-VAE image tokens.
* :mod:`.registry`: the tokenizers' wire ids, as packet headers name them.

No training code lives here (see :mod:`tokencom_sdr.training`).
"""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "TokenFrame": ".frame", "Modality": ".frame",
    "ReceivedFrame": ".soft", "SoftTokenInfo": ".soft",
    "TextTokenizer": ".text_bpe", "ERASED_MARKER": ".text_bpe",
    "ImageTokenizer": ".image_vq",
    "tokenizer_id": ".registry", "tokenizer_name": ".registry",
    "CUSTOM_TOKENIZER": ".registry",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
